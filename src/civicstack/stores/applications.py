"""Citizens' applications for credentials, and their proof documents' records, as kept.

What an application is and the rule that it is decided once are in
:mod:`civicstack.openid4vci.applications`; :class:`ApplicationStore` implements the
:class:`civicstack.services.review.ApplicationRecords` Protocol.

Tables (Alembic branch ``issuance``, with :mod:`civicstack.stores.issuance`):

``issuance_applications``  citizens' applications: claims (sealed like an offer's), status
                           (``pending`` → ``approved`` or ``rejected``, once), the findings of
                           the automatic checks, reviewer, reason, timestamps.
                           ``documents_expired_at`` records when the retention schedule
                           deleted the documents' files.
``issuance_documents``     their proof documents by SHA-256, size and sniffed media type (the
                           bytes live in the content-addressed
                           :class:`civicstack.stores.documents.DocumentStore`); the uploader's
                           file name is never stored. The rows outlive the files.
``issuance_submission_buckets``  the submission rate's token bucket of each client, as its
                           theoretical arrival time (:mod:`civicstack.services.issuer.intake`).

Submissions, and deleting expired documents' files, are serialised by
:meth:`ApplicationStore.serialise_documents` inside their write transaction (SQLite's
``BEGIN IMMEDIATE`` already does; on PostgreSQL a transaction-scoped advisory lock): the quota
is checked against what is committed, and a file is never deleted while a submission that
refers to the same bytes is on its way to commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.errors import CivicError
from civicstack.openid4vci.applications import (
    Application,
    DocumentRef,
    Finding,
    Status,
    check_undecided,
)
from civicstack.stores.authorities import authorities_table
from civicstack.stores.db import metadata, write_transaction
from civicstack.stores.issuance import (
    RowSealer,
    check_row_id,
    issuance_offers_table,
    issuer_id,
)
from civicstack.trust.parties import check_slug

issuance_applications_table = Table(
    "issuance_applications",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("authority_id", Integer, ForeignKey("authorities.id"), nullable=False),
    Column("configuration_id", String(256), nullable=False),
    Column("claims", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("findings", Text, nullable=False),
    Column("reviewer", String(256), nullable=True),
    Column("reason", Text, nullable=True),
    Column("submitted_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    Column("documents_expired_at", BigInteger, nullable=True),
    CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
    Index("ix_issuance_applications_authority_status", "authority_id", "status"),
)
issuance_documents_table = Table(
    "issuance_documents",
    metadata,
    Column("application_id", String(32), ForeignKey("issuance_applications.id"), primary_key=True),
    Column("position", SmallInteger, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(64), nullable=False),
)
issuance_submission_buckets_table = Table(
    "issuance_submission_buckets",
    metadata,
    Column("client", String(64), primary_key=True),
    Column("arrival", Float, nullable=False),
)

#: The PostgreSQL advisory lock (transaction-scoped) that serialises submissions and expiry.
DOCUMENTS_LOCK = 0x63697669635F646F  # "civic_do"


class ApplicationStore:
    """Applications and their documents' records."""

    def __init__(self, engine: Engine, key: Callable[[], bytes]) -> None:
        self.engine = engine
        self.sealer = RowSealer(key)

    def create_application(
        self,
        application: Application,
        *,
        conn: Connection,
    ) -> None:
        """Inside the caller's transaction: record a submitted application."""
        conn.execute(
            insert(issuance_applications_table).values(
                id=application.id,
                authority_id=issuer_id(conn, application.issuer),
                configuration_id=application.vct,
                claims=self.sealer.seal("application", application.id, dict(application.claims)),
                status=application.status,
                findings=json_dumps([f.to_json() for f in application.findings]).decode(),
                reviewer=application.reviewer,
                reason=application.reason,
                submitted_at=application.submitted_at,
                decided_at=application.decided_at,
                documents_expired_at=application.documents_expired_at,
            )
        )
        for position, doc in enumerate(application.documents):
            conn.execute(
                insert(issuance_documents_table).values(
                    application_id=application.id,
                    position=position,
                    sha256=doc.sha256,
                    size=doc.size,
                    media_type=doc.media_type,
                )
            )

    def application(
        self, authority: str, application_id: str, *, conn: Connection | None = None
    ) -> Application:
        """One application of ``authority``; ``not_found`` otherwise."""
        with _maybe_connection(self.engine, conn) as c:
            row = c.execute(
                _applications_query().where(
                    (issuance_applications_table.c.id == check_row_id(application_id, "an id"))
                    & (authorities_table.c.name == authority)
                )
            ).first()
            if row is None:
                raise CivicError("not_found", f"{authority} has no application {application_id!r}")
            return self._to_application(c, row)

    def applications(
        self, authority: str, *, status: Status | None = None, limit: int = 200
    ) -> tuple[Application, ...]:
        """``authority``'s applications (with ``status``), oldest first: a review queue."""
        query = _applications_query().where(authorities_table.c.name == check_slug(authority))
        if status is not None:
            query = query.where(issuance_applications_table.c.status == status)
        query = query.order_by(
            issuance_applications_table.c.submitted_at, issuance_applications_table.c.id
        ).limit(max(1, min(limit, 1000)))
        with self.engine.connect() as conn:
            return tuple(self._to_application(conn, row) for row in conn.execute(query).all())

    def _to_application(self, conn: Connection, row: Any) -> Application:
        docs = conn.execute(
            select(issuance_documents_table)
            .where(issuance_documents_table.c.application_id == row.id)
            .order_by(issuance_documents_table.c.position)
        ).all()
        offer = conn.execute(
            select(issuance_offers_table.c.id).where(
                issuance_offers_table.c.application_id == row.id
            )
        ).first()
        claims = self.sealer.open("application", row.id, row.claims)
        return Application(
            id=row.id,
            issuer=row.authority,
            vct=row.configuration_id,
            claims=claims if isinstance(claims, dict) else {},
            documents=tuple(DocumentRef(d.sha256, int(d.size), d.media_type) for d in docs),
            status=cast(Status, row.status),
            findings=tuple(Finding.from_json(f) for f in json_loads_strict(row.findings)),
            submitted_at=int(row.submitted_at),
            reviewer=row.reviewer,
            reason=row.reason,
            decided_at=None if row.decided_at is None else int(row.decided_at),
            offer_id=offer.id if offer is not None else None,
            documents_expired_at=None
            if row.documents_expired_at is None
            else int(row.documents_expired_at),
        )

    def decide(
        self,
        authority: str,
        application_id: str,
        *,
        status: Status,
        reviewer: str,
        reason: str | None,
        now: int,
    ) -> Application:
        """Approve or reject a pending application, once (``conflict`` if already decided)."""
        with write_transaction(self.engine) as conn:
            current = self.application(authority, application_id, conn=conn)
            check_undecided(current)
            done = conn.execute(
                update(issuance_applications_table)
                .where(
                    (issuance_applications_table.c.id == current.id)
                    & (issuance_applications_table.c.status == "pending")
                )
                .values(status=status, reviewer=reviewer, reason=reason, decided_at=now)
            ).rowcount
            if done != 1:  # decided by another transaction since it was read
                check_undecided(self.application(authority, application_id, conn=conn))
                raise CivicError("conflict", f"application {application_id} changed meanwhile")
        return replace(current, status=status, reviewer=reviewer, reason=reason, decided_at=now)

    def document_hashes(self, *, conn: Connection | None = None) -> set[str]:
        """The SHA-256 of every document whose file some application still keeps (its
        documents not expired)."""
        query = (
            select(issuance_documents_table.c.sha256)
            .select_from(issuance_documents_table.join(issuance_applications_table))
            .where(issuance_applications_table.c.documents_expired_at.is_(None))
            .distinct()
        )
        with _maybe_connection(self.engine, conn) as c:
            return {row.sha256 for row in c.execute(query)}

    # --- intake: the documents' lock and quota, the submission rate ----------------------------

    def serialise_documents(self, conn: Connection) -> None:
        """Inside a write transaction: wait until no other submission or expiry holds the
        documents (SQLite: the transaction's write lock already does)."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DOCUMENTS_LOCK})

    def pending_document_bytes(self, *, conn: Connection) -> int:
        """The bytes of the documents of pending applications whose files are kept."""
        used = conn.execute(
            select(func.coalesce(func.sum(issuance_documents_table.c.size), 0))
            .select_from(issuance_documents_table.join(issuance_applications_table))
            .where(
                (issuance_applications_table.c.status == "pending")
                & issuance_applications_table.c.documents_expired_at.is_(None)
            )
        ).scalar_one()
        return int(used)

    def spend_submission_token(
        self, client: str, *, now: int, admit: Callable[[float | None, int], float]
    ) -> None:
        """Spend one of ``client``'s tokens: ``admit`` (the rate's pure rule) maps the stored
        arrival time to the new one, or raises, which leaves the bucket as it was."""
        table = issuance_submission_buckets_table
        with write_transaction(self.engine) as conn:
            fresh = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)
            conn.execute(fresh.values(client=client, arrival=float(now)).on_conflict_do_nothing())
            arrival = conn.execute(
                select(table.c.arrival).where(table.c.client == client).with_for_update()
            ).scalar_one()
            conn.execute(
                update(table)
                .where(table.c.client == client)
                .values(arrival=admit(float(arrival), now))
            )

    def forget_full_buckets(self, *, now: int) -> int:
        """Delete the buckets full again by ``now`` (a missing bucket is a full one); how many."""
        table = issuance_submission_buckets_table
        with write_transaction(self.engine) as conn:
            return int(conn.execute(delete(table).where(table.c.arrival <= now)).rowcount)

    # --- retention ---------------------------------------------------------------------------

    def expire_documents(
        self, *, decided_before: int, submitted_before: int, now: int, conn: Connection
    ) -> set[str]:
        """Inside the caller's transaction: mark the documents of applications decided before
        ``decided_before``, or pending and submitted before ``submitted_before``, as expired
        at ``now``; the SHA-256 of the documents just expired."""
        apps, docs = issuance_applications_table, issuance_documents_table
        due = (
            apps.c.documents_expired_at.is_(None)
            & exists().where(docs.c.application_id == apps.c.id)
            & (
                (apps.c.status.in_(("approved", "rejected")) & (apps.c.decided_at < decided_before))
                | ((apps.c.status == "pending") & (apps.c.submitted_at < submitted_before))
            )
        )
        ids = [row.id for row in conn.execute(select(apps.c.id).where(due).with_for_update())]
        if not ids:
            return set()
        hashes: set[str] = set()
        for start in range(0, len(ids), 500):  # keep IN lists short
            chunk = ids[start : start + 500]
            conn.execute(update(apps).where(apps.c.id.in_(chunk)).values(documents_expired_at=now))
            of_chunk = select(docs.c.sha256).where(docs.c.application_id.in_(chunk))
            hashes.update(row.sha256 for row in conn.execute(of_chunk))
        return hashes

    def has_document(self, authority: str, application_id: str, sha256: str) -> DocumentRef:
        """The document ``sha256`` of an application; ``not_found`` otherwise, and
        ``documents_expired`` when the retention schedule deleted its file."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(issuance_documents_table, issuance_applications_table.c.documents_expired_at)
                .select_from(
                    issuance_documents_table.join(issuance_applications_table).join(
                        authorities_table
                    )
                )
                .where(
                    (issuance_documents_table.c.application_id == application_id)
                    & (issuance_documents_table.c.sha256 == sha256)
                    & (authorities_table.c.name == authority)
                )
            ).first()
        if row is None:
            raise CivicError("not_found", "no such document in this application")
        if row.documents_expired_at is not None:
            raise CivicError(
                "documents_expired",
                f"the documents of application {application_id} were deleted at"
                f" {int(row.documents_expired_at)} under the retention schedule",
            )
        return DocumentRef(row.sha256, int(row.size), row.media_type)


def _applications_query() -> Any:
    return select(
        issuance_applications_table, authorities_table.c.name.label("authority")
    ).select_from(issuance_applications_table.join(authorities_table))


@contextmanager
def _maybe_connection(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    if conn is not None:
        yield conn
    else:
        with engine.connect() as own:
            yield own
