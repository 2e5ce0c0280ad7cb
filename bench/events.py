"""Webhook deliveries per second to 1,000 local endpoints: the embedded engine and the NATS
JetStream engine side by side, against the sink's own capacity.

Setup: one sink process (``bench/_sink.py``, an asyncio HTTP/1.1 server answering 204 on any
path) stands for 1,000 endpoints (1,000 paths, one subscription each, all of one type); the
platform is on SQLite in a temporary directory. Each run publishes ``EVENTS`` notices about
``EVENTS`` different citizens (a consent double covers every organisation), so each fans out to
1,000 deliveries; the figures are deliveries/s from the first commit to the last delivery,
and p50/p99 from an event's commit to its delivery's 2xx.

Peer: the sink's capacity, measured in the same run as the most a bare keep-alive client
(``bench/_load.py``: no signing, no database) can POST to the same 1,000 paths with the same
body size. Goal: NATS at >= 4,000 deliveries/s and >= 70% of the sink's capacity.

    .venv/bin/python bench/events.py [--events 20] [--nats nats://127.0.0.1:4222]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import Request, drive, event_loop_name, process_tree_cpu

from civicstack.events import Notice
from civicstack.events.notices import Representation
from civicstack.pairwise import Subject
from civicstack.platform import Platform
from civicstack.services.notifications.sender import WebhookClient
from civicstack.services.notifications.worker import Dispatcher, EmbeddedWorker, WorkerOptions
from civicstack.services.verifier.api_keys import Caller
from civicstack.settings import Settings
from civicstack.testing import Cast

ENDPOINTS = 1000
TYPE = "uk.civicstack.address.changed"


class EveryoneConsented:
    """The benchmark's consent double: every organisation hears, thin."""

    def covers(
        self, organisation: str, subject: Subject, event_type: str, *, now: int
    ) -> Representation | None:
        return "thin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "_sink.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(b"ready")
    return proc


def platform_for(directory: Path, port: int) -> tuple[Platform, list[str]]:
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(directory),
            "CIVIC_EVENTS_ALLOW_PRIVATE": "1",
            "CIVIC_EVENTS_NAMESPACE": f"b{uuid.uuid4().hex[:8]}",
        }
    )
    platform = Platform(settings)
    platform.event_consents = EveryoneConsented()
    platform.migrate()
    Cast().seed(platform)
    subs = [
        platform.notifications.subscribe(
            Caller(None),
            organisation="employer",
            url=f"http://127.0.0.1:{port}/hooks/{i}",
            types=[TYPE],
        )[0].id
        for i in range(ENDPOINTS)
    ]
    return platform, subs


def publish(platform: Platform, events: int) -> dict[str, float]:
    committed: dict[str, float] = {}
    for n in range(events):
        notice = Notice(
            id=f"evt_{uuid.uuid4().hex[:26]}",
            type=TYPE,
            source="https://platform.example/events",
            time=int(time.time()),
            subject=Subject("GB", f"QQ{n:06d}C"),
            changed=("address",),
            fetch="https://platform.example/exchange/address?subject={subject}",
        )
        platform.notifications.publish(notice)
        committed[notice.id] = time.time()
    return committed


async def run_engine(platform: Platform, engine: str, nats_url: str, total: int) -> float:
    client = WebhookClient(allow_private=True, per_origin=256)
    dispatcher = Dispatcher(platform.notifications, client)
    options = WorkerOptions(batch=1000, poll=0.005, fan_out_batch=50)
    stop = asyncio.Event()
    if engine == "nats":
        from civicstack.services.notifications.nats_engine import Names, NatsEngine

        runner = NatsEngine(
            platform.notifications,
            dispatcher,
            nats_url,
            options=options,
            names=Names(platform.settings.events_namespace),
        )
    else:
        runner = EmbeddedWorker(platform.notifications, dispatcher, options=options)  # type: ignore[assignment]
    task = asyncio.create_task(runner.run(stop))
    started = time.monotonic()
    while runner.delivered < total:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
        if time.monotonic() - started > 600:
            break
    stop.set()
    await task
    await client.close()
    return time.monotonic() - started


def measure(engine: str, events: int, port: int, nats_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        platform, subs = platform_for(Path(tmp), port)
        cpu0 = process_tree_cpu(os.getpid())
        start = time.time()
        committed = publish(platform, events)
        asyncio.run(run_engine(platform, engine, nats_url, events * ENDPOINTS))
        end = time.time()
        cpu = process_tree_cpu(os.getpid()) - cpu0
        latencies = sorted(
            d.delivered_at - committed[d.event_id]
            for d in platform.event_store.deliveries(
                subscription_ids=subs, state="delivered", limit=10**9
            )
            if d.delivered_at is not None
        )
        platform.close()
    n = len(latencies)
    return {
        "delivered": n,
        "seconds": end - start,
        "rate": n / (end - start),
        "p50": latencies[n // 2] if n else 0.0,
        "p99": latencies[min(n - 1, int(n * 0.99))] if n else 0.0,
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20, help="notices (x1,000 deliveries)")
    parser.add_argument(
        "--nats", default=os.environ.get("CIVIC_EVENTS_URL", "nats://127.0.0.1:4222")
    )
    parser.add_argument("--peer-seconds", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        body = b"x" * 380  # the size of a thin address event
        variants = [
            Request("POST", f"/hooks/{i}", {"Content-Type": "application/cloudevents+json"}, body)
            for i in range(ENDPOINTS)
        ]
        sink_cpu0 = process_tree_cpu(sink.pid)
        peer = drive(
            "127.0.0.1",
            port,
            variants[0],
            concurrency=64,
            seconds=args.peer_seconds,
            warmup=1.0,
            variants=variants,
        )
        peer_sink_cpu = process_tree_cpu(sink.pid) - sink_cpu0
        print(f"machine: {os.cpu_count()} cores, load {Path('/proc/loadavg').read_text().strip()}")
        print(
            f"sink: one asyncio process ({event_loop_name()} not used by the sink), "
            f"{ENDPOINTS} endpoint paths, 204 answers"
        )
        print(
            f"peer (bare keep-alive client, 64 connections, {event_loop_name()}): "
            f"{peer.rate:,.0f} POST/s; client CPU {peer.cpu_seconds:.1f}s, sink CPU "
            f"{peer_sink_cpu:.1f}s over {peer.seconds:.1f}s"
        )
        print(
            f"workload: {args.events} events x {ENDPOINTS} subscriptions = "
            f"{args.events * ENDPOINTS:,} deliveries per engine; SQLite; HMAC v1 signed"
        )
        for engine in ("embedded", "nats"):
            try:
                sink_cpu0 = process_tree_cpu(sink.pid)
                got = measure(engine, args.events, port, args.nats)
            except Exception as exc:  # NATS absent: say so, go on
                print(f"{engine:>8}: not measured ({type(exc).__name__}: {exc})")
                continue
            sink_cpu = process_tree_cpu(sink.pid) - sink_cpu0
            print(
                f"{engine:>8}: {got['rate']:,.0f} deliveries/s ({got['delivered']:,} in "
                f"{got['seconds']:.1f}s) = {got['rate'] / peer.rate:.0%} of the sink's capacity;"
                f" commit->delivery p50 {got['p50'] * 1000:.0f} ms, p99 {got['p99'] * 1000:.0f} ms;"
                f" platform CPU {got['cpu']:.1f}s, sink CPU {sink_cpu:.1f}s"
            )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"benchmark process CPU: {usage.ru_utime + usage.ru_stime:.1f}s")
    finally:
        sink.terminate()
        sink.wait(5)


if __name__ == "__main__":
    main()
