"""``civic up`` sweeps while it serves: the sweeper's loop, and the sweeper ``civic up`` starts,
on SQLite and PostgreSQL (issue 9, item 3)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from civicstack.cli.up import start_sweeper
from civicstack.platform import Platform
from civicstack.services.review import ORPHAN_GRACE, SweepReport, sweep_until
from civicstack.settings import Settings


def test_the_loop_sweeps_every_interval_until_stopped() -> None:
    """It sweeps at once and again after each interval; a failing sweep is logged and the next
    one still runs; setting the stop event ends the loop."""
    stop = threading.Event()
    calls: list[int] = []
    reports: list[SweepReport] = []

    def sweep() -> SweepReport:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk away for a moment")
        if len(calls) == 4:
            stop.set()
        return SweepReport(expired=0, orphans=len(calls), buckets=0)

    assert sweep_until(sweep, interval=0.01, stop=stop, report=reports.append) == 4
    assert [r.orphans for r in reports] == [1, 3, 4]


def test_a_stopped_loop_does_not_sweep() -> None:
    stop = threading.Event()
    stop.set()
    assert sweep_until(lambda: SweepReport(0, 0, 0), interval=0.01, stop=stop) == 0


def _wait_for(condition: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_civic_up_starts_a_sweeper_that_sweeps_while_serving(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper ``civic up`` starts deletes, while running, an uploaded document no
    application refers to once past the grace period, sweep after sweep; stop ends it."""
    monkeypatch.setattr("civicstack.cli.up.console.print", lambda *a, **k: None)
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(tmp_path),
            "CIVIC_DATABASE_URL": database_url,
            "CIVIC_SWEEP_INTERVAL": "1",
        }
    )
    assert settings.sweep_interval == 1
    platform = Platform(settings)
    platform.migrate()
    documents = platform.documents

    def orphan(content: bytes) -> Path:
        sha = documents.put(content)
        path = documents.root / "sha256" / sha[:2] / sha
        old = time.time() - ORPHAN_GRACE - 60
        os.utime(path, (old, old))
        return path

    first = orphan(b"%PDF-1.4 left by a failed submission")
    sweeper = start_sweeper(settings)
    try:
        assert sweeper.running
        assert _wait_for(lambda: not first.exists())
        second = orphan(b"%PDF-1.4 left later, while serving")  # swept by a later sweep
        assert _wait_for(lambda: not second.exists())
    finally:
        sweeper.stop()
        platform.close()
    assert not sweeper.running
