"""HTTP verify benchmark (run as bench/http.py): verified presentations/s, civicstack vs ACA-Py.

In one run, with the same load generator (bench/_load.py: closed-loop keep-alive HTTP/1.1
clients, 16 by default, for 20 s after a warm-up) and the same workload as
bench/credentials.py (a 12-claim PID presenting only ``age_over_18`` with key binding):

* civicstack: ``civic up --workers 2`` verifying presentations at its verifier service, with
  the in-process verify rate of the same run (``verify_presentation`` on one core) as the
  ratio HTTP / in-process (see :func:`measure_civicstack_http`);
* the peer, ACA-Py 1.7.0 (bench/_acapy.py): ``POST /wallet/sd-jwt/verify`` on its admin API,
  one agent process, a credential its own ``/wallet/sd-jwt/sign`` issued. That endpoint does
  less than ours: it never checks the KB-JWT, expiry, or that a Disclosure is referenced by a
  digest; every run probes and prints this, so the figures are read with it in mind;
* the load generator's own ceiling: what it drives against a trivial server, and the CPU it
  spends per request (it shares the machine's 2 cores with the server under test).

Each figure: verified/s (2xx whose answer says verified), p50/p99 latency of those, errors,
and the CPU the server and the generator used over the window, in cores. Issue 3 targets
civicstack >= 5x ACA-Py.

Usage: ``.venv/bin/python bench/http.py [--seconds 20] [--concurrency 16] [--quick]
[--peer acapy|none] [--alg ES256|EdDSA]`` (``--quick``: 3 s windows). The first run with the
peer installs ACA-Py into bench/_peers/acapy-venv (about a minute).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from bench import _acapy
from bench._load import LoadResult, Request, drive, event_loop_name, measure_ceiling
from bench.credentials import PID, best_rates, civicstack_ops

from civicstack._crypto import Alg


class VerifierServiceMissingError(RuntimeError):
    """civicstack's verifier service is not in this build: nothing to measure over HTTP."""


@dataclass(frozen=True)
class HttpFigures:
    """One contender's run under the load generator."""

    name: str
    load: LoadResult  # ``metered``: the server's CPU seconds over the window, all processes
    request: Request


def measure_civicstack_http(
    *, alg: Alg, concurrency: int, seconds: float, warmup: float, workers: int = 2
) -> HttpFigures:
    """civicstack's verified presentations per second over HTTP, ``civic up --workers 2``.

    The verifier service (issue 3 item 3, OpenID4VP) is being built on another branch; until
    it is merged there is no endpoint that verifies a presentation, and this raises
    :class:`VerifierServiceMissingError` rather than measure something else. Once it lands:

    1. start the platform as tests/e2e/server.py ``running_platform(data_dir,
       workers=workers)`` does (``civic up --port P --workers N``, ready at ``/healthz``);
    2. issue the PID from the seeded passport office and present ``age_over_18`` to the
       verify endpoint's ``aud``/``nonce`` (the same workload as ``civicstack_ops(alg)``);
    3. ``drive("127.0.0.1", port, Request("POST", <verify path>, headers, body),
       concurrency=concurrency, seconds=seconds, warmup=warmup, check=<answer says
       verified>, meter=lambda: process_tree_cpu(proc.pid))``: the server's CPU, workers
       included, over the window;
    4. return ``HttpFigures("civicstack civic up -w2", load, request)``.

    A nonce that can be used once (issue 3 item 8) means a replayed presentation must fail:
    the endpoint measured has to be one that verifies a presentation for the caller (a
    relying party's backend checking a presentation it received), or each request needs its
    own nonce and presentation, prepared before the window.
    """
    raise VerifierServiceMissingError(
        "civicstack's verifier service (issue 3 item 3) is not in this build: `civic up` "
        "serves no endpoint that verifies a presentation, so its HTTP rate cannot be measured"
    )


def civicstack_inprocess_rate(alg: Alg, seconds: float) -> float:
    """verify_presentation per second in this process, same workload (bench/credentials.py)."""
    verify = civicstack_ops(alg)["verify"]
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
    name = f"ACA-Py {facts['version']} admin API"
    return HttpFigures(name, load, workload.request), probes, facts


def _row(figures: HttpFigures) -> str:
    load = figures.load
    server = f"{load.metered / load.seconds:.2f}" if load.metered is not None else "?"
    return (
        f"  {figures.name:30}{load.rate:>12,.0f}{load.p50 * 1e3:>9.1f}{load.p99 * 1e3:>9.1f}"
        f"{load.errors:>8,}{server:>10}{load.cpu_share:>8.2f}"
    )


