"""The register store: writes (one transaction with the register's log), keys, tokens."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from civicstack._crypto import (
    MERKLE_EMPTY_ROOT,
    PrivateKey,
    aead_decrypt,
    aead_encrypt,
    b64url_decode,
    b64url_encode,
    generate_private_jwk,
    json_dumps,
    json_object_strict,
    sha256_digest,
)
from civicstack.errors import CivicError, InputError
from civicstack.log import NoteSigner
from civicstack.registers import (
    Changeset,
    Field,
    Item,
    RSFLimits,
    Scope,
)
from civicstack.registers.catalogue import RSFSource
from civicstack.registers.datatypes import NAME_RE
from civicstack.registers.define import METADATA_REGISTERS
from civicstack.stores.db import DirectReads
from civicstack.stores.log import LogStore
from civicstack.stores.registers._reads import RegisterReads
from civicstack.stores.registers._rows import (
    KEY_AAD,
    MAX_NAME,
    TOKEN_PREFIX,
    StoredHead,
)
from civicstack.stores.registers._writes import StoreCatalogue


class RegisterStore(RegisterReads):
    """Every register of the platform, in its database (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        logs: LogStore,
        master_key: Callable[[], bytes],
        *,
        origin_prefix: str = "civicstack.localhost",
        idle_readers: int = 4,
    ) -> None:
        """``origin_prefix`` starts each new register's log origin (``<prefix>/registers/<name>``,
        C2SP tlog-checkpoint: a schema-less URL); ``master_key`` seals the log keys."""
        self.engine = engine
        self.logs = logs
        self._master_key = master_key
        self.origin_prefix = origin_prefix.rstrip("/")
        self._reads = DirectReads(engine, idle_readers)
        self._signers: dict[str, NoteSigner] = {}

    def close(self) -> None:
        """Close the connections kept open for reads."""
        self._reads.close()

    # -- keys ---------------------------------------------------------------------------------

    def _create_row(self, conn: Connection, name: str) -> StoredHead:
        """Insert a new register's row and create its log with a fresh sealed key."""
        log_name = f"registers/{name}"
        jwk = generate_private_jwk("EdDSA")
        signer = NoteSigner(f"{self.origin_prefix}/registers/{name}", PrivateKey.from_jwk(jwk))
        sealed = b64url_encode(
            aead_encrypt(self._master_key(), json_dumps(jwk), KEY_AAD + log_name.encode())
        )
        try:
            self.logs.create_log(log_name, signer, conn=conn)
        except CivicError as exc:
            if exc.code == "log_exists":
                raise CivicError("conflict", f"register {name!r} exists") from exc
            raise
        row = conn.exec_driver_sql(
            self._reads.sql(
                "INSERT INTO reg_registers (name, log_name, sealed_key, user_count, system_count,"
                " size, record_count, govuk_range, log_range, root, log_root)"
                " VALUES (?, ?, ?, 0, 0, 0, 0, ?, ?, ?, ?) RETURNING id"
            ),
            (name, log_name, sealed, b"", b"", MERKLE_EMPTY_ROOT, MERKLE_EMPTY_ROOT),
        ).scalar_one()
        self._signers[log_name] = signer
        return StoredHead(
            int(row), name, log_name, 0, 0, 0, 0, MERKLE_EMPTY_ROOT, MERKLE_EMPTY_ROOT
        )

    def _signer(self, head: StoredHead) -> NoteSigner:
        signer = self._signers.get(head.log_name)
        if signer is None:
            rows = self._read("SELECT sealed_key FROM reg_registers WHERE id = ?", (head.id,))
            blob = b64url_decode(str(rows[0][0]))
            plain = aead_decrypt(self._master_key(), blob, KEY_AAD + head.log_name.encode())
            key = PrivateKey.from_jwk(json_object_strict(plain))
            origin = self.logs.head(head.log_name).origin
            signer = self._signers[head.log_name] = NoteSigner(origin, key)
        return signer

    # -- writes -------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[StoreCatalogue]:
        """One write transaction; a lost race is ``conflict``, never a database error."""
        try:
            with self.logs.transaction() as conn:
                yield StoreCatalogue(self, conn)
        except IntegrityError as exc:
            raise CivicError("conflict", "a concurrent write got there first") from exc
        except OperationalError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state in ("40001", "40P01") or "locked" in str(exc.orig):
                raise CivicError("conflict", "a concurrent write got in the way; retry") from exc
            raise

    def import_rsf(
        self,
        sources: Mapping[str, RSFSource],
        *,
        unsafe_allow_dangling_links: Set[str] | bool = False,
        limits: RSFLimits | None = None,
    ) -> dict[str, Changeset]:
        """Import RSF files (by register name) in one transaction; see ``Catalogue.import_rsf``.

        A name already held gets its file appended as a patch. Nothing is written unless every
        file is valid, every ``assert-root-hash`` holds and every link resolves.
        """
        for name in sources:
            if len(name) > MAX_NAME or NAME_RE.fullmatch(name) is None:
                raise InputError("invalid_schema", f"{name[:80]!r} is not a register name")
        with self._writing() as catalogue:
            catalogue.lock(sources)
            return catalogue.import_rsf(
                {name: sources[name] for name in sorted(sources)},
                unsafe_allow_dangling_links=unsafe_allow_dangling_links,
                limits=limits,
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
        with self._writing() as catalogue:
            catalogue.lock([name, *METADATA_REGISTERS])
            changes: dict[str, Changeset] = catalogue.create_register(
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
            )
            return changes

    def add_field(self, register: str, field: Field, *, now: int) -> dict[str, Changeset]:
        """Add a field to a register (RFC 0001) and describe it, in one transaction."""
        with self._writing() as catalogue:
            catalogue.lock([register, *METADATA_REGISTERS])
            return catalogue.add_field(register, field, now=now)

    def create_metadata_registers(self, *, now: int) -> dict[str, Changeset]:
        """The self-describing ``datatype``, ``field`` and ``register`` registers."""
        with self._writing() as catalogue:
            catalogue.lock(METADATA_REGISTERS)
            return catalogue.create_metadata_registers(now=now)

    def append(
        self, name: str, records: Sequence[tuple[str, Sequence[Item]]], *, now: int
    ) -> Changeset:
        """A custodian's batch: one user entry per ``(key, items)``, validated (schema, links),
        written and signed into a new checkpoint together. Raises the domain's codes."""
        with self._writing() as catalogue:
            catalogue.lock([name])
            register = catalogue.lookup(name)
            if register is None:
                raise CivicError("not_found", f"no register {name!r}")
            batch = register.batch(name=name)
            for key, items in records:
                batch.append_items(Scope.USER, key, items, now=now)
            changes = batch.close(catalogue)
            register.apply(changes)
            return changes

    # -- custodian tokens ---------------------------------------------------------------------

    def issue_custodian_token(self, name: str, *, label: str, now: int) -> str:
        """A new bearer token for writing to register ``name`` (only its hash is kept)."""
        head = self.head(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                self._reads.sql(
                    "INSERT INTO reg_custodian_tokens (token_hash, register_id, label, created_at)"
                    " VALUES (?, ?, ?, ?)"
                ),
                (sha256_digest(token.encode()), head.id, label[:128], now),
            )
        return token

    def is_custodian(self, head: StoredHead, token: str) -> bool:
        """Whether ``token`` is a custodian token of this register."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            return False
        rows = self._read(
            "SELECT register_id FROM reg_custodian_tokens WHERE token_hash = ?",
            (sha256_digest(token.encode()),),
        )
        return bool(rows) and int(rows[0][0]) == head.id
