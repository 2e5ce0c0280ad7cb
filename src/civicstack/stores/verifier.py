"""The verifier's storage: presentation requests, the replay guard, relying parties' API keys.

Tables (Alembic branch ``verifier``):

``presentation_requests``  one row per OpenID4VP request a relying party made: who asked (the
                           hosted relying party's name and its ``client_id``), for which purpose
                           (and preset), the DCQL query, ``nonce`` and ``state``, the signed
                           Request Object, when it was made and when it expires, and its
                           outcome: ``pending`` until answered, then ``verified`` (with the
                           claims learnt) or ``failed`` (with the error). A request is answered
                           once: the outcome is written by a conditional update that only a
                           ``pending`` row matches, so of concurrent answers exactly one wins,
                           in any number of processes, on SQLite and PostgreSQL alike.
``verifier_replay``        the SHA-256 of every Key Binding JWT accepted (its signing input: a
                           re-encoded ECDSA signature changes nothing), kept for as long as the
                           KB-JWT could still pass the freshness check; accepting the same one
                           again is ``replayed``. The insert and the request's outcome commit in
                           one transaction, or neither does.
``verifier_api_keys``      per relying party API keys for its backend: a public id and the
                           SHA-256 of the secret (the secret itself is shown once, never kept).

Nothing here holds a presentation: the claims a verified request learnt are kept (the relying
party fetches them), never the credentials they came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from civicstack.errors import CivicError
from civicstack.openid4vp.verifier_requests import RequestStatus, StoredRequest, check_answerable
from civicstack.stores.db import metadata, write_transaction

_ROWS_PER_INSERT = 256  # well under SQLite's and PostgreSQL's bound-parameter limits

presentation_requests_table = Table(
    "presentation_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("relying_party", String(64), nullable=False, index=True),
    Column("client_id", Text, nullable=False),
    Column("purpose", String(256), nullable=False),
    Column("preset", String(32), nullable=True),
    Column("dcql_query", Text, nullable=False),
    Column("nonce", String(64), nullable=False, unique=True),
    Column("state", String(64), nullable=False, unique=True),
    Column("request_object", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", Text, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("answered_at", BigInteger, nullable=True),
    CheckConstraint("status IN ('pending', 'verified', 'failed')", name="status"),
)
verifier_replay_table = Table(
    "verifier_replay",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("relying_party", String(64), nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)
verifier_api_keys_table = Table(
    "verifier_api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("relying_party", String(64), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)


def _request(row: Any) -> StoredRequest:
    return StoredRequest(
        id=row.id,
        relying_party=row.relying_party,
        client_id=row.client_id,
        purpose=row.purpose,
        preset=row.preset,
        dcql_query=row.dcql_query,
        nonce=row.nonce,
        state=row.state,
        request_object=row.request_object,
        created_at=int(row.created_at),
        expires_at=int(row.expires_at),
        status=cast(RequestStatus, row.status),
        result=row.result,
        error_code=row.error_code,
        error_detail=row.error_detail,
        answered_at=None if row.answered_at is None else int(row.answered_at),
    )


def _insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose primary key is new; return how many were inserted."""
    stmt: Any
    if conn.dialect.name == "postgresql":
        stmt = pg_insert(table).on_conflict_do_nothing()
    elif conn.dialect.name == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise CivicError("database_error", f"unsupported database {conn.dialect.name}")
    # RETURNING says which rows went in; rowcount is not reliable for ON CONFLICT (psycopg
    # reports -1 when the dialect adds its own RETURNING).
    key = next(iter(table.primary_key.columns))
    inserted = 0
    for row in rows:
        inserted += len(conn.execute(stmt.returning(key), row).all())
    return inserted


