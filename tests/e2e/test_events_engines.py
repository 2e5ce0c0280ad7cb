"""Both delivery engines for real, and crash tests: ``civic worker`` processes against a local
webhook sink, the embedded engine over SQLite, the NATS JetStream engine against the machine's
NATS (``CIVIC_TEST_NATS_URL``, default nats://127.0.0.1:4222; with CI=true an unreachable NATS
fails these tests instead of skipping them).

Each crash test ``kill -9``s a worker at the worst moment — mid-delivery, or the relay right
after NATS acknowledged a batch and before the database recorded it — restarts one, and checks
that every delivery reached the sink at least once, duplicates carrying the same
``webhook-id``, and that per endpoint the events arrived in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench._sink import ThreadedSink

from civicstack.platform import Platform
from civicstack.services.verifier.api_keys import Caller
from civicstack.settings import Settings
from civicstack.testing import Cast
from tests.conftest import IN_CI

pytestmark = pytest.mark.slow

NATS_URL = os.environ.get("CIVIC_TEST_NATS_URL", "nats://127.0.0.1:4222")
CIVIC = [sys.executable, "-m", "civicstack.cli.main"]


def _nats_or_skip() -> None:
    from civicstack.services.notifications.nats_engine import connect

    async def ping() -> None:
        nc = await connect(NATS_URL)
        try:
            await nc.jetstream().account_info()
        finally:
            await nc.close()

    try:
        asyncio.run(ping())
    except Exception as exc:  # any failure means unreachable
        if IN_CI:
            pytest.fail(f"NATS JetStream at {NATS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"NATS JetStream at {NATS_URL} is unreachable: {exc}")


def _drop_namespace(namespace: str) -> None:
    from civicstack.services.notifications.nats_engine import Names, connect

    async def drop() -> None:
        nc = await connect(NATS_URL)
        js = nc.jetstream()
        names = Names(namespace)
        for delete in (js.delete_stream(names.stream), js.delete_key_value(names.bucket)):
            with contextlib.suppress(Exception):  # absent already
                await delete
        await nc.close()

    asyncio.run(drop())


class Rig:
    """A platform on SQLite, a sink, and the environment for ``civic worker`` processes."""

    def __init__(self, tmp: Path, sink: ThreadedSink, *, nats: bool) -> None:
        self.sink = sink
        self.tmp = tmp
        self.namespace = f"t{uuid.uuid4().hex[:10]}"
        self.env = {
            **os.environ,
            "CIVIC_DATA_DIR": str(tmp),
            "CIVIC_EVENTS_ALLOW_PRIVATE": "1",
            "CIVIC_EVENTS_RETRY_SCHEDULE": "200ms 200ms 200ms",
            "CIVIC_EVENTS_NAMESPACE": self.namespace,
            "CIVIC_ADMIN_TOKEN": "t",
        }
        self.env.pop("CIVIC_EVENTS_URL", None)
        if nats:
            self.env["CIVIC_EVENTS_URL"] = NATS_URL
        self.platform = Platform(Settings.from_env(self.env))
        self.platform.migrate()
        Cast().seed(self.platform)
        self.procs: list[subprocess.Popen[bytes]] = []

    def subscribe(self, n: int, prefix: str) -> list[str]:
        events = self.platform.notifications
        return [
            events.subscribe(
                Caller(None),
                organisation="employer",
                url=f"{self.sink.url}/{prefix}/{i}",
                types=["uk.civicstack.address.changed"],
            )[0].id
            for i in range(n)
        ]

    def publish(self, subscriptions: list[str], per_endpoint: int) -> list[list[str]]:
        """Test events, in order, to each endpoint: their event ids per endpoint."""
        sent: list[list[str]] = [[] for _ in subscriptions]
        for _ in range(per_endpoint):
            for i, sid in enumerate(subscriptions):
                sent[i].append(self.platform.notifications.test(Caller(None), sid))
        return sent

    def worker(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.tmp / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*CIVIC, "worker", *args],
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def wait_until(self, done: object, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():  # type: ignore[operator]
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text()[-2000:] for p in self.tmp.glob("worker-*.log"))
                raise AssertionError(f"{self.platform.event_store.state_counts()}\n{logs}")
            time.sleep(0.1)

    def all_delivered(self) -> bool:
        counts = self.platform.event_store.state_counts()
        return (
            bool(counts)
            and set(counts) == {"delivered"}
            and self.platform.event_store.outbox_size() == 0
        )

    def check(self, sent: list[list[str]], subscriptions: list[str]) -> None:
        """Every delivery reached the sink at least once; per endpoint, in order."""
        store = self.platform.event_store
        deliveries = store.deliveries(subscription_ids=subscriptions, limit=500)
        received = self.sink.received()
        got_ids = {r.headers["webhook-id"] for r in received}
        assert {d.id for d in deliveries} <= got_ids, "a delivery was lost"
        import json

        for i, sid in enumerate(subscriptions):
            seen: list[str] = []
            for r in received:
                if r.path.endswith(f"/{i}"):
                    event = json.loads(r.body)["id"]
                    if event not in seen:
                        seen.append(event)
            assert seen == sent[i], f"endpoint {sid} got its events out of order"
        by_id: dict[str, set[bytes]] = {}
        for r in received:
            by_id.setdefault(r.headers["webhook-id"], set()).add(r.body)
        assert all(len(bodies) == 1 for bodies in by_id.values()), "a duplicate changed its body"

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.platform.close()
        if "CIVIC_EVENTS_URL" in self.env:
            _drop_namespace(self.namespace)


@pytest.fixture
def sink() -> Iterator[ThreadedSink]:
    """A sink whose /slow/ paths answer after 0.3 s (requests in flight to kill through)."""
    s = ThreadedSink(slow=0.3)
    yield s
    s.close()


@pytest.fixture
def embedded(tmp_path: Path, sink: ThreadedSink) -> Iterator[Rig]:
    """The embedded engine's rig."""
    rig = Rig(tmp_path, sink, nats=False)
    yield rig
    rig.close()


