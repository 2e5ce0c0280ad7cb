"""The trust statements the platform's authorities signed, and the registry rebuilt from them.

Tables (Alembic branch ``authorities``):

``trust_statements``   every signed statement of :mod:`civicstack.trust` (accreditations,
                       revocations, relying-party registrations, suspensions), in the order it was
                       added: the order in which a :class:`TrustRegistry` re-verifies them.

The version counter they are read against (``trust_state``, bumped in the same transaction as
every change to the statements or to the roots' keys) is defined with the roots' keys, in
:mod:`.authorities`.

The registry is rebuilt from the statements and cached per process; a process checks the
version (one primary-key read) and catches up when another process (a worker of ``civic up``,
a CLI command) changed it, adding only the statements it has not seen unless the roots changed.
Writers serialise on the ``trust_state`` row (``FOR UPDATE`` on PostgreSQL, the database write
lock on SQLite), so statement order equals commit order and a reader never sees a later
statement without the earlier ones.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine

from civicstack.errors import CivicError
from civicstack.stores.authorities import (
    authorities_table,
    bump_trust_version,
    load_keys,
    maybe_transaction,
    trust_state_table,
)
from civicstack.stores.db import metadata
from civicstack.trust import (
    TYP_ACCREDITATION,
    TYP_REGISTRATION,
    TYP_REVOCATION,
    TYP_SUSPENSION,
    Accreditation,
    AccreditationRevocation,
    RelyingPartyRegistration,
    RootAuthority,
    Statement,
    TrustRegistry,
)
from civicstack.trust.fields import MAX_ID_CHARS, MAX_NAME_CHARS
from civicstack.trust.parties import no_root_authority

trust_statements_table = Table(
    "trust_statements",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("jti", String(MAX_NAME_CHARS), nullable=False, unique=True),
    Column("typ", String(64), nullable=False),
    Column("iss", String(MAX_ID_CHARS), nullable=False),
    Column("sub", String(MAX_ID_CHARS), nullable=False, index=True),
    Column("token", Text, nullable=False),
    Column("added_at", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)


def _describe(statement: Statement) -> tuple[str, str, str]:
    """``(typ, iss, sub)`` of a statement."""
    if isinstance(statement, Accreditation):
        return TYP_ACCREDITATION, statement.accreditor, statement.authority
    if isinstance(statement, AccreditationRevocation):
        return TYP_REVOCATION, statement.revoker, statement.authority
    if isinstance(statement, RelyingPartyRegistration):
        return TYP_REGISTRATION, statement.registrar, statement.relying_party
    return TYP_SUSPENSION, statement.by, statement.relying_party


_RootsKey = tuple[tuple[str, str, frozenset[str]], ...]


@dataclass(slots=True)
class _Cached:
    version: int
    seq: int
    roots: _RootsKey
    registry: TrustRegistry
    checked: float = field(default_factory=time.monotonic)


class TrustStore:
    """The trust statements and the :class:`TrustRegistry` rebuilt from them (cached)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.RLock()
        self._cache: _Cached | None = None

    def version(self) -> int:
        """The current trust version (bumped by every statement and root key change)."""
        with self.engine.connect() as conn:
            return _version(conn)

    def roots(self) -> tuple[RootAuthority, ...]:
        """The trust anchors: every hosted root with all its keys."""
        with self.engine.connect() as conn:
            return _roots(conn)

    def registry(self, *, max_age: float = 0.0) -> TrustRegistry:
        """The registry as of now; with ``max_age`` > 0, one checked that long ago may serve.

        Raises ``no_root_authority`` before a root exists.
        """
        cached = self._cache
        if cached is not None and max_age > 0 and time.monotonic() - cached.checked < max_age:
            return cached.registry
        with self.engine.connect() as conn:
            # The common case (nothing changed) takes one read and no lock.
            if cached is not None and _version(conn) == cached.version:
                cached.checked = time.monotonic()
                return cached.registry
            with self._lock:
                return self._sync(conn)

    def _sync(self, conn: Connection) -> TrustRegistry:
        # Read the version first: the statements read next are at least that recent, so the
        # cache may run ahead of its recorded version, never behind it.
        version = _version(conn)
        cached = self._cache
        if cached is not None and cached.version == version:
            cached.checked = time.monotonic()
            return cached.registry
        roots = _roots(conn)
        if not roots:
            raise no_root_authority()
        roots_key = tuple(sorted((r.id, r.name, r.keys.thumbprints()) for r in roots))
        if cached is not None and cached.roots == roots_key:
            registry, after = cached.registry, cached.seq
        else:
            registry, after = TrustRegistry(roots), 0
        rows = conn.execute(
            select(trust_statements_table.c.seq, trust_statements_table.c.token)
            .where(trust_statements_table.c.seq > after)
            .order_by(trust_statements_table.c.seq)
        ).all()
        for row in rows:
            registry.add(row.token)
        seq = int(rows[-1].seq) if rows else after
        self._cache = _Cached(version, seq, roots_key, registry)
        return registry

    def add(self, token: str, *, now: int, conn: Connection | None = None) -> Statement:
        """Verify ``token`` against the registry and record it; return the statement.

        The same token again is a no-op. Raises what :meth:`TrustRegistry.add` raises
        (``invalid_signature``, ``untrusted_issuer``, ``unknown_statement``, ``conflict``...).
        """
        mutated = False
        try:
            with maybe_transaction(self.engine, conn) as tx:
                # Serialise writers before reading: statement order is then commit order.
                tx.execute(
                    select(trust_state_table.c.version)
                    .where(trust_state_table.c.id == 1)
                    .with_for_update()
                ).scalar_one()
                with self._lock:
                    registry = self._sync(tx)
                    before = len(registry.statements())
                    statement = registry.add(token)
                    if len(registry.statements()) == before:
                        return statement
                    # From here the cached registry holds a statement not yet committed: if the
                    # commit fails the cache is dropped below.
                    mutated = True
                    typ, iss, sub = _describe(statement)
                    seq = tx.execute(
                        insert(trust_statements_table).values(
                            jti=statement.jti,
                            typ=typ,
                            iss=iss,
                            sub=sub,
                            token=token,
                            added_at=now,
                        )
                    ).inserted_primary_key
                    assert seq is not None
                    version = bump_trust_version(tx)
                    assert self._cache is not None
                    self._cache = _Cached(version, int(seq[0]), self._cache.roots, registry)
        except BaseException:
            if mutated:
                with self._lock:
                    self._cache = None
            raise
        return statement

    def invalidate(self) -> None:
        """Forget the cached registry (the next call rebuilds it)."""
        with self._lock:
            self._cache = None

    def tokens(self) -> tuple[str, ...]:
        """Every statement, in the order added (the order that re-verifies)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(trust_statements_table.c.token).order_by(trust_statements_table.c.seq)
            ).all()
        return tuple(r.token for r in rows)

    def count(self) -> int:
        """How many statements are on record."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(trust_statements_table)).scalar_one()
            )


def _version(conn: Connection) -> int:
    value = conn.execute(
        select(trust_state_table.c.version).where(trust_state_table.c.id == 1)
    ).scalar_one_or_none()
    if value is None:
        raise CivicError("database_error", "the trust_state row is missing: run the migrations")
    return int(value)


def _roots(conn: Connection) -> tuple[RootAuthority, ...]:
    rows = conn.execute(
        select(authorities_table)
        .where(authorities_table.c.role == "root")
        .order_by(authorities_table.c.id)
    ).all()
    keys = load_keys(conn, [int(r.id) for r in rows])
    return tuple(
        RootAuthority.create(
            r.identifier, r.display_name, [k.public_key for k in keys.get(int(r.id), ())]
        )
        for r in rows
    )