class VerifierStore:
    """Presentation requests, accepted KB-JWT digests and API keys."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- presentation requests -----------------------------------------------------------

    def create(self, request: StoredRequest) -> None:
        """Record a new pending request (``conflict`` on a reused id, nonce or state)."""
        values = {
            "id": request.id,
            "relying_party": request.relying_party,
            "client_id": request.client_id,
            "purpose": request.purpose,
            "preset": request.preset,
            "dcql_query": request.dcql_query,
            "nonce": request.nonce,
            "state": request.state,
            "request_object": request.request_object,
            "created_at": request.created_at,
            "expires_at": request.expires_at,
            "status": "pending",
        }
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(insert(presentation_requests_table).values(values))
        except IntegrityError as exc:
            raise CivicError("conflict", "a request with that id, nonce or state exists") from exc

    def get(self, request_id: str) -> StoredRequest:
        """The request ``request_id``; ``not_found`` otherwise."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(presentation_requests_table).where(
                    presentation_requests_table.c.id == request_id
                )
            ).first()
        if row is None:
            raise CivicError("not_found", "no such presentation request")
        return _request(row)

    def by_state(self, state: str) -> StoredRequest | None:
        """The request whose ``state`` is ``state``, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(presentation_requests_table).where(
                    presentation_requests_table.c.state == state
                )
            ).first()
        return None if row is None else _request(row)

    def finish(
        self,
        request_id: str,
        *,
        status: RequestStatus,
        now: int,
        result: str | None = None,
        error_code: str | None = None,
        error_detail: str | None = None,
        digests: Iterable[str] = (),
        relying_party: str = "",
        replay_until: int = 0,
    ) -> None:
        """Write the outcome of a pending, unexpired request, once.

        ``digests`` (KB-JWTs accepted with a verified outcome) are recorded in the same
        transaction. Raises ``request_answered`` when the request was answered already (by a
        concurrent response too), ``expired`` when it has expired, ``replayed`` when a digest
        was accepted before (then nothing is written).
        """
        table = presentation_requests_table
        with write_transaction(self.engine) as conn:
            rows = [
                {"digest": d, "relying_party": relying_party, "expires_at": replay_until}
                for d in digests
            ]
            if rows and _insert_new(conn, verifier_replay_table, rows) != len(rows):
                raise CivicError("replayed", "a presentation in this response was accepted before")
            changed = conn.execute(
                update(table)
                .where(table.c.id == request_id)
                .where(table.c.status == "pending")
                .where(table.c.expires_at > now)
                .values(
                    status=status,
                    result=result,
                    error_code=error_code,
                    error_detail=error_detail,
                    answered_at=now,
                )
            ).rowcount
            if changed != 1:
                current = conn.execute(
                    select(table.c.status, table.c.expires_at).where(table.c.id == request_id)
                ).first()
                if current is None:
                    raise CivicError("not_found", "no such presentation request")
                check_answerable(current.status, int(current.expires_at), now)
                # Pending and unexpired, yet not updated: only a concurrent answer does that.
                raise CivicError("request_answered", "this request has been answered already")

    # --- the replay guard ----------------------------------------------------------------

    def remember(self, digest: str, *, relying_party: str, until: int) -> None:
        """Record an accepted KB-JWT digest; ``replayed`` if it was accepted before."""
        row = {"digest": digest, "relying_party": relying_party, "expires_at": until}
        with self.engine.begin() as conn:
            if _insert_new(conn, verifier_replay_table, [row]) != 1:
                raise CivicError("replayed", "this presentation was accepted before")

    def remember_many(self, rows: list[tuple[str, str, int]]) -> set[str]:
        """Record ``(digest, relying party, until)`` rows in one transaction; return the digests
        that were new (a digest listed twice is recorded once).

        This is the verify endpoint's one write, so it is one plain multi-row statement (no
        query compilation): ``INSERT ... ON CONFLICT (digest) DO NOTHING RETURNING digest``,
        valid on SQLite (>= 3.35) and PostgreSQL alike.
        """
        unique = list({digest: (digest, rp, until) for digest, rp, until in rows}.values())
        if not unique:
            return set()
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        new: set[str] = set()
        with self.engine.begin() as conn:
            for start in range(0, len(unique), _ROWS_PER_INSERT):
                chunk = unique[start : start + _ROWS_PER_INSERT]
                values = ", ".join([f"({mark}, {mark}, {mark})"] * len(chunk))
                # Only placeholders are formatted into the statement; every value is bound.
                statement = (
                    "INSERT INTO verifier_replay (digest, relying_party, expires_at) "  # noqa: S608
                    f"VALUES {values} ON CONFLICT (digest) DO NOTHING RETURNING digest"
                )
                params = tuple(value for row in chunk for value in row)
                new.update(row[0] for row in conn.exec_driver_sql(statement, params))
        return new

    def purge(self, now: int, *, keep_requests: int = 30 * 86_400) -> int:
        """Drop replay digests past their use, and answered or expired requests older than
        ``keep_requests`` seconds; return how many rows went."""
        gone = 0
        with write_transaction(self.engine) as conn:
            gone += conn.execute(
                delete(verifier_replay_table).where(verifier_replay_table.c.expires_at < now)
            ).rowcount
            gone += conn.execute(
                delete(presentation_requests_table).where(
                    presentation_requests_table.c.expires_at < now - keep_requests
                )
            ).rowcount
        return gone

    # --- API keys ------------------------------------------------------------------------

    def add_key(self, key_id: str, relying_party: str, secret_hash: str, *, now: int) -> None:
        """Record a new API key."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(verifier_api_keys_table).values(
                    id=key_id,
                    relying_party=relying_party,
                    secret_hash=secret_hash,
                    created_at=now,
                )
            )

    def key(self, key_id: str) -> Row[Any] | None:
        """The API key ``key_id``'s row (``id``, ``relying_party``, ``secret_hash``,
        ``created_at``, ``revoked_at``), if it exists."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(verifier_api_keys_table).where(verifier_api_keys_table.c.id == key_id)
            ).first()

    def keys(self, relying_party: str) -> tuple[Row[Any], ...]:
        """The rows of every API key of ``relying_party``, oldest first."""
        table = verifier_api_keys_table
        with self.engine.connect() as conn:
            return tuple(
                conn.execute(
                    select(table)
                    .where(table.c.relying_party == relying_party)
                    .order_by(table.c.created_at, table.c.id)
                ).all()
            )

    def revoke_key(self, key_id: str, *, now: int) -> None:
        """Revoke an API key (``not_found`` if there is no such live key)."""
        table = verifier_api_keys_table
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(table)
                .where(table.c.id == key_id)
                .where(table.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
        if changed != 1:
            raise CivicError("not_found", "no such API key")
