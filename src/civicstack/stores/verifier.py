"""The verifier's storage: presentation requests, the replay guard, relying parties' API keys.

Tables (Alembic branch ``verifier``):

``presentation_requests``  one row per OpenID4VP request a relying party made: who asked (the
                           hosted relying party's name and its ``client_id``), for which purpose
                           (and preset), the DCQL query, ``nonce`` and ``state``, the signed
                           Request Object, when it was made and when it expires, and its
                           outcome: ``pending`` until a valid answer makes it ``verified``
                           (``failed`` only in rows from before failed answers became
                           attempts). A request is answered once: the outcome is written by a
                           conditional update that only a ``pending`` row matches, so of
                           concurrent answers exactly one wins, in any number of processes, on
                           SQLite and PostgreSQL alike. The result of a verified request (the
                           claims learnt) is sealed (AES-256-GCM under a key derived from the
                           master key, bound to the request's id) in ``result_sealed``, and set
                           to NULL when its relying party takes it (``result_fetched_at``) or
                           when its retention passes; ``attempt_count`` counts failed answers.
``presentation_attempts``  the first few failed answers of each request: when, the error code,
                           a short description (nothing of the presentation itself).
``verifier_replay``        the SHA-256 of every Key Binding JWT accepted (its signing input: a
                           re-encoded ECDSA signature changes nothing), kept for as long as the
                           KB-JWT could still pass the freshness check; accepting the same one
                           again is ``replayed``. The insert and the request's outcome commit in
                           one transaction, or neither does.
``verifier_api_keys``      per relying party API keys for its backend: a public id and the
                           SHA-256 of the secret (the secret itself is shown once, never kept).

Nothing here holds a presentation, and nothing holds the claims learnt in clear: they wait,
sealed, for their relying party, never the credentials they came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
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
from civicstack.openid4vp.verifier_requests import (
    MAX_RECORDED_ATTEMPTS,
    Attempt,
    RequestStatus,
    StoredRequest,
    check_answerable,
    result_expired,
    result_gone,
)
from civicstack.stores.db import insert_new, metadata, write_transaction
from civicstack.stores.issuance.sealing import RowSealer

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
    Column("error_code", String(64), nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("answered_at", BigInteger, nullable=True),
    Column("result_sealed", LargeBinary, nullable=True),
    Column("result_fetched_at", BigInteger, nullable=True),
    Column("attempt_count", Integer, nullable=False, server_default="0"),
    CheckConstraint("status IN ('pending', 'verified', 'failed')", name="status"),
)
presentation_attempts_table = Table(
    "presentation_attempts",
    metadata,
    Column("request_id", String(32), ForeignKey("presentation_requests.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", BigInteger, nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("detail", String(256), nullable=False),
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


def _request(row: Any, attempts: Iterable[Any] = ()) -> StoredRequest:
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
        error_code=row.error_code,
        error_detail=row.error_detail,
        answered_at=None if row.answered_at is None else int(row.answered_at),
        result_kept=bool(row.result_kept),
        result_fetched_at=None if row.result_fetched_at is None else int(row.result_fetched_at),
        attempt_count=int(row.attempt_count),
        attempts=tuple(Attempt(int(a.at), a.error_code, a.detail) for a in attempts),
    )


#: Every column of a request but its sealed result, and whether that is still held.
_REQUEST_COLUMNS = [
    *(c for c in presentation_requests_table.c if c.name != "result_sealed"),
    presentation_requests_table.c.result_sealed.is_not(None).label("result_kept"),
]


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
    """Presentation requests, accepted KB-JWT digests and API keys; ``key`` gives the key that
    seals verified results (derived from the master key, read only when needed)."""

    def __init__(self, engine: Engine, key: Callable[[], bytes]) -> None:
        self.engine = engine
        self.sealer = RowSealer(key, domain="verifier")

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
        """The request ``request_id`` with its attempts (not its result); ``not_found``
        otherwise."""
        table, attempts = presentation_requests_table, presentation_attempts_table
        with self.engine.connect() as conn:
            row = conn.execute(select(*_REQUEST_COLUMNS).where(table.c.id == request_id)).first()
            if row is None:
                raise CivicError("not_found", "no such presentation request")
            tried = conn.execute(
                select(attempts).where(attempts.c.request_id == request_id).order_by(attempts.c.seq)
            ).all()
        return _request(row, tried)

    def by_state(self, state: str) -> StoredRequest | None:
        """The request whose ``state`` is ``state``, if any (without its attempts)."""
        table = presentation_requests_table
        with self.engine.connect() as conn:
            row = conn.execute(select(*_REQUEST_COLUMNS).where(table.c.state == state)).first()
        return None if row is None else _request(row)

    def finish(
        self,
        request_id: str,
        *,
        status: RequestStatus,
        now: int,
        result: Mapping[str, Any] | None = None,
        error_code: str | None = None,
        error_detail: str | None = None,
        digests: Iterable[str] = (),
        relying_party: str = "",
        replay_until: int = 0,
    ) -> None:
        """Write the outcome of a pending, unexpired request, once; ``result`` is sealed.

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
                    result_sealed=None
                    if result is None
                    else self.sealer.seal("result", request_id, dict(result)),
                    error_code=error_code,
                    error_detail=error_detail,
                    answered_at=now,
                )
            ).rowcount
            if changed != 1:
                self._why_not_pending(conn, request_id, now)

    def record_attempt(self, request_id: str, *, now: int, error_code: str, detail: str) -> None:
        """Count a failed answer to a pending, unexpired request, and keep it if it is among
        the first :data:`MAX_RECORDED_ATTEMPTS`; ``request_answered`` or ``expired`` (nothing
        written) otherwise."""
        table = presentation_requests_table
        with write_transaction(self.engine) as conn:
            # One conditional increment: the row lock orders it against a concurrent answer
            # and other attempts, so every attempt gets its own number.
            count = conn.execute(
                update(table)
                .where(table.c.id == request_id)
                .where(table.c.status == "pending")
                .where(table.c.expires_at > now)
                .values(attempt_count=table.c.attempt_count + 1)
                .returning(table.c.attempt_count)
            ).scalar()
            if count is None:
                self._why_not_pending(conn, request_id, now)
            elif count <= MAX_RECORDED_ATTEMPTS:
                conn.execute(
                    insert(presentation_attempts_table).values(
                        request_id=request_id,
                        seq=count,
                        at=now,
                        error_code=error_code[:64],
                        detail=detail[:256],
                    )
                )

    def take_result(self, request_id: str, *, now: int, retention: int) -> dict[str, Any]:
        """Hand over a verified request's result, once: it is deleted as it is read.

        ``result_fetched`` when it was taken before (by a concurrent reader too),
        ``result_purged`` when its ``retention`` (seconds after the answer) has passed: then it
        is deleted now if a purge had not yet.
        """
        table = presentation_requests_table
        taken: bytes | None = None
        fetched_at: Any = None
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                select(table.c.result_sealed, table.c.answered_at).where(table.c.id == request_id)
            ).first()
            if row is None:
                raise CivicError("not_found", "no such presentation request")
            answered_at = None if row.answered_at is None else int(row.answered_at)
            keep = row.result_sealed is not None and not result_expired(answered_at, now, retention)
            # The update takes only a blob still there: of concurrent readers one wins.
            changed = conn.execute(
                update(table)
                .where(table.c.id == request_id)
                .where(table.c.result_sealed.is_not(None))
                .values(result_sealed=None, result_fetched_at=now if keep else None)
            ).rowcount
            if keep and changed == 1:
                taken = bytes(row.result_sealed)
            else:
                fetched_at = conn.execute(
                    select(table.c.result_fetched_at).where(table.c.id == request_id)
                ).scalar()
        if taken is None:
            raise result_gone(None if fetched_at is None else int(fetched_at))
        result: dict[str, Any] = self.sealer.open("result", request_id, taken)
        return result

    @staticmethod
    def _why_not_pending(conn: Connection, request_id: str, now: int) -> None:
        table = presentation_requests_table
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
        if not rows:
            return set()
        with self.engine.begin() as conn:
            columns = ("digest", "relying_party", "expires_at")
            return insert_new(conn, "verifier_replay", columns, "digest", rows)

    def purge(self, now: int, *, result_retention: int, keep_requests: int = 30 * 86_400) -> int:
        """Drop replay digests past their use, results unread ``result_retention`` seconds
        after their answer (the request's metadata stays), and answered or expired requests
        older than ``keep_requests`` seconds; return how many rows went or were cleared."""
        table, attempts = presentation_requests_table, presentation_attempts_table
        old = select(table.c.id).where(table.c.expires_at < now - keep_requests)
        gone = 0
        with write_transaction(self.engine) as conn:
            gone += conn.execute(
                delete(verifier_replay_table).where(verifier_replay_table.c.expires_at < now)
            ).rowcount
            gone += conn.execute(
                update(table)
                .where(table.c.result_sealed.is_not(None))
                .where(table.c.answered_at <= now - result_retention)
                .values(result_sealed=None)
            ).rowcount
            conn.execute(delete(attempts).where(attempts.c.request_id.in_(old)))
            gone += conn.execute(
                delete(table).where(table.c.expires_at < now - keep_requests)
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
