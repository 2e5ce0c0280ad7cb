"""Run ``civic witness`` as a real subprocess for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.server import free_port


@dataclass
class RunningWitness:
    """A live witness process: its URL (the submission and monitoring prefix) and vkey."""

    url: str
    vkey: str
    process: subprocess.Popen[bytes]
    port: int


@contextmanager
def running_witness(
    directory: Path, logs: Sequence[str], *, port: int | None = None, timeout: float = 30
) -> Iterator[RunningWitness]:
    """Start ``civic witness`` witnessing ``logs`` (vkeys) with its state in ``directory``;
    yield once it answers. Stopped (SIGTERM) on exit unless the test killed it already."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    out = (directory / "witness.out").open("ab")
    args = [sys.executable, "-m", "civicstack.cli.main", "witness", "--dir", str(directory)]
    args += ["--name", "witness.test/w1", "--port", str(port)]
    for vkey in logs:
        args += ["--log", vkey]
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                text = (directory / "witness.out").read_text(errors="replace")
                raise RuntimeError(f"civic witness exited with {proc.returncode}:\n{text}")
            try:
                answer = httpx.get(f"{url}/", timeout=1)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("civic witness did not start")
            time.sleep(0.1)
        yield RunningWitness(url, str(answer.json()["verifier_key"]), proc, port)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out.close()
