"""Storage of tell-us-once events: subscriptions, the transactional outbox, deliveries, attempts.

Tables (Alembic branch ``events``):

``event_subscriptions``  an organisation's endpoint: URL, event types (space-separated), its
                         ``v1`` secrets and ``v1a`` private key sealed (AES-256-GCM under a
                         key derived from the master key, bound to the row), the ``v1a``
                         public key in clear (it is published), when it was disabled and why.
``events``               every notice published: id, type, time, and the notice itself sealed
                         (it names the citizen and may carry the new value).
``event_outbox``         notices not fanned out yet. A notice and its outbox row are written
                         by :func:`enqueue_in` inside the *caller's* transaction: both commit
                         or neither does.
``event_deliveries``     one row per notice per endpoint told (``id`` is the ``webhook-id``),
                         with the rendered body, its lane and partition, state, attempts,
                         when the next attempt is due, whether the relay published it to NATS.
``event_attempts``       every attempt: when, status, error, how long it took.

Claims: a worker takes due deliveries at the head of their lane, marking them ``inflight``
with a lease (``claimed_until``); a worker that dies leaves its lease to expire and the rows
are taken again. On PostgreSQL the claim reads with ``FOR UPDATE SKIP LOCKED``, so workers
never wait on each other's rows; on SQLite the claim runs under the database write lock
(``BEGIN IMMEDIATE``), which serialises claimers — the safe equivalent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from civicstack.errors import CivicError
from civicstack.events.deliveries import (
    OPEN_STATES,
    Attempt,
    AttemptResult,
    Delivery,
    DeliveryState,
    Subscription,
)
from civicstack.events.notices import Notice
from civicstack.pairwise import Subject
from civicstack.stores.db import metadata, write_transaction
from civicstack.stores.issuance.sealing import RowSealer

subscriptions_table = Table(
    "event_subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("organisation", String(64), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("types", Text, nullable=False),
    Column("secrets_sealed", LargeBinary, nullable=False),
    Column("signing_key_sealed", LargeBinary, nullable=True),
    Column("public_key", String(128), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),
    Column("disabled_reason", String(200), nullable=True),
)
events_table = Table(
    "events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("type", String(128), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
)
outbox_table = Table(
    "event_outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), ForeignKey("events.id"), nullable=False),
    # Set for a notice meant for one endpoint only (the test event).
    Column("subscription_id", String(40), nullable=True),
)
deliveries_table = Table(
    "event_deliveries",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("event_id", String(40), nullable=False, index=True),
    Column("event_type", String(128), nullable=False),
    Column("subscription_id", String(40), nullable=False, index=True),
    Column("lane", String(120), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", BigInteger, nullable=False),  # milliseconds since the epoch
    Column("claimed_until", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    Column("published", Boolean, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(200), nullable=True),
    Index("ix_event_deliveries_due", "state", "next_at"),
    Index("ix_event_deliveries_lane", "lane", "seq"),
    Index("ix_event_deliveries_unpublished", "published", "state", "seq"),
)
attempts_table = Table(
    "event_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_seq", Integer, nullable=False),
    Column("number", Integer, nullable=False),
    Column("delivery_id", String(40), nullable=False),
    Column("subscription_id", String(40), nullable=False, index=True),
    Column("at", BigInteger, nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", String(200), nullable=False),
    Column("duration_ms", Integer, nullable=False),
)

_MS = 1000.0


def _ms(seconds: float) -> int:
    return int(seconds * _MS)


def _executemany(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Run ``sql`` (``?`` placeholders) once per row through the driver's own executemany.

    The hot paths (a fan-out's thousands of deliveries, a batch of attempts and their
    outcomes) bypass SQLAlchemy's per-row parameter processing, which cost more than the
    database itself; the values are plain ints, strings and bytes, so nothing is lost.
    """
    if conn.dialect.paramstyle != "qmark":  # psycopg: positional %s
        sql = sql.replace("?", "%s")
    conn.exec_driver_sql(sql, list(rows))


def _notice_json(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "type": notice.type,
        "source": notice.source,
        "time": notice.time,
        "subject": None
        if notice.subject is None
        else [notice.subject.country, notice.subject.number],
        "changed": list(notice.changed),
        "value": None if notice.value is None else dict(notice.value),
        "fetch": notice.fetch,
        "extra": dict(notice.extra),
    }


