"""Citizens' applications for credentials, and their proof documents' records, as kept.

What an application is and the rule that it is decided once are in
:mod:`civicstack.openid4vci.applications`; :class:`ApplicationStore` implements the
:class:`civicstack.services.review.ApplicationRecords` Protocol.

Tables (Alembic branch ``issuance``, with :mod:`civicstack.stores.issuance`):

``issuance_applications``  citizens' applications: claims (sealed like an offer's), status
                           (``pending`` → ``approved`` or ``rejected``, once), the findings of
                           the automatic checks, reviewer, reason, timestamps.
``issuance_documents``     their proof documents by SHA-256, size and sniffed media type (the
                           bytes live in the content-addressed
                           :class:`civicstack.stores.documents.DocumentStore`); the uploader's
                           file name is never stored.
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
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
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

    def document_hashes(self) -> set[str]:
        """The SHA-256 of every document some application refers to."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(issuance_documents_table.c.sha256).distinct())
            return {row.sha256 for row in rows}

    def has_document(self, authority: str, application_id: str, sha256: str) -> DocumentRef:
        """The document ``sha256`` of an application; ``not_found`` otherwise."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(issuance_documents_table)
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
