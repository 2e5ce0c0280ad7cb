"""A set of registers that link to each other, changed and checked together.

Registers link in cycles (the ``field`` register's ``register`` field names records of the
``register`` register, whose ``fields`` name records of the ``field`` register), so every change
that spans registers is one transaction: each register's batch is staged, then every link is
resolved against the staged state of all of them plus the registers already held, then all are
applied. One bad line in any file leaves every register as it was. Creating a register or adding
a field also records it in the ``register``, ``field`` and ``datatype`` registers (see
:mod:`civicstack.registers.define`), in the same transaction.

The rules live in :class:`LinkedRegisters`, generic over where registers are kept: the in-memory
:class:`Catalogue` holds :class:`~civicstack.registers.register.Register` objects, and the storage
adapter (``civicstack.stores.registers``) runs the same rules over database-backed registers
inside one database transaction. A storage provides three things: :meth:`LinkedRegisters.lookup`,
:meth:`LinkedRegisters.new_register`, and registers that apply a changeset (``apply``) without
failing part-way once every batch has closed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from types import MappingProxyType
from typing import Any, BinaryIO, Generic, Protocol, TypeVar

from civicstack.errors import CivicError, VerificationError
from civicstack.registers.batch import Changeset, LineError, RegisterBase, RegisterBatch
from civicstack.registers.canonical import Item
from civicstack.registers.datatypes import Datatype
from civicstack.registers.define import (
    DATATYPE_TEXT,
    METADATA_FIELDS,
    METADATA_REGISTERS,
    stage_definition,
    stage_new_field,
)
from civicstack.registers.entries import Record, Scope
from civicstack.registers.limits import DEFAULT_LIMITS, Limits
from civicstack.registers.register import Register
from civicstack.registers.rsf import stage_rsf
from civicstack.registers.schema import Field, RegisterDefinition, Schema, check_field_change
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


class CatalogueRegister(RegisterBase, Protocol):
    """What the catalogue rules need of a register, wherever it is kept."""

    def batch(self, *, name: str | None = None) -> RegisterBatch:
        """A batch staged on this register."""
        ...

    def apply(self, changes: Changeset) -> None:
        """Apply a closed changeset built on the current head (raise ``conflict`` otherwise)."""
        ...

    def record(self, key: str) -> Record | None:
        """The user record for ``key``."""
        ...

    @property
    def schema(self) -> Schema:
        """The schema in force."""
        ...


R = TypeVar("R", bound=CatalogueRegister)


class LinkedRegisters(ABC, Generic[R]):
    """The rules of changing linked registers together, over any storage of registers.

    Implements :class:`~civicstack.types.RegisterLinks` for the registers it can look up (and
    ``external`` beyond them).
    """

    def __init__(self, external: RegisterLinks | None = None) -> None:
        self._external: RegisterLinks = external or NoRegisters()

    @abstractmethod
    def lookup(self, name: str) -> R | None:
        """The register called ``name``, if the storage holds it."""

    @abstractmethod
    def new_register(self, name: str) -> R:
        """An empty register to stage a new register ``name`` on (kept once applied)."""

    def applied(self, name: str, register: R) -> None:
        """Called after ``register`` took its changes (a storage may start holding it)."""

    def has_register(self, name: str) -> bool:
        """Whether the storage (or the external lookup) has a register called ``name``."""
        return self.lookup(name) is not None or self._external.has_register(name)

    def missing_keys(self, register: str, keys: Set[str]) -> Set[str]:
        """The keys with no record in ``register``."""
        held = self.lookup(register)
        if held is not None:
            return held.missing_keys(keys)
        return self._external.missing_keys(register, keys)

    def import_rsf(
        self,
        sources: Mapping[str, RSFSource],
        *,
        unsafe_allow_dangling_links: Set[str] | bool = False,
        limits: Limits = DEFAULT_LIMITS,
        review: Callable[[Changeset], None] | None = None,
    ) -> dict[str, Changeset]:
        """Import RSF files (by register name) as one transaction; return each one's changes.

        A name already held gets the file appended as a patch. Dangling links fail the import
        except in the registers named in ``unsafe_allow_dangling_links`` (or all, with
        ``True``), where they are reported in the changeset. Errors name the register and line.
        ``review`` sees each validated changeset before anything is applied and may refuse it
        (for example :func:`~civicstack.registers.custodians.check_custodian_change`).
        """
        staged: dict[str, tuple[R, RegisterBatch]] = {}
        for name, source in sources.items():
            _, batch = self._stage(name, staged)
            try:
                stage_rsf(batch, source, limits=limits)
                if batch.head.name is None:
                    raise VerificationError("invalid_schema", "the RSF has no 'name' entry")
            except CivicError as exc:
                raise _in_register(exc, name) from None
        return self._apply(staged, unsafe_allow_dangling_links, review)

    def create_register(
        self,
        name: str,
        fields: Sequence[Field],
        *,
        now: int,
        custodian: str | None = None,
        title: str | None = None,
        text: str | None = None,
        registry: str | None = None,
        phase: str | None = None,
        metadata: Mapping[str, Item] | None = None,
        records: Sequence[tuple[str, Sequence[Item]]] = (),
    ) -> dict[str, Changeset]:
        """Create a register, and describe it in the ``register``, ``field`` and ``datatype``
        registers when the catalogue holds them, in one transaction.

        ``metadata`` adds further system entries after the definition (key -> item; for
        example ``synthetic``), inside the register's log like the rest of its metadata;
        ``records`` its first user entries, one per ``(key, items)``, in the same batch.
        Raises ``conflict`` when the register exists or a field is already defined otherwise
        (fields are shared: reuse :meth:`field`), ``invalid_schema`` for a bad definition.
        """
        if self.lookup(name) is not None:
            raise CivicError("conflict", f"register {name!r} exists")
        staged: dict[str, tuple[R, RegisterBatch]] = {}
        _, batch = self._stage(name, staged)
        definition = stage_definition(
            batch,
            name,
            fields,
            now=now,
            custodian=custodian,
            title=title,
            text=text,
            registry=registry,
            phase=phase,
        )
        for key, item in (metadata or {}).items():
            batch.append_items(Scope.SYSTEM, key, [item], now=now)
        for key, items in records:
            batch.append_items(Scope.USER, key, items, now=now)
        self._describe(staged, name, definition, fields, now=now)
        return self._apply(staged, False)

    def add_field(self, register: str, field: Field, *, now: int) -> dict[str, Changeset]:
        """Add a field to a register (RFC 0001) and describe it, in one transaction."""
        if self.lookup(register) is None:
            raise CivicError("not_found", f"no register {register!r}")
        staged: dict[str, tuple[R, RegisterBatch]] = {}
        _, batch = self._stage(register, staged)
        definition = stage_new_field(batch, field, now=now)
        self._describe(staged, register, definition, [field], now=now)
        return self._apply(staged, False)

    def field(self, name: str) -> Field | None:
        """The definition of field ``name`` in the ``field`` register, if held."""
        held = self.lookup("field")
        record = held.record(name) if held is not None else None
        return Field.from_item(record.item) if record is not None else None

    def create_metadata_registers(
        self, *, now: int, registry: str | None = None
    ) -> dict[str, Changeset]:
        """Create the self-describing ``datatype``, ``field`` and ``register`` registers, in one
        transaction: the start of an installation that does not import GOV.UK's.

        Raises ``conflict`` when any of them exists.
        """
        present = sorted(n for n in METADATA_REGISTERS if self.lookup(n) is not None)
        if present:
            raise CivicError("conflict", f"metadata registers exist: {', '.join(present)}")
        staged: dict[str, tuple[R, RegisterBatch]] = {}
        for name, (field_names, text) in METADATA_REGISTERS.items():
            _, batch = self._stage(name, staged)
            fields = [METADATA_FIELDS[f] for f in field_names]
            stage_definition(
                batch, name, fields, now=now, text=text, registry=registry, phase="beta"
            )
        datatypes, field_register, register_register = (
            staged[n][1] for n in ("datatype", "field", "register")
        )
        for datatype, description in DATATYPE_TEXT.items():
            item = Item.of({"datatype": datatype.value, "phase": "beta", "text": description})
            datatypes.append_items(Scope.USER, datatype.value, [item], now=now)
        for field in METADATA_FIELDS.values():
            field_register.append_items(Scope.USER, field.name, [field.to_item()], now=now)
        for name, (field_names, text) in METADATA_REGISTERS.items():
            definition = RegisterDefinition(
                field_names, register=name, registry=registry, phase="beta", text=text
            )
            register_register.append_items(Scope.USER, name, [definition.to_item()], now=now)
        return self._apply(staged, False)

    def _stage(
        self, name: str, staged: dict[str, tuple[R, RegisterBatch]]
    ) -> tuple[R, RegisterBatch]:
        if name not in staged:
            held = self.lookup(name)
            register = held if held is not None else self.new_register(name)
            staged[name] = (register, register.batch(name=name))
        return staged[name]

    def _describe(
        self,
        staged: dict[str, tuple[R, RegisterBatch]],
        name: str,
        definition: RegisterDefinition,
        fields: Sequence[Field],
        *,
        now: int,
    ) -> None:
        # The metadata registers describe every register and field (and datatype) in use.
        register_register = self.lookup("register")
        if register_register is not None:
            item = definition.to_item()
            existing = register_register.record(name)
            if existing is None or existing.item != item:
                _, registers = self._stage("register", staged)
                registers.append_items(Scope.USER, name, [item], now=now)
        if self.lookup("field") is not None:
            for field in fields:
                known = self.field(field.name)
                if known is None:
                    _, field_batch = self._stage("field", staged)
                    field_batch.append_items(Scope.USER, field.name, [field.to_item()], now=now)
                check_field_change(field, known)
                if known is not None and known != field:
                    raise CivicError(
                        "conflict", f"field {field.name!r} is already defined differently"
                    )
        held = self.lookup("datatype")
        if held is not None:
            columns = held.schema.fields
            for value in sorted(held.missing_keys({f.datatype.value for f in fields})):
                described = {"datatype": value, "phase": "beta"}
                described["text"] = DATATYPE_TEXT[Datatype(value)]
                item = Item.of({k: v for k, v in described.items() if k in columns})
                _, datatype_batch = self._stage("datatype", staged)
                datatype_batch.append_items(Scope.USER, value, [item], now=now)

    def _check_shared_fields(self, changes: Changeset) -> None:
        # Fields are shared across registers (the ``field`` register): a ``field:<f>`` entry
        # may not retype the field it names there, as creating a register may not either.
        for key, items in changes.system_records.items():
            kind, _, subject = key.partition(":")
            if kind == "field" and subject and items:
                check_field_change(Field.from_item(items[0]), self.field(subject))

    def _apply(
        self,
        staged: Mapping[str, tuple[R, RegisterBatch]],
        unsafe_allow_dangling_links: Set[str] | bool,
        review: Callable[[Changeset], None] | None = None,
    ) -> dict[str, Changeset]:
        links = _StagedLinks(self, {name: batch for name, (_, batch) in staged.items()})
        changes: dict[str, Changeset] = {}
        for name, (_, batch) in staged.items():
            tolerate = (
                unsafe_allow_dangling_links
                if isinstance(unsafe_allow_dangling_links, bool)
                else name in unsafe_allow_dangling_links
            )
            try:
                change = changes[name] = batch.close(links, unsafe_allow_dangling_links=tolerate)
                self._check_shared_fields(change)
                if review is not None:
                    review(change)
            except CivicError as exc:
                raise _in_register(exc, name) from None
        # Every check has passed; applying cannot fail part-way.
        for name, change in changes.items():
            register = staged[name][0]
            register.apply(change)
            self.applied(name, register)
        return changes


class Catalogue(LinkedRegisters[Register]):
    """Registers held in memory, by name, answering link lookups across them."""

    def __init__(self, external: RegisterLinks | None = None) -> None:
        super().__init__(external)
        self._registers: dict[str, Register] = {}

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

    def lookup(self, name: str) -> Register | None:
        """The register called ``name``, if held."""
        return self._registers.get(name)

    def new_register(self, name: str) -> Register:
        """An empty in-memory register."""
        return Register()

    def applied(self, name: str, register: Register) -> None:
        """Hold ``register`` from now on."""
        self._registers[name] = register

    @classmethod
    def bootstrap(cls, *, now: int, registry: str | None = None) -> Catalogue:
        """A catalogue holding only the self-describing ``datatype``, ``field`` and ``register``
        registers: the start of an installation that does not import GOV.UK's."""
        catalogue = cls()
        catalogue.create_metadata_registers(now=now, registry=registry)
        return catalogue


def _in_register(error: CivicError, name: str) -> LineError:
    if isinstance(error, LineError):
        return LineError(error.inner, error.line, name)
    return LineError(error, None, name)


class _StagedLinks:
    """Link lookups that see the batches being imported on top of the catalogue."""

    def __init__(
        self, catalogue: LinkedRegisters[Any], batches: Mapping[str, RegisterBatch]
    ) -> None:
        self._catalogue = catalogue
        self._batches = batches

    def has_register(self, name: str) -> bool:
        return name in self._batches or self._catalogue.has_register(name)

    def missing_keys(self, register: str, keys: Set[str]) -> Set[str]:
        batch = self._batches.get(register)
        if batch is not None:
            return batch.missing_keys(keys)
        return self._catalogue.missing_keys(register, keys)
