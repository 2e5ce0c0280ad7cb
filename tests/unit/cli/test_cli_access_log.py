"""``civic log monitor`` against the access log served at ``/access/log`` (tlog-tiles): the log
grows by accesses and only grows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from civicstack.access import AccessEntry
from civicstack.api.app import create_app, wrap
from civicstack.platform import Platform
from civicstack.services.exchange import AccessLog
from civicstack.settings import Settings
from tests.e2e.server import free_port
from tests.unit.cli.test_cli_registers import Civic, civic  # noqa: F401 - the fixture


@pytest.fixture
def served(database_url: str, tmp_path: Path, civic: Civic) -> Iterator[tuple[str, Platform]]:  # noqa: F811
    """The platform app over HTTP on a free port, in this process."""
    settings = Settings.from_env(
        {"CIVIC_DATA_DIR": str(tmp_path / "data"), "CIVIC_DATABASE_URL": database_url}
    )
    platform = Platform(settings)
    platform.migrate()
    port = free_port()
    config = uvicorn.Config(
        wrap(create_app(platform), max_body=1 << 20),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", platform
    running.should_exit = True
    thread.join(timeout=10)
    platform.close()


def _access(n: int) -> AccessEntry:
    return AccessEntry(
        time=n,
        requester="insurer",
        provider="dvla",
        service="driving-record",
        purpose="insurance_quote",
        categories=("dpv-pd:VehicleLicense",),
        outcome="refused",
        refusal="consent_not_found",
        consent=f"c-{n}",
    )


def test_log_monitor_checks_the_access_log_only_grows(
    served: tuple[str, Platform],
    civic: Civic,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Checkpoints of /access/log before and after 300 accesses (a full tile and bundle) are
    consistent by a proof from /access/log's tiles; a forged newer checkpoint is refused."""
    base, platform = served
    log = AccessLog(platform.access_log_store)
    log.record(_access(0), "someone")
    key = httpx.get(f"{base}/access").json()["verifier_key"]
    old = tmp_path / "old"
    old.write_bytes(httpx.get(f"{base}/access/log/checkpoint").content)
    for n in range(1, 300):
        log.record(_access(n), "someone" if n % 2 else None)
    log.close()
    got = civic.json(
        "log", "monitor", str(old), f"{base}/access/log/checkpoint",
        "--key", key, "--tiles", f"{base}/access/log",
    )  # fmt: skip
    assert isinstance(got, dict)
    # One access per batch: each batch is its entry and the subject map's root after it.
    assert (got["consistent"], got["old_size"], got["new_size"]) == (True, 2, 600)
    assert got["proof_source"] == f"{base}/access/log"
    bundle = httpx.get(f"{base}/access/log/tile/entries/000")
    assert bundle.status_code == 200
    assert len(bundle.content) > 256 * 100
    other = tmp_path / "other"
    other.write_text(old.read_text().replace("\n2\n", "\n3\n", 1))
    code, _, err = civic("log", "monitor", str(other), f"{base}/access/log/checkpoint",
                         "--key", key, "--tiles", f"{base}/access/log")  # fmt: skip
    assert code == 1
    assert err.startswith("error [")
