"""The engine at scale: NATS JetStream between the outbox and any number of ``civic worker``s.

``CIVIC_EVENTS_URL=nats://...`` selects it. Three parts, all in each ``civic worker``:

1. **The relay** (one active at a time, by a lease in a JetStream key-value bucket) fans the
   outbox out into deliveries and publishes the new ones to the stream ``CIVIC_EVENTS``, on
   subject ``civic.deliveries.<partition>``, several deliveries of a partition per message
   (up to :data:`CHUNK`, in seq order: :func:`encode_deliveries`) with ``Nats-Msg-Id`` naming
   the chunk by its seqs, then marks them published. Killed between the two, it reads the same
   batch again after a restart, publishes the same chunks, and JetStream's duplicate window
   (2 minutes) drops the second copies; had more been fanned out meanwhile, a chunk can differ
   and some deliveries go out twice (with the same ``webhook-id``): nothing is lost.
2. **Partition workers.** Each of the :data:`~civicstack.events.deliveries.PARTITIONS`
   partitions has a durable pull consumer (``deliveries-<p>``) that every worker may pull
   from, and a lease that one worker holds at a time (key ``p<p>``, renewed while it lives;
   each worker takes a fair share: partitions / live workers). The owner keeps a pull request
   open for as many deliveries as it has room for, attempts each as it arrives (concurrently
   across lanes, in order within a lane), records the outcomes (group commit), then acks the
   message. A worker killed mid-message acks nothing: its lease lapses after :data:`LEASE`
   seconds, longer than the consumer's ``ack_wait``, so by the time another worker owns the
   partition JetStream redelivers those messages first, in order: delivered at least once,
   duplicates with the same ``webhook-id``.
   (JetStream's own subject mapping ``partition(n, ...)`` needs nats-server 2.10; the
   partition here is the same deterministic hash computed by the publisher, so any server
   with JetStream works.)
3. **Retries** leave the stream: a failed attempt is recorded as ``retrying`` in the database
   with its next time, the message is acked, and the lane is *held*: the partition's owner
   routes its later messages to the database behind it (``hold_for_retry``) and its retry
   loop delivers them from there in order, as the embedded engine would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    DEFAULT_PREFIX,
    AckPolicy,
    ConsumerConfig,
    KeyValueConfig,
    RetentionPolicy,
    StreamConfig,
)
from nats.js.errors import BadRequestError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from civicstack.events.deliveries import PARTITIONS, AttemptResult, Delivery
from civicstack.services.notifications.service import Notifications
from civicstack.services.notifications.worker import Dispatcher, WorkerOptions

log = logging.getLogger("civicstack.events")

#: Names in NATS, under a namespace (``CIVIC_EVENTS_NAMESPACE``, default ``civic``) so that
#: several platforms (or test runs) can share one server.
DEFAULT_NAMESPACE: Final = "civic"


@dataclass(frozen=True)
class Names:
    """The stream, subjects, consumers and lease bucket of one namespace."""

    namespace: str = DEFAULT_NAMESPACE

    @property
    def stream(self) -> str:
        return f"{self.namespace.upper()}_EVENTS"

    @property
    def subject(self) -> str:
        return f"{self.namespace}.deliveries"

    @property
    def bucket(self) -> str:
        return f"{self.namespace}_events_owners"

    def consumer(self, partition: int) -> str:
        return f"deliveries-{partition}"


#: A consumer's ack wait, and the lease a partition's owner renews (longer, so that a dead
#: owner's unacked messages are due for redelivery before anyone else takes the partition).
ACK_WAIT: Final = 10.0
LEASE: Final = 15.0
#: How long a pull request waits on the server for messages before it expires (and another
#: is sent), and how long a stopping worker lets its attempts under way finish.
PULL_EXPIRES: Final = 5.0
#: Deliveries the relay reads and publishes at a time, and at most in one message.
RELAY_BATCH: Final = 2000
CHUNK: Final = 32
DRAIN: Final = 5.0
#: How often a worker compares the partitions it owns with its fair share.
SHARE_EVERY: Final = 1.0
#: Test hook: ``CIVIC_EVENTS_CRASH=relay-published`` makes the relay kill its own process
#: (SIGKILL) right after NATS acknowledged a batch and before the database records it: the
#: crash the relay must survive. Read once; unset in production.
CRASH_POINT: Final = os.environ.get("CIVIC_EVENTS_CRASH", "")


async def connect(url: str) -> Client:
    """A NATS connection (raises when the server is unreachable)."""
    return await nats.connect(url, connect_timeout=3, max_reconnect_attempts=3, name="civic")


async def ensure_stream(
    js: JetStreamContext, names: Names, partitions: int = PARTITIONS
) -> KeyValue:
    """The stream, one durable consumer per partition, and the lease bucket."""
    config = StreamConfig(
        name=names.stream,
        subjects=[f"{names.subject}.*"],
        retention=RetentionPolicy.WORK_QUEUE,
        duplicate_window=120.0,
    )
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)
    for p in range(partitions):
        try:
            await js.consumer_info(names.stream, names.consumer(p))
        except NotFoundError:
            await js.add_consumer(
                names.stream,
                ConsumerConfig(
                    durable_name=names.consumer(p),
                    filter_subject=f"{names.subject}.{p}",
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=ACK_WAIT,
                    max_ack_pending=2000,
                    max_deliver=-1,
                ),
            )
    return await js.create_key_value(KeyValueConfig(bucket=names.bucket, ttl=LEASE, history=1))


@dataclass
class _Lease:
    key: str
    revision: int


class Leases:
    """Leases in the bucket: one holder per key, renewed by its holder, lapsing with it."""

    def __init__(self, kv: KeyValue, holder: str) -> None:
        self.kv = kv
        self.holder = holder.encode()
        self.held: dict[str, _Lease] = {}

    async def take(self, key: str) -> bool:
        """Take ``key`` if nobody holds it."""
        try:
            revision = await self.kv.create(key, self.holder)
        except KeyWrongLastSequenceError:
            return False
        self.held[key] = _Lease(key, revision)
        return True

    async def renew(self) -> list[str]:
        """Renew every lease held; the keys lost (someone else took them) are returned."""
        lost = []
        for key, lease in list(self.held.items()):
            try:
                lease.revision = await self.kv.update(key, self.holder, last=lease.revision)
            except (KeyWrongLastSequenceError, NotFoundError):
                lost.append(key)
                del self.held[key]
        return lost

    async def release(self, key: str) -> None:
        """Give ``key`` up."""
        if self.held.pop(key, None) is not None:
            with contextlib.suppress(NotFoundError):
                await self.kv.delete(key)

    async def live_workers(self) -> int:
        """How many workers announce themselves (``w-*`` keys)."""
        try:
            keys = await self.kv.keys()
        except NotFoundError:
            return 1
        return max(1, sum(1 for k in keys if k.startswith("w-")))


@dataclass(frozen=True)
class WireDelivery:
    """A delivery as a message carries it."""

    seq: int
    delivery_id: str
    subscription: str
    lane: str
    body: bytes


def chunks(batch: list[Delivery]) -> list[list[Delivery]]:
    """A relay batch as messages: per partition, runs of up to :data:`CHUNK` deliveries in
    the order of their seqs (so, per lane, in order)."""
    by_partition: dict[int, list[Delivery]] = {}
    for d in batch:
        by_partition.setdefault(d.partition, []).append(d)
    return [run[i : i + CHUNK] for run in by_partition.values() for i in range(0, len(run), CHUNK)]


def chunk_id(chunk: list[Delivery]) -> str:
    """A message's ``Nats-Msg-Id``: its partition, first and last seq, and count (a partition's
    deliveries between two seqs are fixed once fanned out, so the same chunk gets the same id)."""
    return f"p{chunk[0].partition}-{chunk[0].seq}-{chunk[-1].seq}-{len(chunk)}"


def encode_deliveries(chunk: list[Delivery]) -> bytes:
    """Deliveries as one message: per delivery a line ``seq id subscription lane-length
    body-length``, then the lane and the body (lengths in bytes)."""
    parts: list[bytes] = []
    for d in chunk:
        lane = d.lane.encode()
        parts.append(
            b"%d %s %s %d %d\n"
            % (d.seq, d.id.encode(), d.subscription_id.encode(), len(lane), len(d.body))
        )
        parts.append(lane)
        parts.append(d.body)
    return b"".join(parts)


def decode_deliveries(data: bytes) -> list[WireDelivery]:
    """The deliveries of a message (:func:`encode_deliveries`)."""
    out: list[WireDelivery] = []
    i, end = 0, len(data)
    while i < end:
        j = data.index(b"\n", i)
        seq, delivery_id, subscription, lane_length, body_length = data[i:j].split(b" ")
        lane_end = j + 1 + int(lane_length)
        body_end = lane_end + int(body_length)
        if body_end > end:
            raise ValueError("a truncated delivery")
        out.append(
            WireDelivery(
                int(seq),
                delivery_id.decode(),
                subscription.decode(),
                data[j + 1 : lane_end].decode(),
                data[lane_end:body_end],
            )
        )
        i = body_end
    return out


@dataclass
class _Flow:
    """One owned partition's messages: how many it may have in flight, the open pull
    request, the last message of each lane, the copies of each message to ack."""

    partition: int
    room: int
    unacked: int = 0
    asked: int = 0
    has_room: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    tails: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    tasks: set[asyncio.Future[None]] = field(default_factory=set)
    copies: dict[str, list[Any]] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)

    def finished(self, task: asyncio.Future[None]) -> None:
        self.tasks.discard(task)

    def acked(self, n: int) -> None:
        self.unacked -= n
        if self.unacked <= self.room * 3 // 4:
            self.has_room.set()


@dataclass
class _Write:
    """A message's outcome to commit before its ack: an attempt's result, or its seq held
    behind its lane's retry; ``lane`` when it holds the lane until committed."""

    flow: _Flow
    key: str  # the message carrying it
    result: AttemptResult | None
    held: int | None
    lane: str | None


