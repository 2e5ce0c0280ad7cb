"""``civic up`` with ``CIVIC_WITNESSES`` and a real ``civic witness`` process: the access log's
checkpoints — which end with the subject map's root — get cosigned, and a citizen's history
verifies under a wallet policy that requires the witness."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from civicstack.access.history import verify_history
from civicstack.log import NoteVerifier, WitnessPolicy, open_witnessed_checkpoint
from civicstack.platform import Platform
from civicstack.settings import Settings
from tests.accesses import insurer_access
from tests.e2e.server import free_port, running_platform
from tests.e2e.witness_process import running_witness


def test_access_log_checkpoints_are_cosigned_by_the_configured_witness(tmp_path: Path) -> None:
    """The witness cosigns the access log's checkpoint after accesses; the served checkpoint
    satisfies a policy requiring it, and so does a citizen's history."""
    data, port = tmp_path / "up", free_port()
    # A first start makes the platform's keys; the access log's key (and origin, named after
    # the platform's URL: the same port both times) is then known.
    with running_platform(data, port=port) as base:
        vkey = str(httpx.get(f"{base}/access", timeout=10).json()["verifier_key"])
    with running_witness(tmp_path / "witness", [vkey]) as witness:
        env = {"CIVIC_WITNESSES": f"{witness.vkey}@{witness.url}", "CIVIC_WITNESS_INTERVAL": "1"}
        with running_platform(data, env=env, port=port) as base:
            settings = Settings.from_env(
                {**os.environ, "CIVIC_DATA_DIR": str(data), "CIVIC_BASE_URL": base}
            )
            platform = Platform(settings)
            try:
                store = platform.access_log_store
                for n in range(3):
                    store.append_accesses(
                        [(insurer_access(n), "a-citizen"), (insurer_access(n), "another")]
                    )
                size = platform.logs.head(store.name).size
                policy = WitnessPolicy.of([witness.vkey])
                log_key = NoteVerifier.parse(vkey)
                deadline = time.monotonic() + 30
                while True:
                    note = httpx.get(f"{base}/access/log/checkpoint", timeout=10).text
                    if note.startswith(f"{log_key.name}\n{size}\n") and "\n— witness." in note:
                        break
                    assert time.monotonic() < deadline, f"not cosigned in time:\n{note}"
                    time.sleep(0.2)
                got = open_witnessed_checkpoint(note, [log_key], policy)
                assert got.checkpoint.size == size
                verified = verify_history(
                    store.subject_history("a-citizen"), [log_key], policy=policy
                )
                assert verified.head.count == 3
                assert [c.witness.name for c in verified.cosignatures] == ["witness.test/w1"]
            finally:
                platform.close()
