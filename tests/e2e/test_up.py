"""``civic up`` serves the platform: ready, catalogued, with workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import running_platform, running_process

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("workers", [1, 2])
def test_up_becomes_ready(tmp_path: Path, workers: int) -> None:
    """With one or two workers the platform answers /healthz and serves the catalogue."""
    with running_platform(tmp_path, workers=workers) as base:
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        assert "civicstack" in httpx.get(f"{base}/").text
    assert (tmp_path / "civic.db").exists()
    assert (tmp_path / "admin-token").exists()


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-worker sockets are used on Linux only"
)


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _listening_sockets(port: int) -> int:
    """How many TCP sockets listen on 127.0.0.1:``port`` (state 0A in /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == wanted and row.split()[3] == "0A")


def _workers(proc: subprocess.Popen[bytes], count: int, timeout: float = 30) -> set[int]:
    """Wait until ``civic up`` has ``count`` worker processes, the children holding a socket
    (multiprocessing's resource tracker holds none); their pids."""
    deadline = time.monotonic() + timeout
    while True:
        workers = {pid for pid in _children(proc.pid) if _holds_socket(pid)}
        if len(workers) == count or time.monotonic() > deadline:
            return workers
        time.sleep(0.2)


def _holds_socket(pid: int) -> bool:
    try:
        return any("socket:" in str(fd.readlink()) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


@linux_only
def test_each_worker_listens_on_its_own_socket(tmp_path: Path) -> None:
    """With two workers the port has two listening sockets (SO_REUSEPORT), so the kernel
    spreads connections between the workers; with uvicorn's one shared socket it would have one.
    64 simultaneous connections are all served."""
    with running_process(tmp_path, workers=2) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        assert _listening_sockets(port) == 2
        assert len(_workers(proc, 2)) == 2
        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(lambda _: httpx.get(f"{base}/healthz").status_code, range(64)))
        assert codes == [200] * 64


@linux_only
def test_a_dead_worker_is_replaced_on_its_socket(tmp_path: Path) -> None:
    """A worker killed outright is restarted; the port keeps its two sockets and answers."""
    with running_process(tmp_path, workers=2) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        before = _workers(proc, 2)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            after = _workers(proc, 2, timeout=1)
            if victim not in after and len(after) == 2:
                break
            assert time.monotonic() < deadline, f"no replacement worker: {after}"
            time.sleep(0.2)
        assert _listening_sockets(port) == 2
        for _ in range(20):  # some of these land on the new worker's socket
            assert httpx.get(f"{base}/healthz", timeout=30).json()["status"] == "ok"
        assert proc.poll() is None
    assert b"restarting it" in (tmp_path / "civic-up.log").read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("reuse_port", [False, True])
def test_a_taken_port_fails_at_once_in_one_line(
    tmp_path: Path, workers: int, reuse_port: bool
) -> None:
    """Something already listening on the port, even with SO_REUSEPORT set as a stale
    ``civic up`` would have it, stops ``civic up`` before it seeds anything: one line naming
    the port and what to do, exit 1."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "civicstack.cli.main", "up", "--port", str(port),
             "--workers", str(workers)],
            env={**os.environ, "CIVIC_DATA_DIR": str(tmp_path / "data")},
            capture_output=True,
            timeout=60,
            check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"error [io_error] port {port} on 127.0.0.1 is taken (another civic up?): stop it,"
        " or choose another port with --port or CIVIC_PORT"
    )
    assert b"Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "data" / "civic.db").exists()


def _civic_up(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``civic up`` run to its end (it must fail before serving)."""
    return subprocess.run(
        [sys.executable, "-m", "civicstack.cli.main", "up", *args],
        env={**os.environ, "CIVIC_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_up_says_what_to_do_next_and_logs_requests_with_access_log(tmp_path: Path) -> None:
    """Started, civic up names the catalogue URL and `civic demo` as the next step; with
    --access-log every request is logged."""
    with running_process(tmp_path, args=("--access-log",)) as (base, _):
        httpx.get(f"{base}/healthz?from-the-test")
        log = tmp_path / "civic-up.log"
        deadline = time.monotonic() + 30
        while "from-the-test" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        said = log.read_text()
    assert "GET /healthz?from-the-test" in said
    assert f"open {base}/ for the catalogue" in said
    assert f"`civic demo --server {base}` in another terminal" in said


def test_up_lists_the_supported_databases(tmp_path: Path) -> None:
    """A CIVIC_DATABASE_URL civicstack does not run on says which ones it does, not which
    driver module is missing."""
    done = _civic_up(tmp_path, "--port", "0", CIVIC_DATABASE_URL="mysql://civic@127.0.0.1/civic")
    assert done.returncode == 1
    assert "ModuleNotFoundError" not in done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error [")]
    assert line.startswith("error [unsupported_database] mysql:// is not supported")
    assert "sqlite:///" in line
    assert "postgresql://" in line