@pytest.fixture
def nats_rig(tmp_path: Path, sink: ThreadedSink) -> Iterator[Rig]:
    """The NATS engine's rig (skips, or fails in CI, without NATS)."""
    _nats_or_skip()
    rig = Rig(tmp_path, sink, nats=True)
    yield rig
    rig.close()


def test_embedded_worker_killed_mid_delivery_loses_nothing(embedded: Rig) -> None:
    """kill -9 an embedded worker while deliveries are in flight; a new one (after the lease)
    delivers everything, in order per endpoint."""
    subs = embedded.subscribe(4, "slow")
    sent = embedded.publish(subs, 6)
    first = embedded.worker("--lease", "2")
    embedded.wait_until(lambda: len(embedded.sink.received()) >= 3)
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    embedded.worker("--lease", "2")
    embedded.wait_until(embedded.all_delivered)
    time.sleep(0.5)
    embedded.check(sent, subs)


def test_nats_worker_killed_mid_delivery_loses_nothing(nats_rig: Rig) -> None:
    """kill -9 a NATS worker mid-delivery; another worker takes its partitions once the
    leases lapse, JetStream redelivers the unacked messages first, and every delivery
    arrives at least once, in order per endpoint."""
    subs = nats_rig.subscribe(4, "slow")
    sent = nats_rig.publish(subs, 6)
    first = nats_rig.worker()
    nats_rig.wait_until(lambda: len(nats_rig.sink.received()) >= 3)
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    nats_rig.worker()
    nats_rig.wait_until(nats_rig.all_delivered)
    time.sleep(0.5)
    nats_rig.check(sent, subs)


def test_relay_killed_between_nats_and_the_database_loses_nothing(nats_rig: Rig) -> None:
    """The relay dies right after NATS acknowledged a batch, before the database recorded it;
    after a restart it publishes the batch again, JetStream drops the duplicates (Nats-Msg-Id),
    and every delivery arrives."""
    subs = nats_rig.subscribe(3, "fast")
    sent = nats_rig.publish(subs, 5)
    crashing = nats_rig.worker(env={"CIVIC_EVENTS_CRASH": "relay-published"})
    assert crashing.wait(60) == -signal.SIGKILL
    assert nats_rig.platform.event_store.unpublished(100), "nothing was left unrecorded"
    nats_rig.worker()
    nats_rig.wait_until(nats_rig.all_delivered)
    time.sleep(0.5)
    nats_rig.check(sent, subs)


def test_two_nats_workers_share_the_partitions(nats_rig: Rig) -> None:
    """Two workers deliver side by side; every event arrives, in order per endpoint."""
    subs = nats_rig.subscribe(8, "fast")
    sent = nats_rig.publish(subs, 5)
    nats_rig.worker()
    nats_rig.worker()
    nats_rig.wait_until(nats_rig.all_delivered)
    time.sleep(0.3)
    nats_rig.check(sent, subs)


def test_nats_retries_keep_each_endpoints_order(nats_rig: Rig) -> None:
    """Every first attempt at a /flaky/ endpoint fails: each delivery is retried from the
    database with its lane's later messages held behind it, so the successful deliveries
    still arrive in order per endpoint."""
    subs = nats_rig.subscribe(3, "flaky")
    sent = nats_rig.publish(subs, 4)
    nats_rig.worker()
    nats_rig.wait_until(nats_rig.all_delivered)
    import json

    received = nats_rig.sink.received()
    for i, sid in enumerate(subs):
        tries: dict[str, int] = {}
        succeeded: list[str] = []
        for r in received:
            if r.path.endswith(f"/{i}"):
                wid = r.headers["webhook-id"]
                tries[wid] = tries.get(wid, 0) + 1
                if tries[wid] == 2:  # the sink answered 500 to the first, 204 to this
                    succeeded.append(json.loads(r.body)["id"])
        assert succeeded == sent[i], f"endpoint {sid} got its events out of order"
        assert all(n == 2 for n in tries.values()), "a delivery was attempted again after a 2xx"


def test_a_nats_worker_stops_cleanly(nats_rig: Rig) -> None:
    """SIGTERM mid-delivery: the worker stops pulling, lets the attempts under way finish,
    gives its partitions up and exits 0, with no traceback (nothing left running on a closed
    connection)."""
    subs = nats_rig.subscribe(4, "slow")
    nats_rig.publish(subs, 6)
    proc = nats_rig.worker()
    nats_rig.wait_until(lambda: len(nats_rig.sink.received()) >= 3)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    log = (nats_rig.tmp / "worker-0.log").read_text()
    assert "Traceback" not in log, log
    assert "Error" not in log, log


def test_a_stopped_nats_engine_leaves_nothing_running(
    nats_rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process, stopped mid-delivery: when ``run_worker`` returns, no task of the engine is
    left running (none to fail later on the closed connection) and nothing was logged as an
    error."""
    from civicstack.cli.worker import run_worker

    subs = nats_rig.subscribe(4, "slow")
    nats_rig.publish(subs, 3)
    platform = Platform(Settings.from_env(nats_rig.env))

    async def main() -> list[asyncio.Task[object]]:
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(platform, stop, engine="nats"))
        while len(nats_rig.sink.received()) < 3:
            await asyncio.sleep(0.05)
        stop.set()
        await worker
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    try:
        left = asyncio.run(main())
    finally:
        platform.close()
    assert [t.get_coro() for t in left] == []
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
