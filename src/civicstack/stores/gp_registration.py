"""GP registration's storage (Alembic branch ``gp_registration``).

``gp_practices``      a registered organisation and the ODS code (``gp-practice`` register key)
                      it acts as; one organisation per code.
``gp_registrations``  each registration: the practice, the previous one, the patient's pairwise
                      id at the new practice, the consent and the access-log index of the fetch.
``gp_relatives``      the relatives named in a registration and their consent requests' ids.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from civicstack.errors import CivicError
from civicstack.gp import PracticeLink, Registration, RelativeAsked
from civicstack.stores.db import metadata, write_transaction

__all__ = ["GpStore"]

gp_practices_table = Table(
    "gp_practices",
    metadata,
    Column("organisation", String(64), primary_key=True),
    Column("ods_code", String(16), nullable=False),
    Column("linked_at", BigInteger, nullable=False),
    UniqueConstraint("ods_code", name="uq_gp_practices_ods_code"),
)
gp_registrations_table = Table(
    "gp_registrations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("practice", String(64), nullable=False),
    Column("ods_code", String(16), nullable=False),
    Column("previous", String(64), nullable=False),
    Column("subject", String(43), nullable=False),
    Column("consent", String(64), nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
gp_relatives_table = Table(
    "gp_relatives",
    metadata,
    Column("registration", String(32), ForeignKey("gp_registrations.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("relationship", String(32), nullable=False),
    Column("practice", String(64), nullable=False),
    Column("request", String(32), nullable=False),
)


class GpStore:
    """:class:`~civicstack.services.gp_registration.storage.GpStorage` in SQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def link(self, link: PracticeLink, *, now: int) -> None:
        """Tie an organisation to an ODS code; ``conflict`` if another holds the code."""
        t = gp_practices_table
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(delete(t).where(t.c.organisation == link.organisation))
                conn.execute(
                    insert(t).values(
                        organisation=link.organisation, ods_code=link.ods_code, linked_at=now
                    )
                )
        except IntegrityError as exc:
            raise CivicError(
                "conflict", f"another organisation is practice {link.ods_code}"
            ) from exc

    def by_code(self, ods_code: str) -> PracticeLink | None:
        """The organisation linked to ``ods_code``."""
        t = gp_practices_table
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.organisation).where(t.c.ods_code == ods_code)).first()
        return None if row is None else PracticeLink(row.organisation, ods_code)

    def links(self) -> Sequence[PracticeLink]:
        """Every link, by ODS code."""
        t = gp_practices_table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.organisation, t.c.ods_code).order_by(t.c.ods_code))
            return [PracticeLink(r.organisation, r.ods_code) for r in rows]

    def add(self, registration: Registration) -> None:
        """Keep a registration and its relatives in one transaction."""
        r = registration
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(gp_registrations_table).values(
                    id=r.id,
                    practice=r.practice,
                    ods_code=r.ods_code,
                    previous=r.previous,
                    subject=r.subject,
                    consent=r.consent,
                    log_index=r.log_index,
                    created_at=r.created_at,
                )
            )
            if r.relatives:
                conn.execute(
                    insert(gp_relatives_table),
                    [
                        {
                            "registration": r.id,
                            "position": n,
                            "relationship": a.relationship,
                            "practice": a.practice,
                            "request": a.request,
                        }
                        for n, a in enumerate(r.relatives)
                    ],
                )

    def get(self, registration_id: str) -> Registration:
        """A registration (``not_found`` otherwise)."""
        g, rel = gp_registrations_table, gp_relatives_table
        with self.engine.connect() as conn:
            row = conn.execute(select(g).where(g.c.id == registration_id)).first()
            if row is None:
                raise CivicError("not_found", "no such registration")
            relatives = conn.execute(
                select(rel.c.relationship, rel.c.practice, rel.c.request)
                .where(rel.c.registration == registration_id)
                .order_by(rel.c.position)
            ).all()
        return Registration(
            row.id,
            row.practice,
            row.ods_code,
            row.previous,
            row.subject,
            row.consent,
            row.log_index,
            row.created_at,
            tuple(RelativeAsked(a.relationship, a.practice, a.request) for a in relatives),
        )