def main() -> int:
    """Measure, print the table and ratios; exit 1 while civicstack's side cannot run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window (s)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive clients")
    parser.add_argument("--quick", action="store_true", help="3 s windows, 1 s warm-up")
    parser.add_argument("--peer", choices=["acapy", "none"], default="acapy")
    parser.add_argument("--alg", choices=["ES256", "EdDSA"], default="ES256")
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
        f"{warmup:g} s warm-up; load generator: bench/_load.py on {event_loop_name()}, "
        "in this process",
    )
    # The machine is shared; a busy one lowers every figure, so say how busy it was.
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start\n")
    rows: list[HttpFigures] = []
    missing = None
    try:
        rows.append(
            measure_civicstack_http(
                alg=alg, concurrency=args.concurrency, seconds=seconds, warmup=warmup
            )
        )
    except VerifierServiceMissingError as error:
        missing = str(error)
    inprocess = civicstack_inprocess_rate(alg, 1.5 if args.quick else 4.5)
    probes: list[str] = []
    facts: dict[str, Any] = {}
    peer_error = None
    if args.peer == "acapy":
        try:
            figures, probes, facts = measure_acapy(
                alg=alg, concurrency=args.concurrency, seconds=seconds, warmup=warmup
            )
            rows.append(figures)
        except _acapy.PeerUnavailableError as error:
            peer_error = str(error)
    reference = rows[-1].request if rows else _stand_in_request()
    ceiling = measure_ceiling(
        reference, concurrency=args.concurrency, seconds=1.0 if args.quick else 3.0
    )

    header = (
        f"  {'':30}{'verified/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'srv cores':>10}{'gen':>8}"
    )
    print(header)
    for figures in rows:
        print(_row(figures))
        if figures.load.error_kinds:
            print(f"  {'':30}errors by kind: {dict(figures.load.error_kinds)}")
    if missing:
        print(f"  {'civicstack civic up -w2':30}NOT MEASURED: {missing}")
    if peer_error:
        print(f"  {'ACA-Py ' + _acapy.ACAPY_VERSION:30}NOT MEASURED: {peer_error}")
    print(f"  {'civicstack in-process verify':30}{inprocess:>12,.0f}   one core, no HTTP")
    print(
        "  (srv cores, gen: CPU the server and the load generator used over the window, in "
        "cores; the machine has 2)"
    )
    print(
        f"\nload generator ceiling: {ceiling.rate:,.0f} req/s with this request against a trivial "
        f"server in another process; {ceiling.cpu_per_request * 1e6:.1f} µs of generator CPU "
        f"per request, {ceiling.errors} errors"
    )

    ours = next((r for r in rows if r.name.startswith("civicstack")), None)
    peer = next((r for r in rows if r.name.startswith("ACA-Py")), None)
    not_measured = "n/a (civicstack's HTTP side not measured)"
    vs_inprocess = f"{ours.load.rate / inprocess:.0%}" if ours else not_measured
    vs_peer = f"{ours.load.rate / peer.load.rate:.1f}x" if ours and peer else not_measured
    print("\nratios")
    print(f"  civicstack HTTP / ACA-Py HTTP:       {vs_peer}   (target >= 5x)")
    print(f"  civicstack HTTP / in-process verify: {vs_inprocess}")
    if peer is not None:
        print(
            f"\nACA-Py: {facts['installed']}; one agent process, askar wallet, no ledger.\n"
            f"  Credential from its POST /wallet/sd-jwt/sign ({facts['disclosable']} disclosable "
            "claims: it never makes issuing_country disclosable), presented by civicstack's "
            f"holder code with a KB-JWT ({facts['presentation_bytes']} B), verified by POST "
            "/wallet/sd-jwt/verify.\n"
            "  What that endpoint answers to presentations a full RFC 9901 verifier refuses:"
        )
        for line in probes:
            print(f"    {line}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 1 if missing else 0


def _stand_in_request() -> Request:
    """A request of the workload's size, for the ceiling when nothing else was measured."""
    presentation = str(civicstack_ops("ES256")["presentation"]())
    body = b'{"sd_jwt":"' + presentation.encode() + b'"}'
    return Request("POST", "/verify", {"Content-Type": "application/json"}, body)
