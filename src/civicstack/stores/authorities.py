"""The platform's authorities and their signing keys, as stored.

What a party is (:class:`~civicstack.trust.parties.HostedAuthority`) and the rules a new one
meets are in :mod:`civicstack.trust.parties`; this module keeps them.

Tables (Alembic branch ``authorities``):

``authorities``        one row per party this platform holds keys for: the root (the sovereign
                       government, a trust anchor), identity authorities (credential issuers) and
                       relying parties (their keys sign OpenID4VP request objects). ``name`` is a
                       slug; ``identifier`` is the URL that is the ``iss``/``sub`` of everything
                       they sign (``{base_url}/issuers/{name}`` for an authority).
``authority_keys``     their signing keys: the public JWK, ``kid`` = RFC 7638 thumbprint, the
                       algorithm, whether it is the one that signs now, and the private key
                       wrapped under the platform's key-encryption key
                       (:func:`civicstack._crypto.wrap_private_key`; the database never sees a
                       private key in clear).
``trust_state``        one row: the trust version, a counter bumped in the same transaction as
                       every change to the trust anchors (a root or a root's key, here) or to the
                       trust statements (:mod:`.trust`), so a cached registry knows when to catch
                       up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from civicstack._crypto import (
    ALGORITHMS,
    Alg,
    PrivateKey,
    json_dumps,
    json_object_strict,
    unwrap_private_key,
    wrap_private_key,
)
from civicstack.errors import CivicError, InputError
from civicstack.stores.db import metadata, write_transaction
from civicstack.trust.fields import MAX_ID_CHARS, MAX_NAME_CHARS
from civicstack.trust.parties import (
    AuthorityKey,
    HostedAuthority,
    Role,
    check_new_party,
    check_slug,
)

authorities_table = Table(
    "authorities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("identifier", String(MAX_ID_CHARS), nullable=False, unique=True),
    Column("display_name", String(MAX_NAME_CHARS), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    CheckConstraint("role IN ('root', 'authority', 'relying_party')", name="role"),
    sqlite_autoincrement=True,
)
authority_keys_table = Table(
    "authority_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("authority_id", Integer, ForeignKey("authorities.id"), nullable=False, index=True),
    Column("alg", String(16), nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("private_key", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

trust_state_table = Table(
    "trust_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)


def bump_trust_version(conn: Connection) -> int:
    """Advance the trust version inside the caller's write transaction; return the new one."""
    conn.execute(
        update(trust_state_table)
        .where(trust_state_table.c.id == 1)
        .values(version=trust_state_table.c.version + 1)
    )
    return int(
        conn.execute(
            select(trust_state_table.c.version).where(trust_state_table.c.id == 1)
        ).scalar_one()
    )


# --- authorities and keys ------------------------------------------------------------------------


def _key_context(name: str, kid: str) -> str:
    return f"civicstack/authority-key/{name}/{kid}"


