"""The engine at scale: NATS JetStream between the outbox and any number of ``civic worker``s.

``CIVIC_EVENTS_URL=nats://...`` selects it. Three parts, all in each ``civic worker``:

1. **The relay** (one active at a time, by a lease in a JetStream key-value bucket) fans the
   outbox out into deliveries and publishes each new delivery to the stream ``CIVIC_EVENTS``
   on subject ``civic.deliveries.<partition>`` with ``Nats-Msg-Id`` = the delivery id, then
   marks it published. Killed between the two, it publishes again after a restart, and
   JetStream's duplicate window (2 minutes) drops the second copy: nothing is lost, nothing
   doubles.
2. **Partition workers.** Each of the :data:`~civicstack.events.deliveries.PARTITIONS`
   partitions has a durable pull consumer (``deliveries-<p>``) that every worker may pull
   from, and a lease that one worker holds at a time (key ``p<p>``, renewed while it lives;
   each worker takes a fair share: partitions / live workers). The owner attempts a batch
   concurrently across lanes and in order within a lane, records the outcomes, then acks. A
   worker killed mid-batch acks nothing: its lease lapses after :data:`LEASE` seconds, longer
   than the consumer's ``ack_wait``, so by the time another worker owns the partition
   JetStream redelivers those messages first, in order: delivered at least once, duplicates
   with the same ``webhook-id``.
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
from dataclasses import dataclass
from typing import Any, Final

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, KeyValueConfig, RetentionPolicy, StreamConfig
from nats.js.errors import BadRequestError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from civicstack.events.deliveries import PARTITIONS, AttemptResult
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
        self._holding: set[str] = set()  # held lanes whose write is still on its way
        self.delivered = 0
        self.published = 0
        self._writes: list[tuple[list[AttemptResult], list[int], asyncio.Future[None]]] = []
        self._write_wanted = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay and deliver until ``stop`` is set."""
        nc = await connect(self.url)
        try:
            js = nc.jetstream()
            kv = await ensure_stream(js, self.names, self.partitions)
            leases = Leases(kv, self.name)
            await kv.put(self.name, b"alive")
            tasks = [
                asyncio.create_task(self._leases(js, kv, leases, stop)),
                asyncio.create_task(self._writer()),
            ]
            if self.relay_enabled:
                tasks.append(asyncio.create_task(self._relay(js, leases, stop)))
            if self.deliver_enabled:
                tasks.append(asyncio.create_task(self._retries(stop)))
            await stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for key in list(leases.held):
                await leases.release(key)
            with contextlib.suppress(NotFoundError):
                await kv.delete(self.name)
        finally:
            await nc.close()

    # --- ownership -------------------------------------------------------------------------

    async def _leases(
        self, js: JetStreamContext, kv: KeyValue, leases: Leases, stop: asyncio.Event
    ) -> None:
        consumers: dict[int, asyncio.Task[None]] = {}
        while not stop.is_set():
            await kv.put(self.name, b"alive")
            for key in await leases.renew():
                if key.startswith("p"):
                    task = consumers.pop(int(key[1:]), None)
                    if task is not None:
                        task.cancel()
            if self.deliver_enabled:
                share = math.ceil(self.partitions / await leases.live_workers())
                mine = [p for p in consumers if not consumers[p].done()]
                for p in range(self.partitions):
                    if len(mine) >= share:
                        break
                    if p not in consumers and await leases.take(f"p{p}"):
                        self._load_held(p)
                        consumers[p] = asyncio.create_task(self._consume(js, p, stop))
                        mine.append(p)
                while len(mine) > share:  # another worker came: give a partition back
                    p = mine.pop()
                    consumers.pop(p).cancel()
                    await leases.release(f"p{p}")
            await _wait(stop, LEASE / 4)
        for task in consumers.values():
            task.cancel()

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
                batch = await asyncio.to_thread(self.store.unpublished, self.options.batch)
            except Exception:
                log.exception("the relay's database read failed")
                await _wait(stop, 1.0)
                continue
            if not batch:
                await _wait(stop, self.options.poll)
                continue
            # Asynchronous publishes (one PubAck future each, no request round trip
            # awaited per message), then every ack awaited: the batch is marked published
            # only when JetStream stored all of it; a failure publishes it again next round
            # and the duplicate window drops what was already stored.
            try:
                futures = [
                    await js.publish_async(
                        f"{self.names.subject}.{d.partition}",
                        d.body,
                        headers={
                            "Nats-Msg-Id": d.id,
                            "Civic-Seq": str(d.seq),
                            "Civic-Sub": d.subscription_id,
                            "Civic-Lane": d.lane,
                        },
                    )
                    for d in batch
                ]
                acks = await asyncio.wait_for(asyncio.gather(*futures), ACK_WAIT)
            except Exception:
                log.exception("publishing to JetStream failed")
                await _wait(stop, 1.0)
                continue
            if CRASH_POINT == "relay-published":
                os.kill(os.getpid(), signal.SIGKILL)
            await asyncio.to_thread(self.store.mark_published, [d.seq for d in batch])
            self.published += sum(1 for a in acks if not a.duplicate)

    # --- partition workers ---------------------------------------------------------------

    async def _consume(self, js: JetStreamContext, partition: int, stop: asyncio.Event) -> None:
        sub = await js.pull_subscribe_bind(self.names.consumer(partition), self.names.stream)
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self.options.batch, timeout=0.5)
                except TimeoutError:
                    continue
                except nats.errors.TimeoutError:
                    continue
                try:
                    await self._handle(msgs)
                except Exception:  # unacked: JetStream redelivers them after ack_wait
                    log.exception("handling a batch of partition %d failed", partition)
                    await _wait(stop, 1.0)
        finally:
            self.owned.pop(partition, None)
            await sub.unsubscribe()

    async def _handle(self, msgs: list[Any]) -> None:
        self.dispatcher.refresh(every=self.options.keys_refresh)
        lanes: dict[str, list[Any]] = {}
        held: list[int] = []
        holding: set[str] = set()
        for msg in msgs:
            headers = msg.headers or {}
            lane = headers.get("Civic-Lane", "")
            if lane in self.held_lanes:
                held.append(int(headers["Civic-Seq"]))
            else:
                lanes.setdefault(lane, []).append(msg)

        async def lane_in_order(items: list[Any]) -> list[AttemptResult]:
            out: list[AttemptResult] = []
            for i, msg in enumerate(items):
                h = msg.headers
                result = await self.dispatcher.attempt(
                    int(h["Civic-Seq"]), h["Nats-Msg-Id"], h["Civic-Sub"], msg.data, 0
                )
                out.append(result)
                if result.state == "retrying":
                    # The lane waits on this retry: the rest follow it through the database.
                    self.held_lanes.add(h["Civic-Lane"])
                    self._holding.add(h["Civic-Lane"])
                    holding.add(h["Civic-Lane"])
                    held.extend(int(m.headers["Civic-Seq"]) for m in items[i + 1 :])
                    break
            return out

        chunks = await asyncio.gather(*(lane_in_order(items) for items in lanes.values()))
        results = [r for chunk in chunks for r in chunk]
        self.delivered += sum(1 for r in results if r.state == "delivered")

        await self._write(results, held)
        self._holding.difference_update(holding)
        for msg in msgs:
            await msg.ack()

    async def _write(self, results: list[AttemptResult], held: list[int]) -> None:
        """Record a batch's outcomes (and the lanes it holds for retry); returns once they
        are committed, so the caller may ack."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.append((results, held, done))
        self._write_wanted.set()
        await done

    async def _writer(self) -> None:
        """Group commit: the batches of every partition this worker owns that finished while
        the previous write ran go to the database in one transaction (one writer at a time
        per process instead of one per partition: SQLite's write lock is not fought over)."""
        while True:
            await self._write_wanted.wait()
            self._write_wanted.clear()
            writes, self._writes = self._writes, []
            if not writes:
                continue
            results = [r for w in writes for r in w[0]]
            held = [seq for w in writes for seq in w[1]]
            try:
                await asyncio.to_thread(self._record_and_hold, results, held)
            except Exception as exc:
                for _, _, done in writes:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, _, done in writes:
                if not done.done():
                    done.set_result(None)

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
            holding = set(self._holding)
            self.held_lanes = await asyncio.to_thread(self.store.retrying_lanes, owned) | holding
            if not claimed:
                await _wait(stop, 0.5)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
