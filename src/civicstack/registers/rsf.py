"""RSF, the Register Serialisation Format: strict parser, serialiser, atomic import and export.

Source: registers RFC "The Register Serialisation Format" (openregister/registers-rfcs,
``content/rsf-spec``), the format of GOV.UK's ``download-rsf`` and of the 2021 archive. One
command per line, arguments separated by TAB::

    assert-root-hash  TAB hash
    add-item          TAB <canonical item JSON>
    append-entry      TAB ("user" / "system") TAB key TAB timestamp TAB hash *(";" hash)

``hash`` is ``sha-256:`` and 64 lower-case hex digits (upper case would give a second spelling
of the same hash); ``timestamp`` is ``YYYY-MM-DDThh:mm:ssZ``. Lines end in LF (a CR before it is
tolerated, as the RFC's ABNF says CRLF: it can never be part of a command). The RFC's validation
rules, applied in order (see :mod:`civicstack.registers.batch` for the per-entry checks):

1. commands run top to bottom; entries are numbered on from the register's last entry;
2. an ``append-entry`` names only items introduced earlier (``hash_mismatch``);
3. no orphan items: an ``add-item`` no entry references is dropped and reported (GOV.UK's own
   exports had some, so failing on them would refuse its data);
4. the item in ``add-item`` is in canonical form (``invalid_item``);
5. ``assert-root-hash`` equals the root over the user entries so far (``root_hash_mismatch``);
6. the whole file is one transaction: any failure leaves the register as it was.

Every error raised while reading a file is a :class:`~civicstack.registers.batch.LineError`
carrying the 1-based line number and the inner code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.registers.batch import Changeset, LineError, RegisterBatch, at_line
from civicstack.registers.canonical import Item
from civicstack.registers.entries import (
    ITEM_HASH_RE,
    TIMESTAMP_RE,
    Entry,
    Scope,
)
from civicstack.registers.limits import DEFAULT_LIMITS, Limits
from civicstack.registers.register import Register
from civicstack.registers.schema import KEY_RE, SYSTEM_KEY_RE
from civicstack.types import RegisterLinks

_ROOT_RE = re.compile(rb"sha-256:([0-9a-f]{64})")
_SCOPES = {b"user": Scope.USER, b"system": Scope.SYSTEM}


@dataclass(frozen=True, slots=True)
class AddItem:
    """``add-item``: introduce an item."""

    item: Item
    line: int = 0

    def rsf(self) -> str:
        """The line, without its newline."""
        return "add-item\t" + self.item.text()


@dataclass(frozen=True, slots=True)
class AppendEntry:
    """``append-entry``: append an entry naming items already introduced."""

    scope: Scope
    key: str
    timestamp: str
    item_hashes: tuple[str, ...]
    line: int = 0

    def rsf(self) -> str:
        """The line, without its newline."""
        hashes = ";".join(self.item_hashes)
        return f"append-entry\t{self.scope.value}\t{self.key}\t{self.timestamp}\t{hashes}"


@dataclass(frozen=True, slots=True)
class AssertRootHash:
    """``assert-root-hash``: the GOV.UK root over the user entries at this point."""

    root: bytes
    line: int = 0

    def rsf(self) -> str:
        """The line, without its newline."""
        return "assert-root-hash\tsha-256:" + self.root.hex()


Command = AddItem | AppendEntry | AssertRootHash


def _bad(detail: str) -> InputError:
    return InputError("invalid_rsf", detail)


def _lines(source: bytes | BinaryIO | Iterable[bytes], limits: Limits) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > limits.max_rsf_bytes:
            raise InputError("too_large", f"RSF exceeds {limits.max_rsf_bytes} bytes")
        pieces = data.split(b"\n")
        if pieces[-1] == b"":
            pieces.pop()
        yield from pieces
        return
    readline = getattr(source, "readline", None)
    chunks: Iterable[bytes]
    if readline is not None:
        # readline(limit) keeps one hostile line from being read whole into memory.
        chunks = iter(lambda: readline(limits.max_rsf_line_bytes + 2), b"")
    else:
        chunks = source
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limits.max_rsf_bytes:
            raise InputError("too_large", f"RSF exceeds {limits.max_rsf_bytes} bytes")
        line = chunk[:-1] if chunk.endswith(b"\n") else chunk
        if b"\n" in line:
            raise _bad("an input chunk holds more than one line")
        yield line


def parse_rsf(
    source: bytes | BinaryIO | Iterable[bytes], *, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Command]:
    """Parse RSF strictly, one command per line, checking the grammar and the caps.

    ``source`` is the whole file as bytes, a binary stream, or an iterable of lines. Raises a
    :class:`LineError` (``invalid_rsf``, ``invalid_item`` or ``too_large``) naming the line.
    """
    for number, raw in enumerate(_lines(source, limits), start=1):
        if number > limits.max_rsf_lines:
            raise at_line(InputError("too_large", f"over {limits.max_rsf_lines} lines"), number)
        try:
            yield _parse_line(raw, number, limits)
        except CivicError as exc:
            raise at_line(exc, number) from None


def _parse_line(raw: bytes, number: int, limits: Limits) -> Command:
    if len(raw) > limits.max_rsf_line_bytes:
        raise InputError("too_large", f"line exceeds {limits.max_rsf_line_bytes} bytes")
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if not raw:
        raise _bad("empty line")
    parts = raw.split(b"\t")
    command = parts[0]
    if command == b"add-item":
        if len(parts) != 2:
            raise _bad("add-item takes one argument: the item's canonical JSON")
        return AddItem(Item.from_json(parts[1], limits=limits), number)
    if command == b"append-entry":
        return _parse_append_entry(parts, number, limits)
    if command == b"assert-root-hash":
        if len(parts) != 2:
            raise _bad("assert-root-hash takes one argument: the root hash")
        match = _ROOT_RE.fullmatch(parts[1])
        if match is None:
            raise _bad("the root hash is sha-256: and 64 lower-case hex digits")
        return AssertRootHash(bytes.fromhex(match.group(1).decode("ascii")), number)
    shown = command[:40].decode("utf-8", "replace")
    raise _bad(f"unknown command {shown!r}")


def _parse_append_entry(parts: list[bytes], number: int, limits: Limits) -> AppendEntry:
    if len(parts) != 5:
        raise _bad("append-entry takes four arguments: type, key, timestamp, hashes")
    scope = _SCOPES.get(parts[1])
    if scope is None:
        raise _bad("the entry type is user or system")
    try:
        key, timestamp, hashes = (p.decode("ascii") for p in parts[2:])
    except UnicodeDecodeError:
        raise _bad("key, timestamp and hashes are ASCII") from None
    pattern = KEY_RE if scope is Scope.USER else SYSTEM_KEY_RE
    if len(key) > limits.max_key_length or pattern.fullmatch(key) is None:
        raise _bad(f"{scope.value} key {key!r} is not valid")
    if TIMESTAMP_RE.fullmatch(timestamp) is None:
        raise _bad(f"timestamp {timestamp!r} is not YYYY-MM-DDThh:mm:ssZ")
    item_hashes = tuple(hashes.split(";"))
    if len(item_hashes) > limits.max_entry_items:
        raise _bad(f"an entry names at most {limits.max_entry_items} items")
    for item_hash in item_hashes:
        if ITEM_HASH_RE.fullmatch(item_hash) is None:
            raise _bad(f"{item_hash!r} is not sha-256: and 64 lower-case hex digits")
    return AppendEntry(scope, key, timestamp, item_hashes, number)


def stage_rsf(
    batch: RegisterBatch,
    source: bytes | BinaryIO | Iterable[bytes],
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> int:
    """Apply the commands of an RSF file to ``batch``; return the number of lines read."""
    lines = 0
    for command in parse_rsf(source, limits=limits):
        lines = command.line
        if isinstance(command, AddItem):
            batch.add_item(command.item)
        elif isinstance(command, AppendEntry):
            batch.append(
                command.scope,
                command.key,
                command.timestamp,
                command.item_hashes,
                line=command.line,
            )
        else:
            batch.assert_root_hash(command.root, line=command.line)
    return lines


@dataclass(frozen=True, slots=True)
class RSFImport:
    """The outcome of an import: the register and the changes applied to it."""

    register: Register
    changes: Changeset


def import_rsf(
    source: bytes | BinaryIO | Iterable[bytes],
    *,
    links: RegisterLinks,
    into: Register | None = None,
    name: str | None = None,
    unsafe_allow_dangling_links: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> RSFImport:
    """Import an RSF file into a new register (or ``into`` an existing one), atomically.

    ``links`` answers for the registers this one links to; ``name``, when given, must be the
    register's name. Raises :class:`LineError` for anything wrong with a line; the register is
    unchanged unless the whole file is valid.
    """
    register = into if into is not None else Register()
    batch = register.batch(name=name)
    stage_rsf(batch, source, limits=limits)
    if batch.head.name is None:
        raise VerificationError("invalid_schema", "the RSF has no 'name' system entry")
    changes = register.commit(batch, links, unsafe_allow_dangling_links=unsafe_allow_dangling_links)
    return RSFImport(register, changes)


def serialise_rsf(
    entries: Iterable[Entry],
    item: Callable[[str], Item | None],
    *,
    root_before: bytes,
    root_after: bytes,
) -> Iterator[str]:
    """RSF lines (each ending in LF) for ``entries``, between two ``assert-root-hash`` lines.

    Each item (looked up with ``item``) is written just before the first entry naming it. The
    storage adapter streams a register from its database through this.
    """
    yield AssertRootHash(root_before).rsf() + "\n"
    emitted: set[str] = set()
    for entry in entries:
        for item_hash in entry.item_hashes:
            if item_hash not in emitted:
                emitted.add(item_hash)
                found = item(item_hash)
                if found is None:
                    raise CivicError("internal_error", f"entry {entry.position} lacks {item_hash}")
                yield AddItem(found).rsf() + "\n"
        yield entry.rsf() + "\n"
    yield AssertRootHash(root_after).rsf() + "\n"


def export_rsf(register: Register, *, start: int = 0) -> Iterator[str]:
    """RSF lines for the register log from position ``start`` to its end.

    The first line asserts the root before ``start`` (the empty tree's for a full export, as
    GOV.UK's files do) and the last the current root, so another import checks the whole file.
    """
    if not 0 <= start <= register.size:
        raise CivicError("not_found", f"no log position {start}")
    entries = register.entries(start=start)
    before = register.user_count - sum(1 for entry in entries if entry.scope is Scope.USER)
    return serialise_rsf(
        entries,
        register.item,
        root_before=register.root_hash(before),
        root_after=register.root_hash(),
    )


__all__ = [
    "AddItem",
    "AppendEntry",
    "AssertRootHash",
    "Command",
    "LineError",
    "RSFImport",
    "export_rsf",
    "import_rsf",
    "parse_rsf",
    "serialise_rsf",
    "stage_rsf",
]