class AuthorityStore:
    """Hosted authorities and their keys; private keys leave only as :class:`PrivateKey`."""

    def __init__(self, engine: Engine, kek: Callable[[], bytes]) -> None:
        self.engine = engine
        self._kek = kek

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction for a caller that spans this store and the trust statements'."""
        with write_transaction(self.engine) as conn:
            yield conn

    def create(
        self,
        name: str,
        *,
        identifier: str,
        display_name: str,
        role: Role,
        key: PrivateKey,
        now: int,
        conn: Connection | None = None,
    ) -> HostedAuthority:
        """Record a new party with ``key`` as its active signing key.

        ``conflict`` if the name or the identifier is taken. Creating a root changes the trust
        anchors, so it bumps the trust version. Pass ``conn`` to write inside a caller's
        :func:`civicstack.stores.db.write_transaction`.
        """
        check_new_party(name, identifier=identifier, display_name=display_name, role=role)
        with maybe_transaction(self.engine, conn) as tx:
            taken = tx.execute(
                select(authorities_table.c.name).where(
                    (authorities_table.c.name == name)
                    | (authorities_table.c.identifier == identifier)
                )
            ).first()
            if taken is not None:
                raise CivicError("conflict", f"{name} or {identifier} is already on record")
            try:
                pk = tx.execute(
                    insert(authorities_table).values(
                        name=name,
                        identifier=identifier,
                        display_name=display_name,
                        role=role,
                        created_at=now,
                    )
                ).inserted_primary_key
            except IntegrityError as exc:
                raise CivicError(
                    "conflict", f"{name} or {identifier} is already on record"
                ) from exc
            assert pk is not None
            self._insert_key(tx, int(pk[0]), name, key, now, active=True)
            if role == "root":
                bump_trust_version(tx)  # the trust anchors changed
        return self.get(name, conn=conn)

    def _insert_key(
        self,
        conn: Connection,
        authority_id: int,
        name: str,
        key: PrivateKey,
        now: int,
        *,
        active: bool,
    ) -> None:
        kid = key.public_key.thumbprint()
        wrapped = wrap_private_key(key, self._kek(), context=_key_context(name, kid))
        try:
            conn.execute(
                insert(authority_keys_table).values(
                    kid=kid,
                    authority_id=authority_id,
                    alg=key.alg,
                    public_jwk=json_dumps(key.public_key.to_jwk()).decode(),
                    private_key=json_dumps(wrapped).decode(),
                    active=active,
                    created_at=now,
                )
            )
        except IntegrityError as exc:
            raise CivicError("conflict", f"key {kid} is already on record") from exc

    def add_key(self, name: str, key: PrivateKey, *, now: int) -> AuthorityKey:
        """Make ``key`` the active signing key of ``name`` (earlier keys stay, inactive).

        Credentials and statements signed with an earlier key keep verifying only while an
        accreditation lists it: re-accredit the authority with the new key.
        """
        with write_transaction(self.engine) as conn:
            row = _authority_row(conn, name, lock=True)
            conn.execute(
                update(authority_keys_table)
                .where(authority_keys_table.c.authority_id == row.id)
                .values(active=False)
            )
            self._insert_key(conn, int(row.id), name, key, now, active=True)
            if row.role == "root":
                bump_trust_version(conn)
        return self.get(name).active_key

    def get(self, name: str, *, conn: Connection | None = None) -> HostedAuthority:
        """The party named ``name``; ``unknown_authority`` otherwise."""
        check_slug(name, "an authority name")
        with _maybe_connection(self.engine, conn) as c:
            row = _authority_row(c, name)
            return _hosted(row, load_keys(c, [int(row.id)]).get(int(row.id), ()))

    def by_identifier(self, identifier: str) -> HostedAuthority | None:
        """The party whose identifier is ``identifier``, or None."""
        if not isinstance(identifier, str) or len(identifier) > MAX_ID_CHARS:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(authorities_table).where(authorities_table.c.identifier == identifier)
            ).first()
            if row is None:
                return None
            return _hosted(row, load_keys(conn, [int(row.id)]).get(int(row.id), ()))

    def list(self, role: Role | None = None) -> tuple[HostedAuthority, ...]:
        """Every party (of ``role``), oldest first."""
        query = select(authorities_table).order_by(authorities_table.c.id)
        if role is not None:
            query = query.where(authorities_table.c.role == role)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            keys = load_keys(conn, [int(r.id) for r in rows])
        return tuple(_hosted(r, keys.get(int(r.id), ())) for r in rows)

    def signing_key(self, name: str) -> tuple[HostedAuthority, PrivateKey]:
        """The party and its active private key, unwrapped with the platform key."""
        with self.engine.connect() as conn:
            row = _authority_row(conn, name)
            key_row = conn.execute(
                select(authority_keys_table).where(
                    (authority_keys_table.c.authority_id == row.id)
                    & authority_keys_table.c.active.is_(True)
                )
            ).first()
            hosted = _hosted(row, load_keys(conn, [int(row.id)]).get(int(row.id), ()))
        if key_row is None:
            raise CivicError("internal_error", f"{name} has no active signing key")
        try:
            wrapped = json_object_strict(key_row.private_key)
        except InputError as exc:
            raise CivicError("internal_error", f"{name}'s stored key is damaged") from exc
        key = unwrap_private_key(wrapped, self._kek(), context=_key_context(name, key_row.kid))
        if key.public_key.thumbprint() != key_row.kid:
            raise CivicError("internal_error", f"{name}'s stored key does not match its kid")
        return hosted, key


def _authority_row(conn: Connection, name: str, *, lock: bool = False) -> Any:
    query = select(authorities_table).where(authorities_table.c.name == name)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise CivicError("unknown_authority", f"no authority or relying party named {name!r}")
    return row


def load_keys(conn: Connection, ids: list[int]) -> dict[int, tuple[AuthorityKey, ...]]:
    if not ids:
        return {}
    rows = conn.execute(
        select(authority_keys_table)
        .where(authority_keys_table.c.authority_id.in_(ids))
        .order_by(authority_keys_table.c.created_at, authority_keys_table.c.kid)
    ).all()
    out: dict[int, list[AuthorityKey]] = {}
    for r in rows:
        if r.alg not in ALGORITHMS:
            raise CivicError("internal_error", f"key {r.kid} has an unknown algorithm")
        jwk = {k: str(v) for k, v in json_object_strict(r.public_jwk).items()}
        key = AuthorityKey(r.kid, cast(Alg, r.alg), jwk, bool(r.active), int(r.created_at))
        out.setdefault(int(r.authority_id), []).append(key)
    return {k: tuple(v) for k, v in out.items()}


def _hosted(row: Any, keys: tuple[AuthorityKey, ...]) -> HostedAuthority:
    return HostedAuthority(
        name=row.name,
        identifier=row.identifier,
        display_name=row.display_name,
        role=cast(Role, row.role),
        created_at=int(row.created_at),
        keys=keys,
    )


@contextmanager
def maybe_transaction(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    if conn is not None:
        yield conn
    else:
        with write_transaction(engine) as own:
            yield own


@contextmanager
def _maybe_connection(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    if conn is not None:
        yield conn
    else:
        with engine.connect() as own:
            yield own