def _notice(value: dict[str, Any]) -> Notice:
    subject = value["subject"]
    return Notice(
        id=value["id"],
        type=value["type"],
        source=value["source"],
        time=int(value["time"]),
        subject=None if subject is None else Subject(subject[0], subject[1]),
        changed=tuple(value["changed"]),
        value=value["value"],
        fetch=value["fetch"],
        extra=value.get("extra") or {},
    )


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        organisation=row.organisation,
        url=row.url,
        types=tuple(row.types.split()),
        created_at=int(row.created_at),
        public_key=row.public_key,
        disabled_at=None if row.disabled_at is None else int(row.disabled_at),
        disabled_reason=row.disabled_reason,
    )


def _delivery(row: Any) -> Delivery:
    # By position (the table's column order): a SQLAlchemy Row's attribute lookups cost
    # several microseconds each, and a claim reads thousands of rows.
    (
        seq,
        delivery_id,
        event_id,
        event_type,
        subscription_id,
        lane,
        partition,
        body,
        state,
        attempts,
        next_at,
        _claimed_until,
        created_at,
        delivered_at,
        _published,
        last_status,
        last_error,
    ) = tuple(row)
    return Delivery(
        seq=int(seq),
        id=delivery_id,
        event_id=event_id,
        event_type=event_type,
        subscription_id=subscription_id,
        lane=lane,
        partition=int(partition),
        body=bytes(body),
        state=state,
        attempts=int(attempts),
        next_at=next_at / _MS,
        created_at=created_at / _MS,
        delivered_at=None if delivered_at is None else delivered_at / _MS,
        last_status=last_status,
        last_error=last_error,
    )


#: A fan-out plan: for a notice (and the endpoint it is reserved for, if any), the deliveries
#: to create: ``(delivery id, subscription id, lane, partition, body)``.
FanOutPlan = Callable[[Notice, str | None], Sequence[tuple[str, str, str, int, bytes]]]


_INSERT_DELIVERY = (
    "INSERT INTO event_deliveries (id, event_id, event_type, subscription_id, lane, partition,"
    " body, state, attempts, next_at, created_at, published)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, FALSE)"
)
_INSERT_ATTEMPT = (
    "INSERT INTO event_attempts (delivery_seq, number, delivery_id, subscription_id, at, status,"
    " error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_RECORD_OUTCOME = (
    "UPDATE event_deliveries SET state = ?, next_at = ?, delivered_at = ?, last_status = ?,"
    " last_error = ?, attempts = ?, claimed_until = NULL"
    " WHERE seq = ? AND state NOT IN ('delivered', 'disabled')"
)


