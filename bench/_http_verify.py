"""HTTP verify benchmark (run as bench/http.py): verified presentations/s, civicstack vs ACA-Py.

In one run, with the same load generator (bench/_load.py: closed-loop keep-alive HTTP/1.1
clients, 16 by default, for 15 s after a warm-up) and the same workload as
bench/credentials.py (a 12-claim PID presenting only ``age_over_18`` with key binding):

* civicstack: ``civic up --workers 1`` (one process, uvicorn on uvloop) verifying
  presentations at ``POST /verifier/verify`` with the shop's API key, each request its own
  presentation (the replay guard accepts a KB-JWT once) from one of 32 holders, each with its
  own key and credential, checked against the signatures, the KB-JWT's audience and nonce,
  the trust chain to the root, the status list and the replay guard, whose writes reach
  SQLite (see :func:`measure_civicstack_http`); with the in-process verify rate of the same
  run (``verify_presentation`` on one core) as the ratio HTTP / in-process;
* the peer, ACA-Py 1.7.0 (bench/_acapy.py) in its fastest configuration: one agent process
  (ACA-Py has no worker option) on uvloop, ``POST /wallet/sd-jwt/verify`` on its admin API,
  a credential its own ``/wallet/sd-jwt/sign`` issued. That endpoint does less than ours: it
  never checks the KB-JWT, expiry, or that a Disclosure is referenced by a digest, and it
  writes nothing; every run probes and prints this, so the figures are read with it in mind;
* scaling, reported apart and never as a ratio to the peer: ``civic up --workers 2`` under
  the same load (the machine has 2 cores, shared with the load generator);
* the load generator's own ceiling: what it drives against a trivial server, and the CPU it
  spends per request (it shares the machine's cores with the server under test).

The headline ratio compares one server process with one server process, both warmed by the
same warm-up window, each process count and event loop read from /proc and printed beside
its figure. Each figure: verified/s (2xx whose answer says verified), p50/p99 latency of
those, errors, and the CPU the server and the generator used over the window, in cores.

Usage: ``.venv/bin/python bench/http.py [--seconds 15] [--concurrency 16] [--quick]
[--peer acapy|none] [--alg ES256|EdDSA] [--no-scaling]`` (``--quick``: 3 s windows). The
first run with the peer installs ACA-Py and uvloop into bench/_peers/acapy-venv (about a
minute).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bench import _acapy
from bench._load import (
    LoadResult,
    Request,
    drive,
    event_loop_name,
    measure_ceiling,
    process_tree_cpu,
    server_shape,
)
from bench.credentials import PID, best_rates, civicstack_ops

from civicstack._crypto import Alg, PrivateKey, json_dumps
from civicstack.credential_types import PID_VCT
from civicstack.credentials import present_credential
from civicstack.openid4vp import client_id_for
from civicstack.platform import Platform
from civicstack.settings import Settings

#: The highest rate per worker the pool of presentations is sized for (each is accepted once:
#: a replay is refused). A worker shares two cores with the load generator, far below this.
POOL_RATE_PER_WORKER = 3_000
#: Distinct holders (own key, own credential) the presentations come from, in turn.
HOLDERS = 32


@dataclass(frozen=True)
class HttpFigures:
    """One contender's run under the load generator."""

    name: str
    load: LoadResult  # ``metered``: the server's CPU seconds over the window, all processes
    request: Request
    pool: int = 1  # distinct requests sent in turn (civicstack: one presentation each)
    shape: str = "?"  # processes and event loop, read from /proc while it ran


