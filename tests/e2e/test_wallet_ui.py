"""``civic wallet ui`` as a real process: it serves the unlock page on 127.0.0.1 only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from civicstack.testing import FAST_KDF
from civicstack.wallet import Wallet
from tests.e2e.server import free_port

pytestmark = pytest.mark.slow


def _civic(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "civicstack.cli.main", "wallet", "ui", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_wallet_ui_serves_the_unlock_page(tmp_path: Path) -> None:
    """The command serves the unlock page (and its packaged stylesheet) at its port, refuses
    another Host, and stops on SIGTERM."""
    Wallet.create(tmp_path / "wallet", "a passphrase", kdf=FAST_KDF)
    env = {
        **os.environ,
        "CIVIC_DATA_DIR": str(tmp_path),
        "CIVIC_WALLET_DIR": str(tmp_path / "wallet"),
    }
    port = free_port()
    proc = _civic("--port", str(port), env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
            try:
                page = httpx.get(f"{base}/unlock")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "civic wallet ui did not start"
                time.sleep(0.2)
        assert page.status_code == 200
        assert "Unlock your wallet" in page.text
        assert str(tmp_path / "wallet") in page.text
        css = page.text.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
        assert httpx.get(base + css).status_code == 200
        assert httpx.get(f"{base}/unlock", headers={"Host": "evil.example"}).status_code == 403
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # reads and closes its output


def test_wallet_ui_refuses_other_bind_addresses(tmp_path: Path) -> None:
    """Any --host but 127.0.0.1 is one error line and exit 1, before anything listens."""
    env = {**os.environ, "CIVIC_DATA_DIR": str(tmp_path)}
    for host in ("0.0.0.0", "localhost", "::1"):
        proc = _civic("--host", host, env=env)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 1
        assert out.decode().strip().splitlines()[-1].startswith("error [invalid_request]")