class EventStore:
    """The events' tables; ``key`` gives the key sealing notices and secrets (read lazily)."""

    def __init__(self, engine: Engine, key: Callable[[], bytes]) -> None:
        self.engine = engine
        self.sealer = RowSealer(key, domain="events")
        self._lock = threading.Lock()

    # --- subscriptions -------------------------------------------------------------------

    def add_subscription(
        self, subscription: Subscription, secrets: dict[str, Any], *, now: int
    ) -> None:
        """Record a new subscription with its sealed secrets."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(subscriptions_table).values(
                    id=subscription.id,
                    organisation=subscription.organisation,
                    url=subscription.url,
                    types=" ".join(subscription.types),
                    secrets_sealed=self.sealer.seal("secrets", subscription.id, secrets),
                    created_at=now,
                    updated_at=now,
                )
            )

    def subscription(self, subscription_id: str) -> Subscription | None:
        """The subscription ``subscription_id``, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(subscriptions_table).where(subscriptions_table.c.id == subscription_id)
            ).first()
        return None if row is None else _subscription(row)

    def subscriptions(self, organisation: str | None = None) -> list[Subscription]:
        """Every subscription (of ``organisation``), oldest first."""
        stmt = select(subscriptions_table).order_by(subscriptions_table.c.created_at)
        if organisation is not None:
            stmt = stmt.where(subscriptions_table.c.organisation == organisation)
        with self.engine.connect() as conn:
            return [_subscription(r) for r in conn.execute(stmt)]

    def keys(self) -> tuple[int, list[tuple[Subscription, dict[str, Any], str | None]]]:
        """Every subscription with its opened secrets and ``v1a`` key, and the version they
        were read at (for the workers' cache)."""
        with self.engine.connect() as conn:
            rows = list(conn.execute(select(subscriptions_table)))
        version = max((int(r.updated_at) for r in rows), default=0) * 100_000 + len(rows)
        return version, [
            (
                _subscription(r),
                self.sealer.open("secrets", r.id, r.secrets_sealed),
                self.sealer.open("signing-key", r.id, r.signing_key_sealed),
            )
            for r in rows
        ]

    def keys_version(self) -> int:
        """The version :meth:`keys` would report now (one aggregate read)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    func.coalesce(func.max(subscriptions_table.c.updated_at), 0),
                    func.count(),
                ).select_from(subscriptions_table)
            ).one()
        return int(row[0]) * 100_000 + int(row[1])

    def secrets(self, subscription_id: str) -> dict[str, Any]:
        """The sealed secrets of a subscription, opened."""
        with self.engine.connect() as conn:
            blob = conn.execute(
                select(subscriptions_table.c.secrets_sealed).where(
                    subscriptions_table.c.id == subscription_id
                )
            ).scalar()
        if blob is None:
            raise CivicError("not_found", "no such subscription")
        opened: dict[str, Any] = self.sealer.open("secrets", subscription_id, blob)
        return opened

    def set_secrets(self, subscription_id: str, secrets: dict[str, Any], *, now: int) -> None:
        """Replace a subscription's sealed secrets (a rotation)."""
        self._update(
            subscription_id,
            now,
            secrets_sealed=self.sealer.seal("secrets", subscription_id, secrets),
        )

    def set_signing_key(self, subscription_id: str, key: str, public_key: str, *, now: int) -> None:
        """Give a subscription a ``v1a`` key (private sealed, public in clear)."""
        self._update(
            subscription_id,
            now,
            signing_key_sealed=self.sealer.seal("signing-key", subscription_id, key),
            public_key=public_key,
        )

    def disable(self, subscription_id: str, reason: str, *, now: int) -> None:
        """Disable an endpoint; its waiting deliveries stop (state ``disabled``)."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(subscriptions_table)
                .where(subscriptions_table.c.id == subscription_id)
                .values(disabled_at=now, disabled_reason=reason[:200], updated_at=now)
            )
            conn.execute(
                update(deliveries_table)
                .where(
                    deliveries_table.c.subscription_id == subscription_id,
                    deliveries_table.c.state.in_(OPEN_STATES),
                )
                .values(state="disabled", claimed_until=None)
            )

    def delete_subscription(self, subscription_id: str) -> None:
        """Delete a subscription and every delivery still waiting for it."""
        with write_transaction(self.engine) as conn:
            gone = conn.execute(
                delete(subscriptions_table).where(subscriptions_table.c.id == subscription_id)
            ).rowcount
            if not gone:
                raise CivicError("not_found", "no such subscription")
            conn.execute(
                update(deliveries_table)
                .where(
                    deliveries_table.c.subscription_id == subscription_id,
                    deliveries_table.c.state.in_(OPEN_STATES),
                )
                .values(state="disabled", claimed_until=None, last_error="subscription deleted")
            )

    def _update(self, subscription_id: str, now: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(subscriptions_table)
                .where(subscriptions_table.c.id == subscription_id)
                .values(updated_at=now, **values)
            ).rowcount
        if not done:
            raise CivicError("not_found", "no such subscription")

    def subscribed(self, event_type: str, only: str | None = None) -> list[Subscription]:
        """The live subscriptions to ``event_type`` (or just ``only``, whatever its types)."""
        stmt = select(subscriptions_table).where(subscriptions_table.c.disabled_at.is_(None))
        if only is not None:
            stmt = stmt.where(subscriptions_table.c.id == only)
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt))
        subs = [_subscription(r) for r in rows]
        return subs if only is not None else [s for s in subs if event_type in s.types]

    # --- the outbox ------------------------------------------------------------------------

    def enqueue_in(self, conn: Connection, notice: Notice, *, only: str | None = None) -> None:
        """Write ``notice`` and its outbox row in the caller's transaction ``conn``."""
        conn.execute(
            insert(events_table).values(
                id=notice.id,
                type=notice.type,
                time=notice.time,
                sealed=self.sealer.seal("event", notice.id, _notice_json(notice)),
            )
        )
        conn.execute(insert(outbox_table).values(event_id=notice.id, subscription_id=only))

    def enqueue(self, notice: Notice, *, only: str | None = None) -> None:
        """Write ``notice`` and its outbox row in a transaction of its own."""
        with self.engine.begin() as conn:
            self.enqueue_in(conn, notice, only=only)

    def fan_out(self, plan: FanOutPlan, *, limit: int, now: float) -> int:
        """Turn up to ``limit`` outbox rows into deliveries, in one transaction: the rows go
        and their deliveries appear together. Returns how many notices were fanned out."""
        with write_transaction(self.engine) as conn:
            stmt = (
                select(
                    outbox_table.c.seq,
                    outbox_table.c.subscription_id,
                    events_table.c.sealed,
                    events_table.c.id,
                )
                .join(events_table, events_table.c.id == outbox_table.c.event_id)
                .order_by(outbox_table.c.seq)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=outbox_table)
            rows = list(conn.execute(stmt))
            if not rows:
                return 0
            created: list[tuple[Any, ...]] = []
            stamp = _ms(now)
            for row in rows:
                notice = _notice(self.sealer.open("event", row.id, row.sealed))
                for delivery_id, sub_id, lane, partition, body in plan(notice, row.subscription_id):
                    created.append(
                        (
                            delivery_id,
                            notice.id,
                            notice.type,
                            sub_id,
                            lane,
                            partition,
                            body,
                            stamp,
                            stamp,
                        )
                    )
            if created:
                _executemany(conn, _INSERT_DELIVERY, created)
            conn.execute(delete(outbox_table).where(outbox_table.c.seq.in_([r.seq for r in rows])))
        return len(rows)

    def outbox_size(self) -> int:
        """Notices waiting to be fanned out."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(outbox_table)).scalar_one())

    # --- claims ----------------------------------------------------------------------------

    def claim(
        self,
        *,
        now: float,
        limit: int,
        lease: float,
        states: Sequence[DeliveryState] = ("queued", "retrying"),
        partitions: Iterable[int] | None = None,
    ) -> list[Delivery]:
        """Take up to ``limit`` due deliveries at the head of their lanes (``inflight`` until
        ``now + lease``), expired leases included."""
        d = deliveries_table
        e = deliveries_table.alias("earlier")
        stamp = _ms(now)
        head = ~exists().where(e.c.lane == d.c.lane, e.c.seq < d.c.seq, e.c.state.in_(OPEN_STATES))
        # One query per state, each walking the (state, next_at) index in order and stopping
        # at ``limit``: a single query over all states sorted by seq made the database
        # collect and sort every due row of the backlog on every claim.
        candidates = [
            select(d)
            .where(d.c.state == state, d.c.next_at <= stamp, head)
            .order_by(d.c.next_at)
            .limit(limit)
            for state in states
        ]
        candidates.append(
            select(d)
            .where(d.c.state == "inflight", d.c.claimed_until < stamp, head)
            .order_by(d.c.seq)
            .limit(limit)
        )
        if partitions is not None:
            owned = list(partitions)
            candidates = [c.where(d.c.partition.in_(owned)) for c in candidates]
        with write_transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                candidates = [c.with_for_update(skip_locked=True, of=d) for c in candidates]
            found = [r for c in candidates for r in conn.execute(c).all()]
            # Oldest first across the states; a lane has one head, so no lane twice.
            rows = sorted(found, key=lambda r: int(r[0]))[:limit]
            if rows:
                until = _ms(now + lease)
                _executemany(
                    conn,
                    "UPDATE event_deliveries SET state = 'inflight', claimed_until = ?"
                    " WHERE seq = ?",
                    [(until, r[0]) for r in rows],
                )
        return [_delivery(r) for r in rows]

    def retrying_lanes(self, partitions: Iterable[int]) -> set[str]:
        """The lanes of these partitions that hold a delivery waiting for a retry."""
        d = deliveries_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(d.c.lane)
                .where(d.c.partition.in_(list(partitions)), d.c.state.in_(("retrying", "inflight")))
                .distinct()
            )
            return {r.lane for r in rows}

    def hold_for_retry(self, seqs: Sequence[int], *, now: float) -> None:
        """Queued deliveries whose lane waits on a retry: they follow it, in order."""
        if not seqs:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries_table)
                .where(deliveries_table.c.seq.in_(list(seqs)), deliveries_table.c.state == "queued")
                .values(state="retrying", next_at=_ms(now))
            )

    # --- results ---------------------------------------------------------------------------

    def record(self, results: Sequence[AttemptResult]) -> None:
        """Write a batch of attempts and the deliveries' new states in one transaction."""
        if not results:
            return
        # The write lock up front (SQLite): a claim may be writing from another thread.
        with self._lock, write_transaction(self.engine) as conn:
            attempted = [r for r in results if r.attempted]
            numbers: dict[int, int] = {}
            if attempted:
                seqs = [r.seq for r in attempted]
                for row in conn.execute(
                    select(deliveries_table.c.seq, deliveries_table.c.attempts).where(
                        deliveries_table.c.seq.in_(seqs)
                    )
                ):
                    numbers[int(row.seq)] = int(row.attempts)
            attempt_rows: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            for r in results:
                n = numbers.get(r.seq, 0) + (1 if r.attempted else 0)
                numbers[r.seq] = n
                error = r.error[:200]
                if r.attempted:
                    attempt_rows.append(
                        (
                            r.seq,
                            n,
                            r.delivery_id,
                            r.subscription_id,
                            _ms(r.at),
                            r.status,
                            error,
                            r.duration_ms,
                        )
                    )
                delivered = _ms(r.at) if r.state == "delivered" else None
                updates.append(
                    (r.state, _ms(r.next_at), delivered, r.status, error or None, n, r.seq)
                )
            if attempt_rows:
                _executemany(conn, _INSERT_ATTEMPT, attempt_rows)
            # A delivery already delivered or disabled (a duplicate's late outcome, an endpoint
            # disabled meanwhile) keeps its state.
            _executemany(conn, _RECORD_OUTCOME, updates)

    # --- the NATS relay --------------------------------------------------------------------

    def unpublished(self, limit: int) -> list[Delivery]:
        """Deliveries not yet handed to NATS, oldest first."""
        d = deliveries_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(d)
                .where(d.c.published.is_(False), d.c.state == "queued")
                .order_by(d.c.seq)
                .limit(limit)
            ).all()
            return [_delivery(r) for r in rows]

    def mark_published(self, seqs: Sequence[int]) -> None:
        """Deliveries NATS has acknowledged."""
        if not seqs:
            return
        with self.engine.begin() as conn:
            _executemany(
                conn,
                "UPDATE event_deliveries SET published = TRUE WHERE seq = ?",
                [(seq,) for seq in seqs],
            )

    # --- reading and replay ----------------------------------------------------------------

    def deliveries(
        self,
        *,
        subscription_ids: Sequence[str],
        state: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """The newest deliveries to these endpoints (in ``state``)."""
        d = deliveries_table
        stmt = select(d).where(d.c.subscription_id.in_(list(subscription_ids)))
        if state is not None:
            stmt = stmt.where(d.c.state == state)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(stmt.order_by(d.c.seq.desc()).limit(limit))]

    def delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery by its webhook id."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(deliveries_table).where(deliveries_table.c.id == delivery_id)
            ).first()
        return None if row is None else _delivery(row)

    def attempts(self, *, subscription_ids: Sequence[str], limit: int = 100) -> list[Attempt]:
        """The newest attempts at these endpoints."""
        a = attempts_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(a)
                .where(a.c.subscription_id.in_(list(subscription_ids)))
                .order_by(a.c.at.desc(), a.c.number.desc())
                .limit(limit)
            )
            return [
                Attempt(
                    delivery_id=r.delivery_id,
                    subscription_id=r.subscription_id,
                    number=int(r.number),
                    at=r.at / _MS,
                    status=r.status,
                    error=r.error,
                    duration_ms=int(r.duration_ms),
                )
                for r in rows
            ]

    def replay(self, delivery_ids: Sequence[str], *, now: float) -> int:
        """Dead letters back in line for delivery (a new round of attempts)."""
        d = deliveries_table
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(d)
                    .where(d.c.id.in_(list(delivery_ids)), d.c.state == "dead")
                    .values(state="retrying", next_at=_ms(now), attempts=0, claimed_until=None)
                ).rowcount
            )

    def state_counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        d = deliveries_table
        with self.engine.connect() as conn:
            rows = conn.execute(select(d.c.state, func.count()).group_by(d.c.state))
            return {r[0]: int(r[1]) for r in rows}

    def close(self) -> None:
        """Nothing is held open beyond the engine's pool."""
