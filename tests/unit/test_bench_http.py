"""The HTTP benchmark's entry point, its civicstack side and its CPU meter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench._acapy import NON_SD, acapy_disclosable
from bench._http_verify import VerifierServiceMissingError, measure_civicstack_http
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
    for option in ("--seconds", "--concurrency", "--quick", "--peer", "--alg"):
        assert option in done.stdout


def test_civicstack_side_refuses_until_the_verifier_service_exists() -> None:
    """Without a verifier service the civicstack side raises instead of measuring anything."""
    with pytest.raises(VerifierServiceMissingError, match="verifier service"):
        measure_civicstack_http(alg="ES256", concurrency=1, seconds=0.1, warmup=0.0)


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
