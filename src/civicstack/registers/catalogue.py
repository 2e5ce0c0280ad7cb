"""A set of registers that link to each other, imported and checked together.

Registers link in cycles (the ``field`` register's ``register`` field names records of the
``register`` register, whose ``fields`` name records of the ``field`` register), so linked RSF
files are imported as one transaction: every file is staged, then every link is resolved against
the staged state of all of them plus the registers already held, then all are applied. One bad
line in any file leaves every register as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from types import MappingProxyType
from typing import BinaryIO

from civicstack.errors import CivicError, VerificationError
from civicstack.registers.batch import Changeset, LineError, RegisterBatch
from civicstack.registers.register import Register
from civicstack.registers.rsf import RSFLimits, stage_rsf
from civicstack.types import RegisterLinks

RSFSource = bytes | BinaryIO | Iterable[bytes]


class NoRegisters:
    """A :class:`~civicstack.types.RegisterLinks` that knows no register: every link dangles."""

    def has_register(self, name: str) -> bool:
        """Always ``False``."""
        return False

    def missing_keys(self, register: str, keys: Set[str]) -> Set[str]:
        """Every key."""
        return set(keys)


class Catalogue:
    """Registers by name, answering link lookups across them (and ``external`` beyond)."""

    def __init__(self, external: RegisterLinks | None = None) -> None:
        self._registers: dict[str, Register] = {}
        self._external: RegisterLinks = external or NoRegisters()

    @property
    def registers(self) -> Mapping[str, Register]:
        """The registers held, by name."""
        return MappingProxyType(self._registers)

    def get(self, name: str) -> Register:
        """The register called ``name``; raises ``not_found``."""
        register = self._registers.get(name)
        if register is None:
            raise CivicError("not_found", f"no register {name!r}")
        return register

    def has_register(self, name: str) -> bool:
        """Whether the catalogue (or the external lookup) has a register called ``name``."""
        return name in self._registers or self._external.has_register(name)

    def missing_keys(self, register: str, keys: Set[str]) -> Set[str]:
        """The keys with no record in ``register``."""
        held = self._registers.get(register)
        if held is not None:
            return held.missing_keys(keys)
        return self._external.missing_keys(register, keys)

    def import_rsf(
        self,
        sources: Mapping[str, RSFSource],
        *,
        unsafe_allow_dangling_links: Set[str] | bool = False,
        limits: RSFLimits | None = None,
    ) -> dict[str, Changeset]:
        """Import RSF files (by register name) as one transaction; return each one's changes.

        A name already held gets the file appended as a patch. Dangling links fail the import
        except in the registers named in ``unsafe_allow_dangling_links`` (or all, with
        ``True``), where they are reported in the changeset. Errors name the register and line.
        """
        batches: dict[str, RegisterBatch] = {}
        targets: dict[str, Register] = {}
        for name, source in sources.items():
            register = self._registers.get(name) or Register()
            batch = register.batch(name=name)
            try:
                stage_rsf(batch, source, limits=limits)
                if batch.head.name is None:
                    raise VerificationError("invalid_schema", "the RSF has no 'name' entry")
            except CivicError as exc:
                raise _in_register(exc, name) from None
            batches[name] = batch
            targets[name] = register
        staged = _StagedLinks(self, batches)
        changes: dict[str, Changeset] = {}
        for name, batch in batches.items():
            tolerate = (
                unsafe_allow_dangling_links
                if isinstance(unsafe_allow_dangling_links, bool)
                else name in unsafe_allow_dangling_links
            )
            try:
                changes[name] = batch.close(staged, unsafe_allow_dangling_links=tolerate)
            except CivicError as exc:
                raise _in_register(exc, name) from None
        # Every check has passed; applying cannot fail part-way.
        for name, change in changes.items():
            targets[name].apply(change)
            self._registers[name] = targets[name]
        return changes


def _in_register(error: CivicError, name: str) -> LineError:
    if isinstance(error, LineError):
        return LineError(error.inner, error.line, name)
    return LineError(error, None, name)


class _StagedLinks:
    """Link lookups that see the batches being imported on top of the catalogue."""

    def __init__(self, catalogue: Catalogue, batches: Mapping[str, RegisterBatch]) -> None:
        self._catalogue = catalogue
        self._batches = batches

    def has_register(self, name: str) -> bool:
        return name in self._batches or self._catalogue.has_register(name)

    def missing_keys(self, register: str, keys: Set[str]) -> Set[str]:
        batch = self._batches.get(register)
        if batch is not None:
            return batch.missing_keys(keys)
        return self._catalogue.missing_keys(register, keys)
