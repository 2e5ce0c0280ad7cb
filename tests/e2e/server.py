"""Run ``civic up`` as a real subprocess for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_platform(
    data_dir: Path,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    port: int | None = None,
) -> Iterator[str]:
    """Start ``civic up`` on ``port`` (default: a free one); yield its base URL once /healthz
    answers 200. A restart on the same port keeps the platform's URLs valid."""
    with running_process(data_dir, workers=workers, env=env, timeout=timeout, port=port) as (
        base,
        _,
    ):
        yield base


@contextmanager
def running_process(
    data_dir: Path,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    port: int | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """:func:`running_platform`, yielding the ``civic up`` process beside the base URL
    (``args`` are more options for ``civic up``)."""
    port = port or free_port()
    full_env = {**os.environ, "CIVIC_DATA_DIR": str(data_dir), **(env or {})}
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "civic-up.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "civicstack.cli.main",
            "up",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *args,
        ],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = log_path.read_text(errors="replace")
                raise RuntimeError(f"civic up exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("civic up did not become ready")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
