"""Webhook deliveries per second to 1,000 local endpoints: the embedded engine and the NATS
JetStream engine side by side, against the sink's own capacity.

Setup: one sink process (``bench/_sink.py``, an asyncio HTTP/1.1 server on uvloop answering
204 on any path) stands for 1,000 endpoints (1,000 paths, one subscription each, all of one
type); the platform is on SQLite in a temporary directory. The deliveries are made by
``--workers`` separate worker processes running ``civic worker``'s own code
(:func:`civicstack.cli.worker.run_worker`, default options, on uvloop), as in production;
the benchmark only adds a consent double so that every organisation hears. Each run
publishes ``--events`` notices about as many citizens, each fanning out to 1,000 deliveries;
the figures are deliveries/s from the first commit to the last delivery, and p50/p99 from an
event's commit to its delivery's 2xx.

Peer: the sink's capacity, measured in the same run as the most a bare client can POST to
it: the same client stack (:class:`~civicstack.services.notifications.sender.WebhookClient`,
kept-alive connections, the workers' connection limit per origin), in as many processes as
there are workers, sending a body of a delivery's size with webhook headers of the same
size, but no signing, no database, no NATS. Goal: NATS at >= 4,000 deliveries/s and >= 70%
of the sink's capacity.

CPU per delivery (user + system seconds of the worker processes, and of the sink, divided
by the deliveries) is printed too: unlike the rates it hardly depends on what else the
machine is doing.

    .venv/bin/python bench/events.py [--events 20] [--workers 2] [--nats nats://127.0.0.1:4222]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import process_tree_cpu, run

from civicstack.events import Notice
from civicstack.events.endpoints import parse_endpoint_url
from civicstack.events.notices import Representation
from civicstack.pairwise import Subject
from civicstack.platform import Platform
from civicstack.services.notifications.sender import WebhookClient
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


def settings_for(directory: Path, namespace: str, nats_url: str | None) -> Settings:
    env = {
        "CIVIC_DATA_DIR": str(directory),
        "CIVIC_EVENTS_ALLOW_PRIVATE": "1",
        "CIVIC_EVENTS_NAMESPACE": namespace,
    }
    if nats_url:
        env["CIVIC_EVENTS_URL"] = nats_url
    return Settings.from_env(env)


def platform_for(settings: Settings, port: int) -> tuple[Platform, list[str]]:
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


# --- the worker and peer processes ------------------------------------------------------


def worker_process(directory: str, namespace: str, nats_url: str) -> None:
    """A ``civic worker`` (its :func:`run_worker`) with the consent double, until SIGTERM."""
    from civicstack.cli.worker import run_worker

    settings = settings_for(Path(directory), namespace, nats_url or None)
    platform = Platform(settings)
    platform.event_consents = EveryoneConsented()

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await run_worker(platform, stop, engine="nats" if nats_url else "embedded")

    profile = os.environ.get("BENCH_PROFILE")  # a directory: one cProfile dump per worker
    try:
        if profile:
            import cProfile

            cProfile.runctx(
                "run(main())",
                globals(),
                {"run": run, "main": main},
                f"{profile}/worker-{os.getpid()}.prof",
            )
        else:
            run(main())
    finally:
        platform.close()


def peer_process(port: int, seconds: float, body_size: int) -> None:
    """The bare client: the workers' HTTP client and connection limit, nothing else.
    Prints the 2xx answers counted in the last ``seconds`` (after a 1 s warm-up)."""
    client = WebhookClient(allow_private=True)
    endpoints = [parse_endpoint_url(f"http://127.0.0.1:{port}/hooks/{i}") for i in range(ENDPOINTS)]
    body = b"x" * body_size
    headers = {  # the size of a real delivery's three webhook-* headers
        "webhook-id": "msg_" + "0" * 26,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1," + "A" * 44,
    }

    async def main() -> tuple[int, float]:
        counted = 0
        cpu = [0.0, 0.0]
        start = time.monotonic()
        window = (start + 1.0, start + 1.0 + seconds)

        async def one_connection(n: int) -> None:
            nonlocal counted
            i = n
            while (now := time.monotonic()) < window[1]:
                if now >= window[0] and not cpu[0]:
                    cpu[0] = time.process_time()
                outcome, _ = await client.post(endpoints[i % ENDPOINTS], headers, body)
                if outcome.succeeded and now >= window[0]:
                    counted += 1
                i += client.per_origin

        await asyncio.gather(*(one_connection(n) for n in range(client.per_origin)))
        cpu[1] = time.process_time()
        await client.close()
        return counted, cpu[1] - cpu[0]

    counted, cpu = run(main())
    print(counted / seconds, cpu, counted, flush=True)


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args], stdout=subprocess.PIPE
    )


def measure_peer(port: int, processes: int, seconds: float, body_size: int) -> dict[str, float]:
    procs = [_spawn("peer", str(port), str(seconds), str(body_size)) for _ in range(processes)]
    rate = cpu = posts = 0.0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        got = out.decode().split()
        rate, cpu, posts = rate + float(got[-3]), cpu + float(got[-2]), posts + float(got[-1])
    return {"rate": rate, "cpu_per_post": cpu / max(1.0, posts)}


def measure(
    engine: str, events: int, *, workers: int, port: int, nats_url: str, sink_pid: int
) -> dict[str, float]:
    total = events * ENDPOINTS
    namespace = f"b{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        url = nats_url if engine == "nats" else ""
        platform, subs = platform_for(settings_for(Path(tmp), namespace, url or None), port)
        procs = [_spawn("worker", tmp, namespace, url) for _ in range(workers)]
        try:
            for proc in procs:
                assert proc.stdout is not None
                if not proc.stdout.readline().startswith(b"ready"):
                    raise RuntimeError(f"a {engine} worker did not start")
            time.sleep(2.0)  # connected, NATS partitions shared out
            workers0 = sum(process_tree_cpu(p.pid) for p in procs)
            sink0 = process_tree_cpu(sink_pid)
            start = time.time()
            committed = publish(platform, events)
            deadline = time.monotonic() + 600
            while platform.event_store.state_counts().get("delivered", 0) < total:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    break
                time.sleep(0.25)
            sink_cpu = process_tree_cpu(sink_pid) - sink0
            worker_cpu = sum(process_tree_cpu(p.pid) for p in procs) - workers0
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(60)
        delivered = [
            d
            for d in platform.event_store.deliveries(
                subscription_ids=subs, state="delivered", limit=10**9
            )
            if d.delivered_at is not None
        ]
        platform.close()
    latencies = sorted(d.delivered_at - committed[d.event_id] for d in delivered)  # type: ignore[operator]
    n = len(latencies)
    end = max((d.delivered_at for d in delivered), default=start)  # type: ignore[type-var]
    return {
        "delivered": n,
        "seconds": end - start,
        "rate": n / (end - start) if n else 0.0,
        "p50": latencies[n // 2] if n else 0.0,
        "p99": latencies[min(n - 1, int(n * 0.99))] if n else 0.0,
        "cpu": worker_cpu,
        "sink_cpu": sink_cpu,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_process(*sys.argv[2:5])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "peer":
        peer_process(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20, help="notices (x1,000 deliveries)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per engine")
    parser.add_argument("--engines", default="embedded,nats")
    parser.add_argument(
        "--nats", default=os.environ.get("CIVIC_EVENTS_URL", "nats://127.0.0.1:4222")
    )
    parser.add_argument("--peer-seconds", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        body_size = 390  # a thin address event, rendered
        sink0 = process_tree_cpu(sink.pid)
        peer = measure_peer(port, args.workers, args.peer_seconds, body_size)
        peer_sink_cpu = process_tree_cpu(sink.pid) - sink0
        print(f"machine: {os.cpu_count()} cores, load {Path('/proc/loadavg').read_text().strip()}")
        print(f"sink: one asyncio process on uvloop, {ENDPOINTS} endpoint paths, 204 answers")
        per_origin = WebhookClient(allow_private=True).per_origin
        peered = peer["rate"] * (args.peer_seconds + 1)  # the sink also answered the warm-up
        print(
            f"peer (bare client: WebhookClient, {args.workers} processes x {per_origin} kept-alive"
            f" connections, uvloop, no signing/database): {peer['rate']:,.0f} POST/s; "
            f"client CPU {peer['cpu_per_post'] * 1e6:.0f} us/POST, sink CPU "
            f"{peer_sink_cpu / peered * 1e6:.0f} us/POST"
        )
        print(
            f"workload: {args.events} events x {ENDPOINTS} subscriptions = "
            f"{args.events * ENDPOINTS:,} deliveries per engine; {args.workers} worker processes"
            f" (civic worker's run_worker, default options); SQLite; HMAC v1 signed"
        )
        for engine in args.engines.split(","):
            try:
                got = measure(
                    engine,
                    args.events,
                    workers=args.workers,
                    port=port,
                    nats_url=args.nats,
                    sink_pid=sink.pid,
                )
            except Exception as exc:  # NATS absent: say so, go on
                print(f"{engine:>8}: not measured ({type(exc).__name__}: {exc})")
                continue
            n = max(1, int(got["delivered"]))
            print(
                f"{engine:>8}: {got['rate']:,.0f} deliveries/s ({got['delivered']:,} in "
                f"{got['seconds']:.1f}s) = {got['rate'] / peer['rate']:.0%} of the sink's capacity;"
                f" commit->delivery p50 {got['p50'] * 1000:.0f} ms, p99 {got['p99'] * 1000:.0f} ms;"
                f" worker CPU {got['cpu'] / n * 1e6:.0f} us/delivery, sink CPU "
                f"{got['sink_cpu'] / n * 1e6:.0f} us/delivery"
            )
        print(f"load after: {Path('/proc/loadavg').read_text().strip()}")
    finally:
        sink.terminate()
        sink.wait(5)


if __name__ == "__main__":
    main()