@contextmanager
def civic_up(data_dir: Path, *, workers: int, timeout: float = 60) -> Iterator[tuple[int, int]]:
    """``civic up --workers N`` on a free port in ``data_dir``; ``(port, pid)`` once ready."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {**os.environ, "CIVIC_DATA_DIR": str(data_dir)}
    for name in ("CIVIC_DATABASE_URL", "CIVIC_BASE_URL", "CIVIC_ADMIN_TOKEN", "CIVIC_HOST"):
        env.pop(name, None)
    log = (data_dir / "civic-up.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "civicstack.cli.main", "up", "--port", str(port),
         "--workers", str(workers)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"civic up exited: {(data_dir / 'civic-up.log').read_text()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("civic up did not become ready")
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def presentations(
    data_dir: Path, alg: Alg, count: int, holders: int = HOLDERS
) -> tuple[list[Request], str]:
    """``count`` requests to POST /verifier/verify, each a fresh presentation of the PID.

    The seeded passport office issues the 12-claim PID of bench/credentials.py (it adds
    ``issuing_authority``, which the PID type requires, and a status list reference) to
    ``holders`` holders, each its own key; the presentations take the holders in turn, each
    disclosing only ``age_over_18`` with a KB-JWT for the shop's client_id and its own nonce,
    as a shop's backend would receive them one by one. The shop's backend authenticates with
    its API key. Returns the requests and the first credential.
    """
    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data_dir)}))
    try:
        wallets = []
        for _ in range(holders):
            holder = PrivateKey.generate(alg)
            issued = platform.authorities.issue(
                "passport-office", vct=PID_VCT, claims=dict(PID), holder=holder.public_key
            )
            wallets.append((holder, issued.credential))
        _, api_key = platform.verifier.issue_api_key("shop")
        aud = client_id_for(platform.verifier.relying_party("shop").identifier)
    finally:
        platform.close()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    now = int(time.time())
    requests = []
    for i in range(count):
        nonce = f"bench-{i:09d}"
        holder, credential = wallets[i % holders]
        presented = present_credential(
            credential, disclose=["age_over_18"], holder=holder, aud=aud, nonce=nonce, now=now
        )
        body = json_dumps({"presentation": presented, "nonce": nonce})
        requests.append(Request("POST", "/verifier/verify", headers, body))
    return requests, wallets[0][1]


def _verified(body: bytes) -> bool:
    return body.startswith(b'{"verified":true')


def measure_civicstack_http(
    *, alg: Alg, concurrency: int, seconds: float, warmup: float, workers: int = 1
) -> HttpFigures:
    """civicstack's verified presentations per second over HTTP, ``civic up --workers N``.

    1. start the platform (``civic up --port P --workers N``, ready at ``/healthz``) on a
       fresh data directory (SQLite, the embedded default) with its seeded demo world;
    2. issue the PID from the seeded passport office to :data:`HOLDERS` holders and prepare
       one presentation per request the run can send (``POOL_RATE_PER_WORKER`` per worker and
       second): the verifier accepts each KB-JWT once, so every request carries its own;
    3. drive ``POST /verifier/verify`` (the shop's API key; signatures, key binding to the
       shop's client_id and the nonce, the chain to the root, the status list, the replay
       guard) with ``concurrency`` keep-alive clients, metering the server's CPU (workers
       included) and reading its processes and event loop from /proc;
    4. return ``HttpFigures("civicstack civic up -wN", ...)``.
    """
    with tempfile.TemporaryDirectory(prefix="civic-bench-") as scratch:
        data_dir = Path(scratch)
        with civic_up(data_dir, workers=workers) as (port, pid):
            count = int((seconds + warmup) * POOL_RATE_PER_WORKER * workers) + concurrency
            pool, _ = presentations(data_dir, alg, count)
            load = drive(
                "127.0.0.1",
                port,
                pool[0],
                variants=pool,
                once=True,
                concurrency=concurrency,
                seconds=seconds,
                warmup=warmup,
                check=_verified,
                meter=lambda: process_tree_cpu(pid),
            )
            shape = server_shape(pid)
    return HttpFigures(f"civicstack civic up -w{workers}", load, pool[0], len(pool), shape)


def civicstack_inprocess_rate(alg: Alg, seconds: float) -> float:
    """verify_presentation per second in this process, same workload (bench/credentials.py)."""
    verify = civicstack_ops(alg, holders=1_000)["verify"]
    return best_rates({"verify": verify}, seconds, 3)["verify"]


def measure_acapy(
    *, alg: Alg, concurrency: int, seconds: float, warmup: float
) -> tuple[HttpFigures, list[str], dict[str, Any]]:
    """ACA-Py's /wallet/sd-jwt/verify under load; the probes of what it checks; facts."""
    with _acapy.running_acapy(lambda line: print(f"  [acapy] {line}", flush=True)) as agent:
        workload = _acapy.prepare_workload(agent, dict(PID), alg)
        probes = _acapy.probe_checks(agent, workload, dict(PID))
        facts = {
            "version": agent.version(),
            "installed": _acapy.installed_versions(),
            "presentation_bytes": len(workload.presentation),
            "disclosable": len(_acapy.acapy_disclosable(dict(PID))),
        }
        load = drive(
            "127.0.0.1",
            agent.admin_port,
            workload.request,
            concurrency=concurrency,
            seconds=seconds,
            warmup=warmup,
            check=workload.check,
            meter=agent.cpu_seconds,
        )
        assert agent.proc is not None
        shape = server_shape(agent.proc.pid)
    name = f"ACA-Py {facts['version']} admin API"
    return HttpFigures(name, load, workload.request, shape=shape), probes, facts


