"""The registers a platform starts with: GOV.UK's archive, and synthetic ones it needs.

:func:`seed_registers` runs at ``civic up`` (before any worker starts) and is idempotent and
cheap once done: it only reads the register names when everything is there.

1. The archived GOV.UK registers (``CIVIC_REGISTERS_ARCHIVE``, else the copy shipped in the
   package, :func:`default_archive`) are imported in ONE transaction, because
   they link to each other in cycles; each file's ``assert-root-hash`` lines are checked on the
   way. Five of them hold 36 links that named nothing even when GOV.UK published them: they
   are imported with ``unsafe_allow_dangling_links`` and recorded, so ``/registers/{name}``
   reports them. Without an archive, the self-describing ``datatype``, ``field`` and
   ``register`` registers are created instead.
2. The synthetic registers (:mod:`civicstack.registers.synthetic`), each created with all its
   records in one transaction, linked to the archive's local authorities and clinical
   commissioning groups when those exist, and marked ``synthetic`` inside their logs.
3. The synthetic registers' extensions (:func:`.synthetic_extensions`, e.g.
   ``accepting-new-patients`` on ``gp-practice``), each added through the register's own
   log when the register lacks the field: the field (RFC 0001 ``field:`` entry, described in the
   metadata registers), then new versions of the records carrying it. A register created before
   the extension existed gains it at the next start.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import civicstack
from civicstack.errors import CivicError
from civicstack.registers.canonical import Item
from civicstack.registers.define import METADATA_REGISTERS
from civicstack.registers.schema import Field
from civicstack.registers.synthetic import (
    SYNTHETIC_KEY,
    SyntheticSizes,
    synthetic_extensions,
    synthetic_marker,
    synthetic_registers,
)
from civicstack.services.registers.service import Registers

__all__ = ["SEED", "SeedProgress", "SeedReport", "default_archive", "seed_registers"]

#: The random seed of the synthetic registers: the same everywhere, so are their items.
SEED = 2026
#: Local authorities whose areas contain addresses (not counties or combined authorities).
_LOWER_TIER = {"UA", "MD", "LBO", "NMD"}


#: Told how far seeding has got: ``(stage, done, total)``, where stage is ``"archive"`` (bytes
#: of RSF read, in the one import transaction) or ``"synthetic"`` (registers created). An
#: adapter shows it (``civic up`` draws a progress bar); the service prints nothing.
SeedProgress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    """Seeding told to nobody."""


@dataclass
class SeedReport:
    """What a seeding run did."""

    imported: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    extended: list[str] = field(default_factory=list)
    dangling_links: dict[str, int] = field(default_factory=dict)
    archive: Path | None = None


#: The directory of the shipped archive, named as its source names it.
ARCHIVE_NAME = "gov-uk-registers-2021"


def default_archive() -> Path:
    """The archived GOV.UK registers shipped in the package (``registers/archive/``; source
    and licence in its README)."""
    return Path(civicstack.__file__).resolve().parent / "registers" / "archive" / ARCHIVE_NAME


def _compatible(ours: Field, theirs: Field) -> bool:
    return (ours.datatype, ours.cardinality, ours.register) == (
        theirs.datatype,
        theirs.cardinality,
        theirs.register,
    )


def seed_registers(
    registers: Registers,
    *,
    archive: Path | None,
    now: int,
    sizes: SyntheticSizes | None = None,
    progress: SeedProgress = _no_progress,
) -> SeedReport:
    """Bring the platform's registers up to the seeded set; a no-op when they are there.

    ``progress`` is told how far the archive import and the synthetic registers have got.
    """
    report = SeedReport(archive=archive)
    if archive is not None and not archive.is_dir():
        raise CivicError("io_error", f"the registers archive {archive} is not a directory")
    held = {head.name for head in registers.heads()}
    # 1. The archive, or the bare metadata registers.
    if archive is not None:
        sources = {p.stem: p for p in sorted(archive.glob("*.rsf"))}
        missing = {name: path for name, path in sources.items() if name not in held}
        if missing:
            contents = {name: path.read_bytes() for name, path in missing.items()}
            total = sum(len(data) for data in contents.values())
            read = 0

            def tick(n: int) -> None:
                nonlocal read
                read += n
                progress("archive", read, total)

            progress("archive", 0, total)
            changes = registers.import_rsf(
                {name: _counted(data, tick) for name, data in contents.items()},
                unsafe_allow_dangling_links=True,
            )
            report.imported = sorted(missing)
            report.dangling_links = {
                name: len(c.dangling_links) for name, c in changes.items() if c.dangling_links
            }
            held |= set(missing)
    if not held & set(METADATA_REGISTERS):
        registers.create_metadata_registers(now=now)
        held |= set(METADATA_REGISTERS)
    # 2. The synthetic registers, linked to what the archive holds.
    wanted = ("address", "company", "licensed-labour-provider", "gp-practice")
    if all(name in held for name in wanted):
        _extend(registers, held, now=now, report=report)
        return report
    synthetic = synthetic_registers(
        rng=random.Random(SEED),  # noqa: S311 - reproducible demo data, not secrets
        local_authorities=_local_authorities(registers, held),
        ccgs=_current_keys(registers, "clinical-commissioning-group", held),
        sizes=sizes,
    )
    todo = [register for register in synthetic if register.name not in held]
    progress("synthetic", 0, len(todo))
    for done, register in enumerate(todo, start=1):
        fields = []
        for ours in register.fields:
            # Fields are shared across registers: reuse the field register's definition.
            theirs = registers.field(ours.name)
            if theirs is not None and not _compatible(ours, theirs):
                raise CivicError(
                    "conflict", f"field {ours.name!r} is defined otherwise in the field register"
                )
            fields.append(theirs or ours)
        registers.create_register(
            register.name,
            fields,
            now=now,
            custodian=register.custodian,
            title=register.title,
            text=register.text,
            registry=register.registry,
            phase=register.phase,
            metadata={SYNTHETIC_KEY: synthetic_marker(SEED)},
            records=[(key, [item]) for key, item in register.records],
        )
        report.created.append(register.name)
        held.add(register.name)
        progress("synthetic", done, len(todo))
    _extend(registers, held, now=now, report=report)
    return report


def _extend(registers: Registers, held: set[str], *, now: int, report: SeedReport) -> None:
    """Step 3: add each extension's fields a held register lacks, then its records' new
    versions (one transaction each, so a register is never half-extended)."""
    for extension in synthetic_extensions():
        if extension.register not in held:
            continue
        head = registers.head(extension.register)
        described = registers.describe(head, full=True)
        have = {f["field"] for f in described.get("fields", ())}
        missing = [f for f in extension.fields if f.name not in have]
        if not missing:
            continue
        for ours in missing:
            theirs = registers.field(ours.name)
            if theirs is not None and not _compatible(ours, theirs):
                raise CivicError(
                    "conflict", f"field {ours.name!r} is defined otherwise in the field register"
                )
            registers.add_field(extension.register, theirs or ours, now=now)
        current = _current_records(registers, extension.register)
        rng = random.Random(f"{SEED}/{extension.register}")  # noqa: S311 - demo data
        updates = extension.update(rng, current)
        for start in range(0, len(updates), registers.limits.max_write_records):
            chunk = updates[start : start + registers.limits.max_write_records]
            registers.append(extension.register, [(k, [item]) for k, item in chunk], now=now)
        report.extended.append(extension.register)


def _counted(data: bytes, tick: Callable[[int], None]) -> Iterator[bytes]:
    """``data`` in lines (split at ``\\n`` only), telling ``tick`` each line's length as it is
    read."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        tick(end - start)
        yield data[start:end]
        start = end


def _current_records(registers: Registers, name: str) -> list[tuple[str, Item]]:
    head = registers.head(name)
    out: list[tuple[str, Item]] = []
    after: str | None = None
    while page := registers.records(head, after=after, limit=1000):
        out += [(r.entry.key, r.record().item) for r in page]
        after = page[-1].entry.key
    return out


def _current_keys(registers: Registers, name: str, held: set[str]) -> list[str]:
    if name not in held:
        return []
    head = registers.head(name)
    keys: list[str] = []
    after: str | None = None
    while page := registers.records(head, after=after, limit=1000):
        keys += [r.entry.key for r in page if "end-date" not in r.record().item.fields]
        after = page[-1].entry.key
    return keys


def _local_authorities(registers: Registers, held: set[str]) -> list[tuple[str, str]]:
    if "local-authority-eng" not in held:
        return []
    head = registers.head("local-authority-eng")
    out: list[tuple[str, str]] = []
    after: str | None = None
    while page := registers.records(head, after=after, limit=1000):
        for row in page:
            item = row.record().item
            if "end-date" not in item.fields and item.get("local-authority-type") in _LOWER_TIER:
                out.append((row.entry.key, str(item.get("name"))))
        after = page[-1].entry.key
    return out
