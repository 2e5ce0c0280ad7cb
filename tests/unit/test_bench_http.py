"""The HTTP benchmark's entry point, its civicstack side and its CPU meter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench._acapy import NON_SD, acapy_disclosable
from bench._http_verify import measure_civicstack_http, presentations
from bench._load import process_tree_cpu
from bench.credentials import PID

ROOT = Path(__file__).resolve().parents[2]


def test_scripts_in_bench_still_get_the_standard_http_package() -> None:
    """A bench script (its folder first on sys.path) imports http.client and httpx unharmed."""
    code = (
        "import sys; sys.path.insert(0, 'bench'); import httpx, http.client; "
        "print(http.client.HTTPConnection.__module__, hasattr(httpx, 'Client'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["http.client", "True"]


def test_the_benchmark_runs_as_a_script() -> None:
    """``python bench/http.py --help`` reaches the benchmark's options."""
    done = subprocess.run(
        [sys.executable, "bench/http.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--seconds", "--concurrency", "--quick", "--peer", "--alg", "--no-scaling"):
        assert option in done.stdout


def test_civicstack_side_measures_civic_up() -> None:
    """A short run against `civic up --workers 1` (the headline's one process) verifies every
    presentation of its pool once, with no errors, meters the server's CPU and reads its shape."""
    figures = measure_civicstack_http(alg="ES256", concurrency=2, seconds=0.5, warmup=0.1)
    load = figures.load
    assert figures.name == "civicstack civic up -w1"
    assert figures.shape.startswith("1 process")
    assert load.successes > 0
    assert load.errors == 0
    assert load.requests + load.warmup_requests <= figures.pool
    assert load.metered is not None
    assert load.metered > 0
    assert figures.request.path == "/verifier/verify"


def test_the_pool_is_distinct_valid_presentations(tmp_path: Path) -> None:
    """Each request of the pool carries its own nonce and KB-JWT, for the shop's client_id."""
    from civicstack.demo.world import seed_demo_world
    from civicstack.platform import Platform
    from civicstack.settings import Settings

    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)}))
    platform.migrate()
    seed_demo_world(platform)
    platform.close()
    pool, _ = presentations(tmp_path, "EdDSA", 3)
    bodies = [json.loads(r.body) for r in pool]
    assert len({b["nonce"] for b in bodies}) == 3
    assert len({b["presentation"].rsplit("~", 1)[1] for b in bodies}) == 3
    assert all(r.headers["Authorization"].startswith("Bearer cvk.") for r in pool)


def test_acapy_disclosure_model_matches_its_issuer() -> None:
    """ACA-Py's signer leaves claims starting with iss/iat/exp/cnf plain: 11 of the 12."""
    assert len(PID) == 12
    assert acapy_disclosable(dict(PID)) == [name for name in PID if name != "issuing_country"]
    assert "vct" in NON_SD


def test_process_tree_cpu_counts_children() -> None:
    """The meter adds a child process's CPU time to its parent's."""
    burn = (
        "import sys, time\n"
        "while time.process_time() < 0.3: pass\n"
        "print('done', flush=True); sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as child:
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline() == b"done\n"
        tree = process_tree_cpu(os.getpid())
        alone = process_tree_cpu(child.pid)
        child.stdin.close()
    assert alone >= 0.25
    assert tree >= alone


def test_process_tree_cpu_of_a_missing_process() -> None:
    """Asking for a process that does not exist raises ProcessLookupError."""
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        gone.wait()
    with pytest.raises(ProcessLookupError):
        process_tree_cpu(gone.pid)
