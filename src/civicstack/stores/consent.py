"""The consent service's storage (Alembic branch ``consent``).

``consent_requests``  one row per request a requester made: who asks whom (the citizen by the
                      requester's pairwise id) for what, and its state: ``pending`` until the
                      citizen's answer closes it (a conditional update only a pending row
                      matches, so of two concurrent answers one wins).
``consents``          one row per consent: its current version, the requester and the citizen's
                      pairwise id there (for listings and ``log_subject_for``), the access-log
                      handle (for the citizen's own listing) and, for a "once" consent, when
                      its access was covered.
``consent_versions``  every version of every consent record, never updated nor deleted: the
                      record as JSON (fields of :class:`civicstack.consent.ConsentRecord`, with
                      the citizen's signed decision, the PID presentation and any withdrawal).
                      The PID presentation discloses who the citizen is (their national number):
                      it is kept sealed (AES-256-GCM under a key derived from the platform's
                      master key, bound to the consent id and version), as ``sealed:<b64url>``;
                      a record written before sealing is read as it was written.
``consent_subjects``  (sector, pairwise id) -> access-log handle, for the citizens the platform
                      has met through a consent or a consent request.
``consent_nonces``    the nonces used by a verified PID presentation, each written once (a replay
                      is refused) and kept until it expires; nonces are handed out without
                      storage (:mod:`civicstack.consent.nonces`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from civicstack._crypto import b64url_decode, b64url_encode, json_dumps, json_loads_strict
from civicstack.consent import ConsentRecord, ConsentRequest, CoveredAccess
from civicstack.errors import CivicError, RetryLaterError
from civicstack.stores.db import DirectReads, any_of, metadata, write_transaction
from civicstack.stores.issuance.sealing import RowSealer

__all__ = ["ConsentStore"]


consent_requests_table = Table(
    "consent_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("requester", String(64), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("dpv_purpose", String(64), nullable=False),
    Column("categories", Text, nullable=False),
    Column("subject", String(43), nullable=False),
    Column("once", Boolean, nullable=False),
    Column("valid_days", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("answered_at", BigInteger, nullable=True),
    Column("consent_id", String(32), nullable=True),
    CheckConstraint("state IN ('pending', 'given', 'refused')", name="state"),
    Index("ix_consent_requests_requester_subject", "requester", "subject", "state"),
    Index("ix_consent_requests_requester_created", "requester", "created_at"),
    Index("ix_consent_requests_state_expires", "state", "expires_at"),
)
consents_table = Table(
    "consents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("requester", String(64), nullable=False),
    Column("requester_subject", String(43), nullable=False),
    Column("log_subject", String(43), nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
    Index("ix_consents_requester_created", "requester", "created_at"),
)
consent_versions_table = Table(
    "consent_versions",
    metadata,
    Column("consent_id", String(32), ForeignKey("consents.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("state", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("record", Text, nullable=False),
)
consent_subjects_table = Table(
    "consent_subjects",
    metadata,
    Column("sector", String(128), primary_key=True),
    Column("subject", String(43), primary_key=True),
    Column("log_subject", String(43), nullable=False),
)
consent_nonces_table = Table(
    "consent_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
    Column("used_at", BigInteger, nullable=True),
)


def _request(row: Any) -> ConsentRequest:
    return ConsentRequest(
        id=row.id,
        requester=row.requester,
        provider=row.provider,
        purpose=row.purpose,
        dpv_purpose=row.dpv_purpose,
        categories=tuple(json_loads_strict(row.categories)),
        subject=row.subject,
        once=bool(row.once),
        valid_days=int(row.valid_days),
        created_at=int(row.created_at),
        expires_at=int(row.expires_at),
        state=row.state,
        answered_at=None if row.answered_at is None else int(row.answered_at),
        consent_id=row.consent_id,
    )


#: How a sealed PID presentation starts inside a stored record.
_SEALED = "sealed:"


def _seal_presentation(sealer: RowSealer, record: ConsentRecord) -> str:
    blob = sealer.seal("presentation", f"{record.id}/{record.version}", record.presentation)
    return _SEALED + b64url_encode(blob)


def _dump(record: ConsentRecord, sealer: RowSealer) -> str:
    return json_dumps(
        {
            "id": record.id,
            "version": record.version,
            "state": record.state,
            "requester": record.requester,
            "provider": record.provider,
            "purpose": record.purpose,
            "dpv_purpose": record.dpv_purpose,
            "categories": list(record.categories),
            "requester_subject": record.requester_subject,
            "provider_subject": record.provider_subject,
            "log_subject": record.log_subject,
            "valid_from": record.valid_from,
            "valid_until": record.valid_until,
            "once": record.once,
            "request_id": record.request_id,
            "created_at": record.created_at,
            "holder_jwk": dict(record.holder_jwk),
            "signature": record.signature,
            "presentation": _seal_presentation(sealer, record),
            "withdrawal": record.withdrawal,
            "legal_basis": record.legal_basis,
        }
    ).decode()


def _load(text: str, used_at: Any, sealer: RowSealer) -> ConsentRecord:
    value = json_loads_strict(text)
    value["categories"] = tuple(value["categories"])
    presentation = value["presentation"]
    if isinstance(presentation, str) and presentation.startswith(_SEALED):
        row = f"{value['id']}/{value['version']}"
        blob = b64url_decode(presentation[len(_SEALED) :])
        value["presentation"] = sealer.open("presentation", row, blob)
    return ConsentRecord(**value, used_at=None if used_at is None else int(used_at))


def _insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    stmt: Any = (
        pg_insert(table).on_conflict_do_nothing()
        if conn.dialect.name == "postgresql"
        else sqlite_insert(table).on_conflict_do_nothing()
    )
    for row in rows:
        conn.execute(stmt, row)


_CURRENT = select(consent_versions_table.c.record, consents_table.c.used_at).select_from(
    consents_table.join(
        consent_versions_table,
        and_(
            consent_versions_table.c.consent_id == consents_table.c.id,
            consent_versions_table.c.version == consents_table.c.version,
        ),
    )
)

#: :data:`_CURRENT` of one consent, as the driver's SQL.
_CURRENT_SQL = (
    "SELECT consent_versions.record, consents.used_at FROM consents JOIN consent_versions"
    " ON consent_versions.consent_id = consents.id AND consent_versions.version = consents.version"
    " WHERE consents.id = ?"
)

_CURRENT_MANY_SQL = _CURRENT_SQL.replace("consents.id = ?", "consents.id {in_keys}")
#: Keys per read of :meth:`ConsentStore.latest_many` (well under SQLite's bound parameters).
_KEYS_PER_READ = 500


class ConsentStore:
    """Consent requests, records (every version), met subjects and nonces, on ``engine``."""

    def __init__(self, engine: Engine, key: Callable[[], bytes]) -> None:
        """``key``: the 32-byte key sealing the PID presentations in consent records."""
        self.engine = engine
        self.sealer = RowSealer(key, domain="consent")
        # The data exchange reads a consent on every fetch: one indexed join on a kept-open
        # connection, without building and compiling a statement each time.
        self._reads = DirectReads(engine, max_idle=4)

    def close(self) -> None:
        """Close the kept-open read connections."""
        self._reads.close()

    # --- requests ----------------------------------------------------------------------------

    def add_request(self, request: ConsentRequest, *, caps: Any, now: int) -> None:
        """Keep a new pending request within ``caps`` (a :class:`RequestCaps`)."""
        t = consent_requests_table
        with write_transaction(self.engine) as conn:
            pending = and_(t.c.requester == request.requester, t.c.state == "pending")
            live = and_(pending, t.c.expires_at > now)
            recent = conn.execute(
                select(func.count())
                .select_from(t)
                .where(t.c.requester == request.requester, t.c.created_at > now - 60)
            ).scalar_one()
            if recent >= caps.per_minute:
                raise RetryLaterError(
                    "rate_limited", "too many consent requests this minute", retry_after=60
                )
            if (
                conn.execute(
                    select(func.count()).select_from(t).where(live, t.c.subject == request.subject)
                ).scalar_one()
                >= caps.per_subject
            ):
                raise RetryLaterError(
                    "rate_limited",
                    f"{caps.per_subject} requests already wait for this citizen",
                    retry_after=3600,
                )
            if conn.execute(select(func.count()).select_from(t).where(live)).scalar_one() >= (
                caps.per_requester
            ):
                raise RetryLaterError(
                    "rate_limited", "too many of your requests are pending", retry_after=3600
                )
            try:
                conn.execute(
                    insert(t).values(
                        id=request.id,
                        requester=request.requester,
                        provider=request.provider,
                        purpose=request.purpose,
                        dpv_purpose=request.dpv_purpose,
                        categories=json_dumps(list(request.categories)).decode(),
                        subject=request.subject,
                        once=request.once,
                        valid_days=request.valid_days,
                        created_at=request.created_at,
                        expires_at=request.expires_at,
                        state="pending",
                    )
                )
            except IntegrityError as exc:
                raise CivicError("conflict", "a consent request with that id exists") from exc

    def request(self, request_id: str) -> ConsentRequest:
        """The request ``request_id`` (``not_found`` otherwise)."""
        t = consent_requests_table
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == request_id)).first()
        if row is None:
            raise CivicError("not_found", "no such consent request")
        return _request(row)

    def requests_of(
        self, requester: str, *, limit: int, before: int | None = None
    ) -> Sequence[ConsentRequest]:
        """``requester``'s requests, newest first."""
        t = consent_requests_table
        query = select(t).where(t.c.requester == requester)
        if before is not None:
            query = query.where(t.c.created_at < before)
        query = query.order_by(t.c.created_at.desc(), t.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_request(r) for r in conn.execute(query)]

    def pending_requesters(self, now: int, *, limit: int) -> Sequence[str]:
        """Requesters with requests pending at ``now``."""
        t = consent_requests_table
        query = (
            select(t.c.requester)
            .where(t.c.state == "pending", t.c.expires_at > now)
            .distinct()
            .order_by(t.c.requester)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [r.requester for r in conn.execute(query)]

    def pending_for(
        self, subjects: Iterable[tuple[str, str]], now: int, *, limit: int
    ) -> Sequence[ConsentRequest]:
        """Pending requests naming any ``(requester, pairwise id)`` of ``subjects``."""
        pairs = list(subjects)
        if not pairs:
            return []
        t = consent_requests_table
        out: list[ConsentRequest] = []
        with self.engine.connect() as conn:
            for start in range(0, len(pairs), 200):
                chunk = pairs[start : start + 200]
                query = (
                    select(t)
                    .where(
                        t.c.state == "pending",
                        t.c.expires_at > now,
                        or_(*(and_(t.c.requester == r, t.c.subject == s) for r, s in chunk)),
                    )
                    .order_by(t.c.created_at, t.c.id)
                    .limit(limit - len(out))
                )
                out.extend(_request(r) for r in conn.execute(query))
                if len(out) >= limit:
                    break
        return out

    # --- records ------------------------------------------------------------------------------

    def answer(self, record: ConsentRecord, *, now: int) -> None:
        """Close the request and keep version 1, in one transaction."""
        t = consent_requests_table
        with write_transaction(self.engine) as conn:
            closed = conn.execute(
                update(t)
                .where(t.c.id == record.request_id, t.c.state == "pending", t.c.expires_at > now)
                .values(state=record.state, answered_at=now, consent_id=record.id)
            )
            if closed.rowcount != 1:
                raise CivicError(
                    "consent_request_closed", "the consent request was answered meanwhile"
                )
            conn.execute(
                insert(consents_table).values(
                    id=record.id,
                    version=record.version,
                    requester=record.requester,
                    requester_subject=record.requester_subject,
                    log_subject=record.log_subject,
                    created_at=record.created_at,
                )
            )
            conn.execute(
                insert(consent_versions_table).values(
                    consent_id=record.id,
                    version=record.version,
                    state=record.state,
                    created_at=record.created_at,
                    record=_dump(record, self.sealer),
                )
            )
            _insert_new(
                conn,
                consent_subjects_table,
                [
                    {"sector": sector, "subject": subject, "log_subject": record.log_subject}
                    for sector, subject in (
                        (record.requester, record.requester_subject),
                        (record.provider, record.provider_subject),
                    )
                ],
            )

    def add_version(self, record: ConsentRecord, *, previous: int) -> None:
        """Keep the next version of a consent whose current version is ``previous``."""
        c = consents_table
        with write_transaction(self.engine) as conn:
            moved = conn.execute(
                update(c)
                .where(c.c.id == record.id, c.c.version == previous)
                .values(version=record.version)
            )
            if moved.rowcount != 1:
                raise CivicError("conflict", "the consent changed meanwhile: read it again")
            conn.execute(
                insert(consent_versions_table).values(
                    consent_id=record.id,
                    version=record.version,
                    state=record.state,
                    created_at=record.created_at,
                    record=_dump(record, self.sealer),
                )
            )

    def latest(self, consent_id: str) -> ConsentRecord:
        """The current version of ``consent_id``."""
        with self._reads.reading() as fetch:
            rows = fetch(_CURRENT_SQL, (consent_id,))
        if not rows:
            raise CivicError("consent_not_found", "no consent with that id")
        return _load(str(rows[0][0]), rows[0][1], self.sealer)

    def latest_many(self, consent_ids: Sequence[str]) -> dict[str, ConsentRecord]:
        """The current versions of ``consent_ids`` that exist, in one read."""
        rows: list[Any] = []
        with self._reads.reading() as fetch:
            for at in range(0, len(consent_ids), _KEYS_PER_READ):
                keys = consent_ids[at : at + _KEYS_PER_READ]
                rows += fetch(*any_of(_CURRENT_MANY_SQL, keys, sqlite=self._reads.sqlite))
        records = (_load(str(text), used_at, self.sealer) for text, used_at in rows)
        return {record.id: record for record in records}

    def versions(self, consent_id: str) -> Sequence[ConsentRecord]:
        """Every version of ``consent_id``, oldest first."""
        v, c = consent_versions_table, consents_table
        with self.engine.connect() as conn:
            used = conn.execute(select(c.c.used_at).where(c.c.id == consent_id)).first()
            rows = conn.execute(
                select(v.c.record).where(v.c.consent_id == consent_id).order_by(v.c.version)
            ).all()
        if used is None or not rows:
            raise CivicError("consent_not_found", "no consent with that id")
        return [_load(r.record, used.used_at, self.sealer) for r in rows]

    def use(
        self, consent_id: str, decide: Callable[[ConsentRecord], CoveredAccess], *, now: int
    ) -> CoveredAccess:
        """Decide; a "once" consent is marked used in the decision's own transaction."""
        # The common case (until withdrawn) reads only: one indexed join, no write lock.
        covered = decide(self.latest(consent_id))
        if not covered.once:
            return covered
        c = consents_table
        with write_transaction(self.engine) as conn:
            query = _CURRENT.where(c.c.id == consent_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(of=c)
            row = conn.execute(query).first()
            if row is None:  # pragma: no cover - consents are never deleted
                raise CivicError("consent_not_found", "no consent with that id")
            covered = decide(_load(row.record, row.used_at, self.sealer))
            conn.execute(update(c).where(c.c.id == consent_id).values(used_at=now))
        return covered

    def consents_of(
        self, requester: str, *, limit: int, before: int | None = None
    ) -> Sequence[ConsentRecord]:
        """``requester``'s consents, newest first."""
        c = consents_table
        query = _CURRENT.where(c.c.requester == requester)
        if before is not None:
            query = query.where(c.c.created_at < before)
        query = query.order_by(c.c.created_at.desc(), c.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_load(r.record, r.used_at, self.sealer) for r in conn.execute(query)]

    def consents_about(self, log_subject: str, *, limit: int) -> Sequence[ConsentRecord]:
        """The consents of the citizen ``log_subject``, newest first."""
        c = consents_table
        query = (
            _CURRENT.where(c.c.log_subject == log_subject)
            .order_by(c.c.created_at.desc(), c.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_load(r.record, r.used_at, self.sealer) for r in conn.execute(query)]

    # --- subjects -----------------------------------------------------------------------------

    def meet(self, pairs: Iterable[tuple[str, str]], log_subject: str) -> None:
        """Remember each ``(sector, pairwise id)`` as the citizen ``log_subject``."""
        rows = [{"sector": s, "subject": p, "log_subject": log_subject} for s, p in pairs]
        if rows:
            with write_transaction(self.engine) as conn:
                _insert_new(conn, consent_subjects_table, rows)

    def log_subject(self, sector: str, subject: str) -> str | None:
        """The access-log handle of ``subject`` at ``sector``, if met."""
        s = consent_subjects_table
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.c.log_subject).where(
                    tuple_(s.c.sector, s.c.subject) == tuple_(sector, subject)
                )
            ).first()
        return None if row is None else cast(str, row.log_subject)

    # --- nonces -------------------------------------------------------------------------------

    def check_nonce(self, nonce: str, now: int) -> None:
        """``replayed`` if ``nonce`` (one that verified, :mod:`civicstack.consent.nonces`) was
        used already."""
        n = consent_nonces_table
        with self.engine.connect() as conn:
            row = conn.execute(select(n.c.nonce).where(n.c.nonce == nonce)).first()
        if row is not None:
            raise CivicError("replayed", "this nonce was used already")

    def take_nonce(self, nonce: str, *, expires_at: int, now: int) -> None:
        """Write ``nonce`` down as used, once (a concurrent second use: ``replayed``); rows of
        nonces past their expiry, which no check accepts any more, are purged."""
        n = consent_nonces_table
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(delete(n).where(n.c.expires_at < now))
                conn.execute(insert(n).values(nonce=nonce, expires_at=expires_at, used_at=now))
        except IntegrityError as exc:
            raise CivicError("replayed", "this nonce was used already") from exc