def _cpu_per_request(figures: HttpFigures) -> float | None:
    """The server's CPU seconds per verified request (all its processes)."""
    load = figures.load
    if load.metered is None or not load.successes:
        return None
    return load.metered / load.successes


def _row(figures: HttpFigures) -> str:
    load = figures.load
    server = f"{load.metered / load.seconds:.2f}" if load.metered is not None else "?"
    cpu = _cpu_per_request(figures)
    per_request = f"{cpu * 1e6:,.0f}" if cpu is not None else "?"
    return (
        f"  {figures.name:30}{load.rate:>12,.0f}{load.p50 * 1e3:>9.1f}{load.p99 * 1e3:>9.1f}"
        f"{load.errors:>8,}{server:>10}{per_request:>9}{load.cpu_share:>7.2f}   {figures.shape}"
    )


def main() -> int:
    """Measure, print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window (s)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive clients")
    parser.add_argument("--quick", action="store_true", help="3 s windows, 1 s warm-up")
    parser.add_argument("--peer", choices=["acapy", "none"], default="acapy")
    parser.add_argument("--alg", choices=["ES256", "EdDSA"], default="ES256")
    parser.add_argument(
        "--no-scaling", action="store_true", help="skip the civic up --workers 2 scaling line"
    )
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    warmup = 1.0 if args.quick else 2.0
    alg: Alg = args.alg
    if seconds <= 0 or args.concurrency < 1:
        parser.error("--seconds must be > 0 and --concurrency >= 1")

    print(
        "civicstack HTTP verify benchmark: 12-claim PID presenting only age_over_18 with key "
        f"binding, {alg}"
    )
    print(
        f"{args.concurrency} keep-alive HTTP/1.1 clients, {seconds:g} s measured after "
        f"{warmup:g} s warm-up (both sides alike); load generator: bench/_load.py on "
        f"{event_loop_name()}, in this process",
    )
    # The machine is shared; a busy one lowers every figure, so say how busy it was.
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start\n")
    ours = measure_civicstack_http(
        alg=alg, concurrency=args.concurrency, seconds=seconds, warmup=warmup, workers=1
    )
    inprocess = civicstack_inprocess_rate(alg, 1.5 if args.quick else 4.5)
    probes: list[str] = []
    facts: dict[str, Any] = {}
    peer: HttpFigures | None = None
    peer_error = None
    if args.peer == "acapy":
        try:
            peer, probes, facts = measure_acapy(
                alg=alg, concurrency=args.concurrency, seconds=seconds, warmup=warmup
            )
        except _acapy.PeerUnavailableError as error:
            peer_error = str(error)
    scaling = None
    if not args.no_scaling:
        scaling = measure_civicstack_http(
            alg=alg, concurrency=args.concurrency, seconds=seconds, warmup=warmup, workers=2
        )
    reference = peer.request if peer else _stand_in_request()
    ceiling = measure_ceiling(
        reference, concurrency=args.concurrency, seconds=1.0 if args.quick else 3.0
    )

    header = (
        f"  {'':30}{'verified/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'srv cores':>10}{'µs/req':>9}{'gen':>7}   server (from /proc)"
    )
    print("headline: one server process each")
    print(header)
    for figures in (ours, peer):
        if figures is None:
            continue
        print(_row(figures))
        if figures.load.error_kinds:
            print(f"  {'':30}errors by kind: {dict(figures.load.error_kinds)}")
    if peer_error:
        print(f"  {'ACA-Py ' + _acapy.ACAPY_VERSION:30}NOT MEASURED: {peer_error}")
    print(f"  {'civicstack in-process verify':30}{inprocess:>12,.0f}   one core, no HTTP")
    if scaling is not None:
        print("\nscaling (not compared with the peer, which runs one process):")
        print(_row(scaling))
        if scaling.load.error_kinds:
            print(f"  {'':30}errors by kind: {dict(scaling.load.error_kinds)}")
    for figures in (ours, scaling):
        if figures is None:
            continue
        sent = figures.load.requests + figures.load.warmup_requests
        if figures.pool > 1 and sent > figures.pool:
            print(f"  {figures.name}: the pool of {figures.pool:,} presentations ran out")
    print(
        "  (srv cores, gen: CPU the server and the load generator used over the window, in "
        "cores; the machine has 2;\n   µs/req: the server's CPU per verified request, which "
        "holds up on a busy machine better than the rate)"
    )
    print(
        f"\nload generator ceiling: {ceiling.rate:,.0f} req/s with this request against a trivial "
        f"server in another process; {ceiling.cpu_per_request * 1e6:.1f} µs of generator CPU "
        f"per request, {ceiling.errors} errors"
    )

    vs_peer = f"{ours.load.rate / peer.load.rate:.1f}x" if peer else "n/a (peer not measured)"
    print("\nratios")
    print(
        f"  civicstack HTTP / ACA-Py HTTP, 1 process each:  {vs_peer}   "
        f"({ours.shape} vs {peer.shape if peer else '-'})"
    )
    ours_cpu, peer_cpu = _cpu_per_request(ours), _cpu_per_request(peer) if peer else None
    if ours_cpu and peer_cpu:
        print(
            "  ACA-Py / civicstack server CPU per request:     "
            f"{peer_cpu / ours_cpu:.1f}x   (the same ratio, free of how busy the machine was)"
        )
    print(f"  civicstack HTTP / in-process verify:            {ours.load.rate / inprocess:.0%}")
    if scaling is not None:
        print(
            "  scaling, civic up -w2 / -w1:                   "
            f"{scaling.load.rate / ours.load.rate:.2f}x   (2 cores shared with the generator)"
        )
    print(
        "  (over HTTP every presentation is also checked against the trust chain, the status\n"
        "   list and the replay guard, whose writes are group-committed to SQLite per event-loop\n"
        "   turn; in-process it is the verify recipe alone, as in bench/credentials.py)"
    )
    print(
        f"\ncivicstack: civic up --workers 1, SQLite in a fresh data directory, {HOLDERS} "
        "holders with their own keys and credentials, one presentation and nonce per request."
    )
    if peer is not None:
        print(
            f"ACA-Py: {facts['installed']}; one agent process (it has no worker option), "
            "askar wallet, no ledger, uvloop.\n"
            f"  Credential from its POST /wallet/sd-jwt/sign ({facts['disclosable']} disclosable "
            "claims: it never makes issuing_country disclosable), presented by civicstack's "
            f"holder code with a KB-JWT ({facts['presentation_bytes']} B), the same presentation "
            "in every request (its endpoint checks no nonce, so nothing is lost by repeating "
            "it), verified by POST /wallet/sd-jwt/verify.\n"
            "  What that endpoint answers to presentations a full RFC 9901 verifier refuses:"
        )
        for line in probes:
            print(f"    {line}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 0


def _stand_in_request() -> Request:
    """A request of the workload's size, for the ceiling when nothing else was measured."""
    presentation = str(civicstack_ops("ES256", holders=1)["presentation"]())
    body = b'{"sd_jwt":"' + presentation.encode() + b'"}'
    return Request("POST", "/verify", {"Content-Type": "application/json"}, body)
