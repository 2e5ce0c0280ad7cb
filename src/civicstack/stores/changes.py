"""Storage of tell us once: change reports and the electoral roll (Alembic branch ``changes``).

``change_reports``     every report published: its kind, who signed it (``citizen``, an
                       officer's register entry, or a registrar's identifier, with the
                       registrar's ``jti``, unique per registrar so a report is never
                       registered twice), the signed JWS and the PID presentation that bound
                       it (sealed: AES-256-GCM under a key from the master key, bound to the
                       report id, as ``sealed:<b64url>``), and the event it published. Written
                       in the SAME transaction as the event and its outbox row
                       (:meth:`EventStore.enqueue_in`): both or neither.
``electoral_roll``     one row per stay on an authority's roll: the elector's handle, the
                       pairwise id the authority's registration officer knows them by, the
                       UPRN, when and why they joined, when and why they left (never deleted:
                       the roll's history is the officer's record).
``electoral_opt_outs`` the citizens who opted out of automatic registration.
``electoral_births``   registered births: the child's identifier (to compute the officer's
                       pairwise id at 18), birth date, when they turn 18, their home, and
                       whether the check at 18 placed them.

The delivery progress of a report is read from the events store's tables (deliveries by
event id), never written here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from civicstack._crypto import b64url_decode, b64url_encode
from civicstack.access import DataService
from civicstack.changes.electoral import Placement, RollEntry, plan_move
from civicstack.changes.records import (
    Birth,
    ChangedValue,
    ReportProgress,
    RollChange,
    StoredReport,
)
from civicstack.errors import CivicError
from civicstack.events.notices import Notice
from civicstack.stores.db import metadata, write_transaction
from civicstack.stores.events import EventStore, deliveries_table, outbox_table
from civicstack.stores.exchange import DataServiceStore
from civicstack.stores.issuance.sealing import RowSealer

__all__ = ["ChangeStore"]

reports_table = Table(
    "change_reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("signer", String(200), nullable=False),
    Column("jti", String(64), nullable=True),
    Column("event_id", String(40), nullable=False, index=True),
    Column("event_type", String(128), nullable=False),
    Column("signed", Text, nullable=False),
    Column("presentation", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("signer", "jti", name="uq_change_reports_signer_jti"),
)
roll_table = Table(
    "electoral_roll",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("elector", String(43), nullable=False),
    Column("authority", String(16), nullable=False),
    Column("subject", String(43), nullable=False),
    Column("uprn", String(12), nullable=False),
    Column("registered_at", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("removed_at", BigInteger, nullable=True),
    Column("removed_reason", String(16), nullable=True),
    Index("ix_electoral_roll_elector", "elector", "removed_at"),
    Index("ix_electoral_roll_authority", "authority", "removed_at", "seq"),
)
opt_outs_table = Table(
    "electoral_opt_outs",
    metadata,
    Column("elector", String(43), primary_key=True),
    Column("opted_out_at", BigInteger, nullable=False),
)
births_table = Table(
    "electoral_births",
    metadata,
    Column("elector", String(43), primary_key=True),
    Column("country", String(8), nullable=False),
    Column("number", String(32), nullable=False),
    Column("birthdate", String(10), nullable=False),
    Column("adult_at", BigInteger, nullable=False, index=True),
    Column("uprn", String(12), nullable=True),
    Column("placed_at", BigInteger, nullable=True),
    Column("died_at", BigInteger, nullable=True),
)


def _entry(row: Any) -> RollEntry:
    return RollEntry(
        elector=row.elector,
        authority=row.authority,
        subject=row.subject,
        uprn=row.uprn,
        registered_at=int(row.registered_at),
    )


#: How a sealed PID presentation starts in ``change_reports.presentation``.
_SEALED = "sealed:"


def _report(row: Any, sealer: RowSealer) -> StoredReport:
    presentation = row.presentation
    if isinstance(presentation, str) and presentation.startswith(_SEALED):
        blob = b64url_decode(presentation[len(_SEALED) :])
        presentation = sealer.open("presentation", row.id, blob)
    return StoredReport(
        id=row.id,
        kind=row.kind,
        signer=row.signer,
        jti=row.jti,
        event_id=row.event_id,
        event_type=row.event_type,
        signed=row.signed,
        presentation=presentation,
        created_at=int(row.created_at),
    )


class ChangeStore:
    """Change reports, their events (through the events store's outbox) and the roll."""

    def __init__(
        self,
        engine: Engine,
        events: EventStore,
        records: DataServiceStore,
        value_services: Sequence[DataService],
        key: Callable[[], bytes],
    ) -> None:
        """``records``: where a report's new value is kept for the exchange, in each of
        ``value_services`` (the change service's data services); ``key`` seals the citizen's
        PID presentation kept with a report."""
        self.engine = engine
        self.sealer = RowSealer(key, domain="changes")
        self.events = events
        self.records = records
        self.value_services = tuple(value_services)

    # --- reports ------------------------------------------------------------------------------

    def publish(
        self,
        report: StoredReport,
        notice: Notice,
        *,
        roll: RollChange | None = None,
        birth: Birth | None = None,
        value: ChangedValue | None = None,
        now: int,
    ) -> None:
        """Keep ``report``, put ``notice`` in the outbox, keep its new ``value`` for the
        exchange and move the roll, in ONE transaction (a registrar's ``jti`` seen before:
        ``replayed``, nothing written)."""
        try:
            with write_transaction(self.engine) as conn:
                row = dict(report.__dict__)
                if report.presentation is not None:
                    blob = self.sealer.seal("presentation", report.id, report.presentation)
                    row["presentation"] = _SEALED + b64url_encode(blob)
                conn.execute(insert(reports_table).values(**row))
                self.events.enqueue_in(conn, notice)
                if value is not None:
                    self.records.put_value_in(
                        conn,
                        self.value_services,
                        value.subject,
                        value.category,
                        dict(value.value),
                        now=now,
                    )
                if birth is not None:
                    conn.execute(insert(births_table).values(**birth.__dict__))
                if roll is not None:
                    self._move(conn, roll, now)
        except IntegrityError as exc:
            raise CivicError("replayed", "this report was registered before") from exc

    def report(self, report_id: str) -> StoredReport:
        """One report (``change_not_found``)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(reports_table).where(reports_table.c.id == report_id)).first()
        if row is None:
            raise CivicError("change_not_found", "no change report with that id")
        return _report(row, self.sealer)

    def progress(self, event_id: str) -> ReportProgress:
        """The event's deliveries by state, and whether it has left the outbox."""
        d = deliveries_table
        with self.engine.connect() as conn:
            waiting = conn.execute(
                select(func.count())
                .select_from(outbox_table)
                .where(outbox_table.c.event_id == event_id)
            ).scalar_one()
            rows = conn.execute(
                select(d.c.state, func.count()).where(d.c.event_id == event_id).group_by(d.c.state)
            )
            counts = {str(r[0]): int(r[1]) for r in rows}
        return ReportProgress(fanned_out=int(waiting) == 0, deliveries=counts)

    # --- the roll ------------------------------------------------------------------------------

    def _current(self, conn: Connection, elector: str) -> Any:
        r = roll_table
        stmt = select(r).where(r.c.elector == elector, r.c.removed_at.is_(None))
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return conn.execute(stmt).first()

    def _move(self, conn: Connection, change: RollChange, now: int) -> None:
        elector = change.placement.elector
        current = self._current(conn, elector)
        opted_out = (
            conn.execute(
                select(opt_outs_table.c.elector).where(opt_outs_table.c.elector == elector)
            ).first()
            is not None
        )
        adult = change.adult
        if adult is None:
            born = conn.execute(
                select(births_table.c.adult_at).where(births_table.c.elector == elector)
            ).first()
            adult = born is not None and int(born.adult_at) <= now
        if change.placement.uprn is not None:
            conn.execute(
                update(births_table)
                .where(births_table.c.elector == elector)
                .values(uprn=change.placement.uprn)
            )
        if change.reason == "died":
            conn.execute(
                update(births_table).where(births_table.c.elector == elector).values(died_at=now)
            )
        move = plan_move(
            None if current is None else _entry(current),
            change.placement,
            opted_out=opted_out,
            adult=adult,
            reason=change.reason,
        )
        if move.leave is not None:
            conn.execute(
                update(roll_table)
                .where(roll_table.c.seq == current.seq)
                .values(removed_at=now, removed_reason=move.leave_reason)
            )
        if move.join is not None and move.join.authority and move.join.subject:
            conn.execute(
                insert(roll_table).values(
                    elector=elector,
                    authority=move.join.authority,
                    subject=move.join.subject,
                    uprn=move.join.uprn or "",
                    registered_at=now,
                    reason=move.join_reason,
                )
            )

    def due_births(self, now: int, *, limit: int) -> list[Birth]:
        """Registered births that turned 18 by ``now`` and were not placed yet."""
        b = births_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(b)
                .where(b.c.adult_at <= now, b.c.placed_at.is_(None), b.c.died_at.is_(None))
                .order_by(b.c.adult_at, b.c.elector)
                .limit(limit)
            )
            return [
                Birth(
                    elector=r.elector,
                    country=r.country,
                    number=r.number,
                    birthdate=r.birthdate,
                    adult_at=int(r.adult_at),
                    uprn=r.uprn,
                )
                for r in rows
            ]

    def come_of_age(self, birth: Birth, placement: Placement, *, now: int) -> None:
        """Place one citizen who turned 18 (once: a birth already placed is left alone)."""
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(births_table)
                .where(births_table.c.elector == birth.elector, births_table.c.placed_at.is_(None))
                .values(placed_at=now)
            ).rowcount
            if done:
                self._move(conn, RollChange(placement, "came-of-age", adult=True), now)

    def roll(
        self, authority: str, *, after: int = 0, limit: int = 100
    ) -> list[tuple[int, RollEntry]]:
        """The authority's current electors, in the order they joined (keyset ``after``)."""
        r = roll_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(r)
                .where(r.c.authority == authority, r.c.removed_at.is_(None), r.c.seq > after)
                .order_by(r.c.seq)
                .limit(limit)
            )
            return [(int(row.seq), _entry(row)) for row in rows]

    def current_entry(self, elector: str) -> RollEntry | None:
        """The citizen's current roll entry, if any."""
        with self.engine.connect() as conn:
            row = self._current(conn, elector)
        return None if row is None else _entry(row)

    def on_roll_since(self, elector: str, authority: str, since: int) -> bool:
        """Whether the citizen is on ``authority``'s roll, or left it at or after ``since``."""
        r = roll_table
        with self.engine.connect() as conn:
            row = conn.execute(
                select(r.c.seq)
                .where(
                    r.c.elector == elector,
                    r.c.authority == authority,
                    or_(r.c.removed_at.is_(None), r.c.removed_at >= since),
                )
                .limit(1)
            ).first()
        return row is not None

    def opt_out(self, elector: str, *, now: int) -> bool:
        """Record the opt-out and take the citizen off the roll at once; False if they had
        opted out already."""
        with write_transaction(self.engine) as conn:
            held = conn.execute(
                select(opt_outs_table.c.elector).where(opt_outs_table.c.elector == elector)
            ).first()
            if held is not None:
                return False
            conn.execute(insert(opt_outs_table).values(elector=elector, opted_out_at=now))
            conn.execute(
                update(roll_table)
                .where(roll_table.c.elector == elector, roll_table.c.removed_at.is_(None))
                .values(removed_at=now, removed_reason="opted-out")
            )
        return True

    def opt_in(self, elector: str, *, now: int) -> RollEntry | None:
        """Withdraw the opt-out; the citizen is put back where the opt-out took them off (if it
        did). Returns the new entry, if any."""
        r = roll_table
        with write_transaction(self.engine) as conn:
            gone = conn.execute(
                delete(opt_outs_table).where(opt_outs_table.c.elector == elector)
            ).rowcount
            if not gone:
                return None
            last = conn.execute(
                select(r).where(r.c.elector == elector).order_by(r.c.seq.desc()).limit(1)
            ).first()
            if last is None or last.removed_reason != "opted-out":
                return None
            conn.execute(
                insert(r).values(
                    elector=elector,
                    authority=last.authority,
                    subject=last.subject,
                    uprn=last.uprn,
                    registered_at=now,
                    reason="opted-in",
                )
            )
            row = self._current(conn, elector)
        return None if row is None else _entry(row)

    def opted_out(self, elector: str) -> bool:
        """Whether the citizen opted out of automatic registration."""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(opt_outs_table.c.elector).where(
                        and_(opt_outs_table.c.elector == elector)
                    )
                ).first()
                is not None
            )
