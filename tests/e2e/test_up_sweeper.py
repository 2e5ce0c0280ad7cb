"""``civic up`` sweeps uploaded documents while it serves, not only at start (issue 9, item 3)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import httpx
import pytest

from civicstack.services.review import ORPHAN_GRACE
from tests.e2e.server import running_platform

pytestmark = pytest.mark.slow


def test_civic_up_sweeps_an_orphan_left_while_it_runs(tmp_path: Path) -> None:
    """With two workers and ``CIVIC_SWEEP_INTERVAL=1``, a stale document no application refers
    to, left after the server started, is deleted while the server keeps answering."""
    data = tmp_path / "civic"
    with running_platform(data, workers=2, env={"CIVIC_SWEEP_INTERVAL": "1"}) as base:
        content = b"%PDF-1.4 left by a submission that never committed"
        sha = hashlib.sha256(content).hexdigest()
        path = data / "documents" / "sha256" / sha[:2] / sha
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        old = time.time() - ORPHAN_GRACE - 60
        os.utime(path, (old, old))
        deadline = time.monotonic() + 60
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not path.exists()
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