class NatsEngine:
    """The relay and the partition workers of one ``civic worker`` process."""

    def __init__(
        self,
        notifications: Notifications,
        dispatcher: Dispatcher,
        url: str,
        *,
        options: WorkerOptions = WorkerOptions(),  # noqa: B008 - a frozen value
        relay: bool = True,
        deliver: bool = True,
        names: Names = Names(),
        now: Callable[[], float] = time.time,
    ) -> None:
        self.names = names
        self.notifications = notifications
        self.store = notifications.store
        self.dispatcher = dispatcher
        self.url = url
        self.options = options
        self.relay_enabled = relay
        self.deliver_enabled = deliver
        self.now = now
        self.name = f"w-{uuid.uuid4().hex[:12]}"
        self.partitions = notifications.partitions
        self.owned: dict[int, Any] = {}
        self.held_lanes: set[str] = set()
        # Lanes held by a write still on its way (how many), and those whose write committed
        # since the retry loop last read the database's retrying lanes.
        self._holding: dict[str, int] = {}
        self._committed_holds: set[str] = set()
        self.delivered = 0
        self.published = 0
        self._writes: list[_Write] = []
        self._write_wanted = asyncio.Event()
        self._closing = False

    async def run(self, stop: asyncio.Event) -> None:
        """Relay and deliver until ``stop`` is set; then stop pulling, let the attempts under
        way finish, commit their outcomes and ack them, give the leases up and disconnect
        (anything left unacked is redelivered to the next owner)."""
        nc = await connect(self.url)
        try:
            js = nc.jetstream()
            kv = await ensure_stream(js, self.names, self.partitions)
            leases = Leases(kv, self.name)
            await kv.put(self.name, b"alive")
            writer = asyncio.create_task(self._writer())
            owner = asyncio.create_task(self._leases(nc, kv, leases, stop))
            others = []
            if self.relay_enabled:
                others.append(asyncio.create_task(self._relay(js, leases, stop)))
            if self.deliver_enabled:
                others.append(asyncio.create_task(self._retries(stop)))
            await stop.wait()
            for task in others:
                task.cancel()
            await _settle([owner, *others], 2 * DRAIN)
            self._closing = True
            self._write_wanted.set()
            await _settle([writer], DRAIN)
            for key in list(leases.held):
                await leases.release(key)
            with contextlib.suppress(NotFoundError):
                await kv.delete(self.name)
        finally:
            await nc.close()

    # --- ownership -------------------------------------------------------------------------

    async def _leases(self, nc: Client, kv: KeyValue, leases: Leases, stop: asyncio.Event) -> None:
        consumers: dict[int, tuple[asyncio.Task[None], asyncio.Event]] = {}
        renewed = 0.0
        try:
            while not stop.is_set():
                # The leases are renewed every LEASE / 4; the share is looked at every
                # SHARE_EVERY, so that a worker starting beside others gets its share soon.
                if time.monotonic() - renewed >= LEASE / 4:
                    renewed = time.monotonic()
                    await kv.put(self.name, b"alive")
                    for key in await leases.renew():
                        if key.startswith("p") and (lost := consumers.pop(int(key[1:]), None)):
                            lost[0].cancel()  # another worker owns it now: stop at once
                for p in [p for p, (task, _) in consumers.items() if task.done()]:
                    failed, _ = consumers.pop(p)  # given up, to be taken again
                    if not failed.cancelled() and failed.exception() is not None:
                        log.error("partition %d failed: %r", p, failed.exception())
                    await leases.release(f"p{p}")
                if self.deliver_enabled:
                    await self._share_out(nc, leases, consumers, stop)
                await _wait(stop, SHARE_EVERY)
        finally:
            # Stopping, the consumers finish by themselves (they watch ``stop``).
            if not stop.is_set():
                for task, _ in consumers.values():
                    task.cancel()
            await _settle([task for task, _ in consumers.values()], 2 * DRAIN)

    async def _share_out(
        self,
        nc: Client,
        leases: Leases,
        consumers: dict[int, tuple[asyncio.Task[None], asyncio.Event]],
        stop: asyncio.Event,
    ) -> None:
        """Own a fair share of the partitions (partitions / live workers)."""
        share = math.ceil(self.partitions / await leases.live_workers())
        room = max(4 * CHUNK, self.options.concurrency // share)
        for p in range(self.partitions):
            if len(consumers) >= share:
                break
            if p not in consumers and await leases.take(f"p{p}"):
                self._load_held(p)
                quit_ = asyncio.Event()
                task = asyncio.create_task(self._consume(nc, p, room, quit_, stop))
                consumers[p] = (task, quit_)
        while len(consumers) > share:  # another worker came: give a partition back
            p = max(consumers)
            task, quit_ = consumers.pop(p)
            quit_.set()  # after its messages under way are acked
            await _settle([task], 2 * DRAIN)
            await leases.release(f"p{p}")

    def _load_held(self, partition: int) -> None:
        self.owned[partition] = True
        self.held_lanes |= self.store.retrying_lanes([partition])

    # --- the relay ---------------------------------------------------------------------------

    async def _relay(self, js: JetStreamContext, leases: Leases, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if "relay" not in leases.held and not await leases.take("relay"):
                await _wait(stop, LEASE / 4)
                continue
            try:
                await asyncio.to_thread(
                    self.notifications.fan_out, limit=self.options.fan_out_batch, now=self.now()
                )
                batch = await asyncio.to_thread(self.store.unpublished, RELAY_BATCH)
            except Exception:
                log.exception("the relay's database read failed")
                await _wait(stop, 1.0)
                continue
            if not batch:
                await _wait(stop, self.options.poll)
                continue
            # One message per partition per chunk of deliveries (their seqs name it, so a
            # relay restarted on the same batch publishes the same ids and the duplicate
            # window drops them), published asynchronously, then every PubAck awaited: the
            # batch is marked published only when JetStream stored all of it.
            try:
                futures = [
                    await js.publish_async(
                        f"{self.names.subject}.{chunk[0].partition}",
                        encode_deliveries(chunk),
                        headers={"Nats-Msg-Id": chunk_id(chunk), "Civic-Format": "1"},
                    )
                    for chunk in chunks(batch)
                ]
                acks = await asyncio.wait_for(asyncio.gather(*futures), ACK_WAIT)
            except Exception:
                log.exception("publishing to JetStream failed")
                await _wait(stop, 1.0)
                continue
            if CRASH_POINT == "relay-published":
                os.kill(os.getpid(), signal.SIGKILL)
            await asyncio.to_thread(self.store.mark_published, [d.seq for d in batch])
            self.published += len(batch) if not any(a.duplicate for a in acks) else 0

    # --- partition workers ---------------------------------------------------------------

    async def _consume(
        self, nc: Client, partition: int, room: int, quit_: asyncio.Event, stop: asyncio.Event
    ) -> None:
        """Own ``partition`` until ``stop`` (or cancelled, when its lease is lost).

        A flow of messages rather than batches: pull requests ask JetStream for as many
        messages as the partition has room for (``in flight`` = received and not yet acked),
        each message starts its attempt as soon as it arrives, after the previous message of
        its lane (never beside it), and is acked once its outcome is committed. A slow
        endpoint holds up its own lanes only, not the rest of the partition."""
        flow = _Flow(partition, room)
        inbox = nc.new_inbox()

        async def received(msg: Any) -> None:
            self._received(flow, msg)

        sub = await nc.subscribe(inbox, cb=received)
        consumer = self.names.consumer(partition)
        subject = f"{DEFAULT_PREFIX}.CONSUMER.MSG.NEXT.{self.names.stream}.{consumer}"
        graceful = False
        try:
            while not stop.is_set() and not quit_.is_set():
                free = flow.room - flow.unacked
                if free < max(CHUNK, flow.room // 4):
                    flow.has_room.clear()
                    await _first((stop, quit_, flow.has_room), 1.0)
                    continue
                # Messages carry up to CHUNK deliveries each: never more than room for.
                flow.asked = free // CHUNK
                flow.answered.clear()
                request = b'{"batch":%d,"expires":%d}' % (flow.asked, int(PULL_EXPIRES * 1e9))
                await nc.publish(subject, request, reply=inbox)
                # Over when every message asked for came, or JetStream ended it (a 408 at
                # expiry, a 409); a request lost in a reconnect is given up after a while.
                await _first((stop, quit_, flow.answered), PULL_EXPIRES + 1.0)
                flow.asked = 0
            graceful = True
        finally:
            with contextlib.suppress(Exception):  # the connection may be closed already
                await sub.unsubscribe()
            if graceful:  # stopping: let the attempts under way finish, committed and acked
                deadline = time.monotonic() + DRAIN
                if flow.tasks:
                    await asyncio.wait(set(flow.tasks), timeout=DRAIN)
                while flow.unacked > 0 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
            for task in list(flow.tasks):
                task.cancel()
            self.owned.pop(partition, None)

    def _received(self, flow: _Flow, msg: Any) -> None:
        headers = msg.headers or {}
        if "Status" in headers:  # 408 expired, 409 ended, 404 nothing: the request is over
            if headers["Status"] != "100":  # (100: a heartbeat)
                flow.answered.set()
            return
        flow.asked -= 1
        if flow.asked <= 0:
            flow.answered.set()
        key = headers.get("Nats-Msg-Id", "")
        copies = flow.copies.get(key)
        if copies is not None:  # redelivered while its attempts are under way: acked with them
            copies.append(msg)
            return
        try:
            if "Civic-Seq" in headers:  # one delivery, as an earlier relay published them
                carried = [
                    WireDelivery(
                        int(headers["Civic-Seq"]),
                        key,
                        headers["Civic-Sub"],
                        headers.get("Civic-Lane", ""),
                        msg.data,
                    )
                ]
            else:
                carried = decode_deliveries(msg.data)
        except (KeyError, ValueError):
            log.exception("a malformed message in partition %d: dropped", flow.partition)
            term = asyncio.ensure_future(msg.term())  # never redelivered: it cannot be read
            flow.tasks.add(term)
            term.add_done_callback(flow.finished)
            return
        flow.copies[key] = [msg]
        flow.left[key] = len(carried)
        flow.unacked += len(carried)
        self.dispatcher.refresh(every=self.options.keys_refresh)
        for d in carried:
            before = flow.tails.get(d.lane)
            task = asyncio.ensure_future(self._deliver_one(flow, key, d, before))
            flow.tails[d.lane] = task
            flow.tasks.add(task)
            task.add_done_callback(flow.finished)

    async def _deliver_one(
        self, flow: _Flow, key: str, m: WireDelivery, before: asyncio.Future[None] | None
    ) -> None:
        if before is not None and not before.done():
            await asyncio.wait((before,))  # the lane's previous message first
        if m.lane in self.held_lanes:  # the lane waits on a retry: follow it in the database
            self._hold(m.lane)
            self._queue_write(_Write(flow, key, None, m.seq, m.lane))
            return
        try:
            result = await self.dispatcher.attempt(m.seq, m.delivery_id, m.subscription, m.body, 0)
        except Exception:  # never skip a message of the lane: retry it from the database
            log.exception("an attempt failed unexpectedly")
            now = self.now()
            result = AttemptResult(
                m.seq, m.delivery_id, m.subscription, "retrying", now + 1.0, now, None,
                "internal error", 0, attempted=False,
            )  # fmt: skip
        if result.state == "retrying":
            # The lane waits on this retry: the rest follow it through the database.
            self.held_lanes.add(m.lane)
            self._hold(m.lane)
            self._queue_write(_Write(flow, key, result, None, m.lane))
        else:
            self._queue_write(_Write(flow, key, result, None, None))

    def _hold(self, lane: str) -> None:
        self._holding[lane] = self._holding.get(lane, 0) + 1

    def _queue_write(self, write: _Write) -> None:
        self._writes.append(write)
        self._write_wanted.set()

    async def _writer(self) -> None:
        """Group commit: the outcomes of every partition this worker owns that finished while
        the previous write ran go to the database in one transaction (one writer at a time
        per process: SQLite's write lock is not fought over), then their messages are acked
        (never before: a crash in between redelivers them)."""
        while True:
            if not self._writes:
                if self._closing:
                    return
                self._write_wanted.clear()
                await self._write_wanted.wait()
                continue
            writes, self._writes = self._writes, []
            results = [w.result for w in writes if w.result is not None]
            held = [w.held for w in writes if w.held is not None]
            try:
                await asyncio.to_thread(self._record_and_hold, results, held)
            except Exception:  # kept, written again (unacked meanwhile: nothing is lost)
                log.exception("recording outcomes failed")
                self._writes[:0] = writes
                await asyncio.sleep(1.0)
                continue
            for w in writes:
                if w.lane is not None:
                    left = self._holding[w.lane] - 1
                    if left:
                        self._holding[w.lane] = left
                    else:
                        del self._holding[w.lane]
                        self._committed_holds.add(w.lane)
                flow = w.flow
                flow.acked(1)
                left = flow.left.get(w.key, 1) - 1
                if left > 0:
                    flow.left[w.key] = left
                    continue
                flow.left.pop(w.key, None)
                for msg in flow.copies.pop(w.key, ()):
                    with contextlib.suppress(Exception):  # unacked: redelivered, a duplicate
                        await msg.ack()
            self.delivered += sum(1 for r in results if r.state == "delivered")

    def _record_and_hold(self, results: list[AttemptResult], held: list[int]) -> None:
        self.store.record(results)
        self.store.hold_for_retry(held, now=self.now())

    async def _retries(self, stop: asyncio.Event) -> None:
        """The database's share: deliveries waiting for a retry in the partitions owned."""
        while not stop.is_set():
            owned = list(self.owned)
            if not owned:
                await _wait(stop, 0.5)
                continue
            claimed = await asyncio.to_thread(
                self.store.claim,
                now=self.now(),
                limit=self.options.batch,
                lease=self.options.lease,
                states=("retrying",),
                partitions=owned,
            )
            if claimed:
                results = await self.dispatcher.deliver(claimed)
                self.delivered += sum(1 for r in results if r.state == "delivered")
                await asyncio.to_thread(self.store.record, results)
            # Lanes whose hold commits while the database is read are kept from the
            # writer's side (they may be missing from what was read).
            self._committed_holds = set()
            retrying = await asyncio.to_thread(self.store.retrying_lanes, owned)
            self.held_lanes = retrying | set(self._holding) | self._committed_holds
            if not claimed:
                await _wait(stop, 0.5)


async def _first(events: tuple[asyncio.Event, ...], seconds: float) -> None:
    """Wait until one of ``events`` is set, or ``seconds`` pass."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _settle(tasks: list[asyncio.Task[None]], seconds: float) -> None:
    """Let ``tasks`` end by themselves for up to ``seconds``, then cancel what is left; an
    exception a task ended with is logged, not raised (the worker is stopping)."""
    tasks = [t for t in tasks if not t.done()]
    if tasks:
        await asyncio.wait(tasks, timeout=seconds)
    for task in tasks:
        task.cancel()
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, Exception):
            log.error("a task of the NATS engine failed: %r", result)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
