"""The registers service: who may write, and every write a register takes.

Use cases: create a register (admin), describe it in the metadata registers, add a field, append
a custodian's records, apply an RSF patch, import RSF files (new registers or patches, all in
one transaction), export RSF, issue custodian tokens (admin), and describe a register. Each
write is decided here, over the pure rules of :mod:`civicstack.registers`
(:class:`~civicstack.registers.LinkedRegisters`), and run by the store inside ONE transaction
(:meth:`RegisterStorage.write`) that also signs the register's new checkpoint.

Who may write: the platform's admin token may write anything; a custodian token (issued by the
admin, kept only as its SHA-256) may write the one register it was issued for. Creating a
register and issuing tokens are the admin's alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from civicstack._crypto import sha256_digest
from civicstack.errors import CivicError, InputError
from civicstack.log.note import b64std_encode
from civicstack.registers import (
    DEFAULT_LIMITS,
    Changeset,
    Field,
    Item,
    Limits,
    LinkedRegisters,
    RegisterDefinition,
    Scope,
)
from civicstack.registers.catalogue import RSFSource
from civicstack.registers.datatypes import NAME_RE
from civicstack.registers.define import METADATA_REGISTERS
from civicstack.registers.stored import DanglingRecord, RecordRow, StoredHead, first_value
from civicstack.registers.synthetic import SYNTHETIC_KEY

T = TypeVar("T")

#: Custodian tokens start with this, so a leaked one is recognisable (and scanners can find it).
TOKEN_PREFIX = "civic_reg_"  # noqa: S105 - a prefix, not a secret
_TOKEN_LENGTH = 128
_LABEL_LENGTH = 128


class LogState(Protocol):
    """What the service reads of a register's log."""

    @property
    def origin(self) -> str:
        """The log's C2SP origin."""
        ...

    @property
    def verifier_key(self) -> str:
        """The signed-note verifier key of the log."""
        ...

    @property
    def size(self) -> int:
        """The log's size."""
        ...

    @property
    def root(self) -> bytes:
        """The log's root hash."""
        ...

    @property
    def checkpoint(self) -> str:
        """The latest signed checkpoint."""
        ...


class RegisterStorage(Protocol):
    """What the service needs of a store (:class:`civicstack.stores.registers.RegisterStore`)."""

    def heads(self) -> list[StoredHead]:
        """Every register's head, by name."""
        ...

    def head(self, name: str) -> StoredHead:
        """The register's head; raises ``not_found``."""
        ...

    def field(self, name: str) -> Field | None:
        """The definition of field ``name`` in the ``field`` register."""
        ...

    def metadata(self, head: StoredHead) -> dict[str, tuple[Item, ...]]:
        """The register's system records."""
        ...

    def all_metadata(self) -> dict[int, dict[str, tuple[Item, ...]]]:
        """Every register's system records, by register id."""
        ...

    def dangling_links(self, head: StoredHead) -> list[DanglingRecord]:
        """The dangling links accepted when history was imported."""
        ...

    def records(
        self,
        head: StoredHead,
        *,
        after: str | None = None,
        limit: int = 100,
        where: Sequence[tuple[str, str]] = (),
    ) -> list[RecordRow]:
        """Records in key order after ``after``, filtered by field values."""
        ...

    def export_rsf(self, name: str) -> Iterator[str]:
        """The whole register as RSF lines."""
        ...

    def log_head(self, head: StoredHead) -> LogState:
        """The register's log."""
        ...

    def write(self, names: Iterable[str], change: Callable[[LinkedRegisters[Any]], T]) -> T:
        """Run ``change`` in one write transaction with the rows of ``names`` locked."""
        ...

    def add_custodian_token(
        self, head: StoredHead, token_hash: bytes, *, label: str, now: int
    ) -> None:
        """Keep the hash of a new custodian token of the register."""
        ...

    def custodian_register(self, token_hash: bytes) -> int | None:
        """The id of the register a custodian token (by its hash) writes to."""
        ...


