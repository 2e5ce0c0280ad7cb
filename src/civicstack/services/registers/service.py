"""The registers service: who may write, and every write a register takes.

Use cases: create a register (admin), describe it in the metadata registers, add a field, append
a custodian's records, apply an RSF patch, import RSF files (new registers or patches, all in
one transaction), export RSF, issue custodian tokens (admin), and describe a register. Each
write is decided here, over the pure rules of :mod:`civicstack.registers`
(:class:`~civicstack.registers.LinkedRegisters`), and run by the store inside ONE transaction
(:meth:`RegisterStorage.write`) that also signs the register's new checkpoint.

Who may write: the platform's admin token may write anything; a custodian token (issued by the
admin, kept only as its SHA-256) may write the records of the one register it was issued for,
until it expires or the admin revokes it (checked against the database at every write, so a
revocation holds at once in every process). A custodian's RSF patch may hold records only:
system entries (the register's name, custodian, fields and definition) need the admin token
(:func:`~civicstack.registers.custodians.check_custodian_change`). Creating a register and
issuing, listing and revoking tokens are the admin's alone; issuing and revoking are kept in an
audit trail (:class:`~civicstack.registers.custodians.CustodianEvent`), as are refused writes
with a revoked or expired token.
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
from civicstack.registers.custodians import (
    ADMIN,
    DEFAULT_TOKEN_LIFETIME,
    CustodianEvent,
    CustodianEventKind,
    CustodianToken,
    TokenState,
    Writer,
    check_custodian_change,
    check_label,
    check_token_id,
    expiry,
)
from civicstack.registers.datatypes import NAME_RE
from civicstack.registers.define import METADATA_REGISTERS
from civicstack.registers.stored import DanglingRecord, RecordRow, StoredHead, first_value
from civicstack.registers.synthetic import SYNTHETIC_KEY
from civicstack.types import Clock, SystemClock

T = TypeVar("T")

#: Custodian tokens start with this, so a leaked one is recognisable (and scanners can find it).
TOKEN_PREFIX = "civic_reg_"  # noqa: S105 - a prefix, not a secret
_TOKEN_LENGTH = 128
#: The most events one read of the audit trail returns.
MAX_EVENTS_PAGE = 1000


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
        self,
        head: StoredHead,
        token_hash: bytes,
        token: CustodianToken,
        *,
        actor: str,
    ) -> None:
        """Keep a new custodian token of the register (by its hash) and record its issue in the
        audit trail, in one transaction."""
        ...

    def custodian_token(self, token_hash: bytes) -> tuple[int, CustodianToken] | None:
        """The register id and record of the custodian token with this hash."""
        ...

    def custodian_tokens(self, head: StoredHead | None) -> list[CustodianToken]:
        """The custodian tokens of a register (``None``: of all), oldest first."""
        ...

    def custodian_token_by_id(self, token_id: str) -> CustodianToken | None:
        """The custodian token with this public id."""
        ...

    def revoke_custodian_token(self, token_id: str, *, now: int, actor: str) -> bool:
        """Revoke the token and record it in the audit trail, in one transaction; ``False``
        when it was revoked already (nothing changes) or does not exist."""
        ...

    def add_custodian_event(
        self, token: CustodianToken, event: CustodianEventKind, *, now: int, actor: str
    ) -> None:
        """Record an event of a token in the audit trail."""
        ...

    def custodian_events(
        self,
        *,
        register: str | None = None,
        token_id: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[CustodianEvent]:
        """The audit trail after sequence number ``after``, oldest first, filtered."""
        ...


class Registers:
    """The registers of a platform: its use cases over a :class:`RegisterStorage`."""

    def __init__(
        self,
        store: RegisterStorage,
        *,
        admin_check: Callable[[str | None], None],
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        token_lifetime: int | None = DEFAULT_TOKEN_LIFETIME,
    ) -> None:
        """``admin_check`` raises ``unauthorized`` unless given the admin token; ``clock`` tells
        when a custodian token expires; ``token_lifetime`` (seconds, ``None`` or 0: no expiry)
        is a new token's lifetime when its issuer gives none."""
        self.store = store
        self._admin_check = admin_check
        self.limits = limits
        self.clock: Clock = clock or SystemClock()
        self.token_lifetime = token_lifetime or None

    # -- who may write --------------------------------------------------------------------

    def authorise(self, head: StoredHead | None, token: str | None) -> Writer:
        """Who ``token`` writes as: the admin (the admin token), or (for an existing register,
        given as ``head``) one of its custodians. Raises ``unauthorized``, or ``token_revoked``
        / ``token_expired`` for a custodian token of the register that no longer writes (the
        refusal is recorded in the audit trail)."""
        try:
            self._admin_check(token)
            return ADMIN
        except CivicError:
            pass
        found = self._custodian(token) if token is not None else None
        if head is None or found is None or found[0] != head.id:
            raise CivicError(
                "unauthorized", "writes need the admin token or the register's custodian token"
            )
        custodian = found[1]
        now = self.clock.now()
        state = custodian.state(now)
        if state is not TokenState.ACTIVE:
            kind = (
                CustodianEventKind.REFUSED_REVOKED
                if state is TokenState.REVOKED
                else CustodianEventKind.REFUSED_EXPIRED
            )
            self.store.add_custodian_event(custodian, kind, now=now, actor=custodian.id)
        custodian.check_usable(now)
        return Writer(custodian.id, custodian)

    def is_custodian(self, head: StoredHead, token: str) -> bool:
        """Whether ``token`` is a custodian token of this register, neither revoked nor
        expired."""
        found = self._custodian(token)
        return (
            found is not None
            and found[0] == head.id
            and found[1].state(self.clock.now()) is TokenState.ACTIVE
        )

    def _custodian(self, token: str) -> tuple[int, CustodianToken] | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > _TOKEN_LENGTH:
            return None
        return self.store.custodian_token(sha256_digest(token.encode()))

    def issue_custodian_token(
        self,
        name: str,
        *,
        label: str,
        now: int,
        expires_in: int | None = None,
        actor: str = ADMIN.actor,
    ) -> str:
        """A new bearer token for writing to register ``name`` (only its hash is kept), expiring
        after ``expires_in`` seconds (default: the service's token lifetime). Raises
        ``invalid_request`` for a bad label or lifetime, ``not_found`` for no such register."""
        return self.issue_custodian(name, label=label, now=now, expires_in=expires_in, actor=actor)[
            0
        ]

    def issue_custodian(
        self,
        name: str,
        *,
        label: str,
        now: int,
        expires_in: int | None = None,
        actor: str = ADMIN.actor,
    ) -> tuple[str, CustodianToken]:
        """Like :meth:`issue_custodian_token`, with the token's record (its id, expiry...)."""
        check_label(label)
        expires_at = expiry(now, expires_in, self.token_lifetime)
        head = self.store.head(name)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = CustodianToken(
            id="ct_" + secrets.token_hex(8),
            register=head.name,
            label=label,
            created_at=now,
            expires_at=expires_at,
        )
        self.store.add_custodian_token(
            head, sha256_digest(secret.encode()), token, actor=actor[:128]
        )
        return secret, token

    def custodian_tokens(self, name: str | None = None) -> list[CustodianToken]:
        """The custodian tokens of register ``name`` (``None``: of every register), oldest
        first; never their secrets. Raises ``not_found`` for no such register."""
        head = self.store.head(name) if name is not None else None
        return self.store.custodian_tokens(head)

    def custodian_token(self, token_id: str) -> CustodianToken:
        """The custodian token with this id; raises ``not_found``."""
        found = self.store.custodian_token_by_id(check_token_id(token_id))
        if found is None:
            raise CivicError("not_found", f"no custodian token {token_id}")
        return found

    def revoke_custodian_token(
        self, token_id: str, *, now: int, actor: str = ADMIN.actor
    ) -> CustodianToken:
        """Revoke a custodian token at once (every process reads the revocation at the next
        write); revoking it again changes nothing. Returns the token; raises ``not_found``."""
        check_token_id(token_id)
        self.store.revoke_custodian_token(token_id, now=now, actor=actor[:128])
        return self.custodian_token(token_id)

    def custodian_events(
        self,
        *,
        register: str | None = None,
        token_id: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[CustodianEvent]:
        """The audit trail of custodian tokens (issued, revoked, refused), oldest first, after
        sequence number ``after``; filtered by register and token when given."""
        if register is not None:
            self.store.head(register)
        if token_id is not None:
            check_token_id(token_id)
        if not 0 < limit <= MAX_EVENTS_PAGE:
            raise InputError("invalid_request", f"a page holds 1 to {MAX_EVENTS_PAGE} events")
        return self.store.custodian_events(
            register=register, token_id=token_id, after=max(after, 0), limit=limit
        )

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

    def patch_rsf(self, name: str, data: bytes, *, writer: Writer = ADMIN) -> Changeset:
        """Append an RSF patch to register ``name`` as one signed batch (all of it or none).

        The patch is checked as any import is (field definitions included: a ``field:<f>``
        entry may not retype a field, ``field_redefined``); a custodian's may hold records
        only (``forbidden`` otherwise), the admin's may change the definition too.
        """
        cap = self.limits.max_rsf_patch_bytes
        if len(data) > cap:
            raise InputError("too_large", f"an RSF patch is at most {cap} bytes")
        limits = replace(self.limits, max_rsf_bytes=cap)
        review = None if writer.is_admin else check_custodian_change
        return self.import_rsf({name: data}, limits=limits, review=review)[name]

    def import_rsf(
        self,
        sources: Mapping[str, RSFSource],
        *,
        unsafe_allow_dangling_links: Set[str] | bool = False,
        limits: Limits | None = None,
        review: Callable[[Changeset], None] | None = None,
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
                review=review,
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