class Registers:
    """The registers of a platform: its use cases over a :class:`RegisterStorage`."""

    def __init__(
        self,
        store: RegisterStorage,
        *,
        admin_check: Callable[[str | None], None],
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """``admin_check`` raises ``unauthorized`` unless given the admin token."""
        self.store = store
        self._admin_check = admin_check
        self.limits = limits

    # -- who may write --------------------------------------------------------------------

    def authorise(self, head: StoredHead | None, token: str | None) -> None:
        """Return if ``token`` may write: the admin token, or (for an existing register, given
        as ``head``) one of its custodian tokens; else raise ``unauthorized``."""
        try:
            self._admin_check(token)
            return
        except CivicError:
            if head is None or token is None or not self.is_custodian(head, token):
                raise CivicError(
                    "unauthorized", "writes need the admin token or the register's custodian token"
                ) from None

    def is_custodian(self, head: StoredHead, token: str) -> bool:
        """Whether ``token`` is a custodian token of this register."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > _TOKEN_LENGTH:
            return False
        return self.store.custodian_register(sha256_digest(token.encode())) == head.id

    def issue_custodian_token(self, name: str, *, label: str, now: int) -> str:
        """A new bearer token for writing to register ``name`` (only its hash is kept)."""
        head = self.store.head(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.store.add_custodian_token(
            head, sha256_digest(token.encode()), label=label[:_LABEL_LENGTH], now=now
        )
        return token

    # -- writes ---------------------------------------------------------------------------

    def append(
        self, name: str, records: Sequence[tuple[str, Sequence[Item]]], *, now: int
    ) -> Changeset:
        """A custodian's batch: one user entry per ``(key, items)``, validated (schema, links),
        written and signed into a new checkpoint together. Raises the domain's codes."""
        if len(records) > self.limits.max_write_records:
            raise InputError(
                "too_large", f"a write holds at most {self.limits.max_write_records} records"
            )

        def change(catalogue: LinkedRegisters[Any]) -> Changeset:
            register = catalogue.lookup(name)
            if register is None:
                raise CivicError("not_found", f"no register {name!r}")
            batch = register.batch(name=name)
            for key, items in records:
                batch.append_items(Scope.USER, key, items, now=now)
            changes: Changeset = batch.close(catalogue)
            register.apply(changes)
            return changes

        return self.store.write([name], change)

    def patch_rsf(self, name: str, data: bytes) -> Changeset:
        """Append an RSF patch to register ``name`` as one signed batch (all of it or none)."""
        cap = self.limits.max_rsf_patch_bytes
        if len(data) > cap:
            raise InputError("too_large", f"an RSF patch is at most {cap} bytes")
        limits = replace(self.limits, max_rsf_bytes=cap)
        return self.import_rsf({name: data}, limits=limits)[name]

    def import_rsf(
        self,
        sources: Mapping[str, RSFSource],
        *,
        unsafe_allow_dangling_links: Set[str] | bool = False,
        limits: Limits | None = None,
    ) -> dict[str, Changeset]:
        """Import RSF files (by register name) in one transaction; see ``Catalogue.import_rsf``.

        A name already held gets its file appended as a patch. Nothing is written unless every
        file is valid, every ``assert-root-hash`` holds and every link resolves.
        """
        for name in sources:
            if len(name) > self.limits.max_name_length or NAME_RE.fullmatch(name) is None:
                raise InputError("invalid_schema", f"{name[:80]!r} is not a register name")
        ordered = {name: sources[name] for name in sorted(sources)}
        return self.store.write(
            sources,
            lambda catalogue: catalogue.import_rsf(
                ordered,
                unsafe_allow_dangling_links=unsafe_allow_dangling_links,
                limits=limits or self.limits,
            ),
        )

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
        """Create a register, describe it in the metadata registers and append its first
        ``records``, all in one transaction (so a register never exists half-seeded)."""
        return self.store.write(
            [name, *METADATA_REGISTERS],
            lambda catalogue: catalogue.create_register(
                name,
                fields,
                now=now,
                custodian=custodian,
                title=title,
                text=text,
                registry=registry,
                phase=phase,
                metadata=metadata,
                records=records,
            ),
        )

    def add_field(self, register: str, field: Field, *, now: int) -> dict[str, Changeset]:
        """Add a field to a register (RFC 0001) and describe it, in one transaction."""
        return self.store.write(
            [register, *METADATA_REGISTERS],
            lambda catalogue: catalogue.add_field(register, field, now=now),
        )

    def create_metadata_registers(self, *, now: int) -> dict[str, Changeset]:
        """The self-describing ``datatype``, ``field`` and ``register`` registers."""
        return self.store.write(
            METADATA_REGISTERS,
            lambda catalogue: catalogue.create_metadata_registers(now=now),
        )

    # -- reads with rules -----------------------------------------------------------------

    def heads(self) -> list[StoredHead]:
        """Every register's head, by name."""
        return self.store.heads()

    def head(self, name: str) -> StoredHead:
        """The register's head; raises ``not_found``."""
        return self.store.head(name)

    def field(self, name: str) -> Field | None:
        """The definition of field ``name`` in the ``field`` register, if there is one."""
        return self.store.field(name)

    def records(
        self,
        head: StoredHead,
        *,
        after: str | None = None,
        limit: int = 100,
        where: Sequence[tuple[str, str]] = (),
    ) -> list[RecordRow]:
        """Records in key order after ``after`` (keyset pagination), each of whose ``where``
        fields holds the value (see :meth:`check_filters`)."""
        return self.store.records(head, after=after, limit=limit, where=where)

    def check_filters(self, head: StoredHead, where: Sequence[tuple[str, str]]) -> None:
        """Raise ``unknown_field`` for a filter on a field the register does not define."""
        meta = self.store.metadata(head)
        items = meta.get(f"register:{head.name}")
        known = set(RegisterDefinition.from_item(items[0]).fields) if items else set()
        for field_name, _ in where:
            if field_name not in known:
                raise CivicError(
                    "unknown_field", f"register {head.name!r} has no field {field_name!r}"
                )

    def export_rsf(self, name: str) -> Iterator[str]:
        """The whole register as RSF: the empty root asserted first, the current one last."""
        return self.store.export_rsf(name)

    def describe_all(self) -> list[tuple[StoredHead, dict[str, Any]]]:
        """Every register with its short description, by name (metadata read once)."""
        metadata = self.store.all_metadata()
        return [
            (h, self.describe(h, metadata.get(h.id, {}), full=False)) for h in self.store.heads()
        ]

    def describe(
        self, head: StoredHead, meta: Mapping[str, tuple[Item, ...]] | None = None, *, full: bool
    ) -> dict[str, Any]:
        """The register as JSON: definition, sizes, roots (``full``: fields, log, dangling
        links). ``meta`` is the register's system records (read here when not given)."""
        if meta is None:
            meta = self.store.metadata(head)
        definition_items = meta.get(f"register:{head.name}")
        definition = RegisterDefinition.from_item(definition_items[0]) if definition_items else None
        out: dict[str, Any] = {
            "name": head.name,
            "title": first_value(meta.get("register-name"), "register-name"),
            "text": definition.text if definition else None,
            "registry": definition.registry if definition else None,
            "phase": definition.phase if definition else None,
            "custodian": first_value(meta.get("custodian"), "custodian"),
            "copyright": definition.copyright if definition else None,
            "synthetic": SYNTHETIC_KEY in meta,
            "records": head.record_count,
            "entries": {"user": head.user_count, "system": head.system_count},
            "root-hash": "sha-256:" + head.root.hex(),
        }
        if not full:
            return out
        fields = []
        for name in definition.fields if definition else ():
            field_items = meta.get(f"field:{name}")
            if field_items:
                f = Field.from_item(field_items[0])
                fields.append(
                    {
                        "field": f.name,
                        "datatype": f.datatype.value,
                        "cardinality": f.cardinality.value,
                        "register": f.register,
                        "text": f.text,
                    }
                )
        log = self.store.log_head(head)
        out["fields"] = fields
        out["log"] = {
            "origin": log.origin,
            "size": log.size,
            "root": b64std_encode(log.root),
            "verifier-key": log.verifier_key,
        }
        out["dangling-links"] = [
            {"entry-number": d.entry_number, "field": d.field, "target": d.target, "line": d.line}
            for d in self.store.dangling_links(head)
        ]
        return out
