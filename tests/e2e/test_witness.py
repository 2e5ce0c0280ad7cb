"""Real ``civic witness`` processes: the C2SP tlog-witness protocol over HTTP, a forked log
caught, and the witness's state surviving kill -9.

The logs are real :class:`~civicstack.stores.log.LogStore` logs on SQLite, submitted to the
witness by the platform's own client (:class:`~civicstack.services.witnessing.Witnessing`).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from civicstack._crypto import PrivateKey
from civicstack.errors import CivicError
from civicstack.log import NoteSigner, WitnessPolicy, open_witnessed_checkpoint, parse_note
from civicstack.log.cosignature import CosignatureVerifier
from civicstack.log.monitor import check_checkpoint
from civicstack.log.witness import (
    WitnessEndpoint,
    add_checkpoint_body,
    origin_hash,
)
from civicstack.services.witnessing import HttpWitnessTransport, Witnessing
from civicstack.stores.db import create_engine, upgrade
from civicstack.stores.log import LogStore
from tests.e2e.witness_process import RunningWitness, running_witness

ORIGIN = "civic.test/registers/depot"
SIGNER = NoteSigner(ORIGIN, PrivateKey.generate("EdDSA"))
LOG = "depot"


def open_store(path: Path) -> LogStore:
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    return LogStore(engine)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LogStore]:
    s = open_store(tmp_path / "a.db")
    s.create_log(LOG, SIGNER)
    s.append(LOG, [f"entry {i}".encode() for i in range(10)], SIGNER)
    yield s
    s.close()
    s.engine.dispose()


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[RunningWitness]:
    with running_witness(tmp_path / "witness", [SIGNER.verifier.vkey]) as w:
        yield w


_TRANSPORTS: list[HttpWitnessTransport] = []


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while _TRANSPORTS:
        _TRANSPORTS.pop().close()


def witnessing(store: LogStore, w: RunningWitness) -> Witnessing:
    endpoint = WitnessEndpoint(CosignatureVerifier.parse(w.vkey), w.url)
    _TRANSPORTS.append(HttpWitnessTransport())
    return Witnessing(store, [endpoint], _TRANSPORTS[-1])


def policy(w: RunningWitness) -> WitnessPolicy:
    return WitnessPolicy.of([w.vkey])


def post(w: RunningWitness, body: bytes) -> httpx.Response:
    return httpx.post(f"{w.url}/add-checkpoint", content=body, timeout=10)


def test_the_platform_gets_cosignatures_and_serves_them(
    store: LogStore, witness: RunningWitness
) -> None:
    """Submitted, cosigned, recorded: the store's checkpoint then carries the cosignature and
    satisfies a client that requires the witness; the witness serves it too."""
    with pytest.raises(CivicError) as err:
        open_witnessed_checkpoint(store.checkpoint(LOG), [SIGNER.verifier], policy(witness))
    assert err.value.code == "witness_quorum_not_met"
    [outcome] = witnessing(store, witness).push()
    assert outcome.result == "cosigned", outcome
    got = open_witnessed_checkpoint(store.checkpoint(LOG), [SIGNER.verifier], policy(witness))
    assert got.checkpoint.size == 10
    # The next round sends nothing; after growth, a consistency proof goes with it.
    assert witnessing(store, witness).push()[0].result == "current"
    store.append(LOG, [b"entry 10", b"entry 11"], SIGNER)
    assert witnessing(store, witness).push()[0].result == "cosigned"
    served = httpx.get(f"{witness.url}/{origin_hash(ORIGIN)}/checkpoint", timeout=5)
    assert served.status_code == 200
    assert served.text.startswith(f"{ORIGIN}\n12\n")
    assert open_witnessed_checkpoint(served.text, [SIGNER.verifier], policy(witness))
    # Receipts carry the cosigned checkpoint too.
    receipt = store.receipt(LOG, 3)
    assert open_witnessed_checkpoint(receipt.checkpoint, [SIGNER.verifier], policy(witness))


def test_http_answers_follow_the_spec(store: LogStore, witness: RunningWitness) -> None:
    """400 malformed, 403 bad signature, 404 unknown origin, 409 with text/x.tlog.size, 413
    oversize, 422 bad proof; the monitoring API's 404 before the first cosignature."""
    note = store.checkpoint(LOG)
    assert httpx.get(f"{witness.url}/{origin_hash(ORIGIN)}/checkpoint").status_code == 404
    assert post(witness, b"old 0\nnot a hash\n\n" + note.encode()).status_code == 400
    bad = (
        note[: note.index("\u2014 ") + 30]
        + ("A" if note[note.index("\u2014 ") + 30] != "A" else "B")
        + note[note.index("\u2014 ") + 31 :]
    )
    answer = post(witness, add_checkpoint_body(0, [], bad))
    assert (answer.status_code, answer.json()["code"]) == (403, "checkpoint_unauthenticated")
    other = NoteSigner("civic.test/other", PrivateKey.generate("EdDSA"))
    from civicstack.log import Checkpoint, sign_checkpoint

    stranger = sign_checkpoint(Checkpoint("civic.test/other", 0, bytes(32)), [other])
    answer = post(witness, add_checkpoint_body(0, [], stranger))
    assert (answer.status_code, answer.json()["code"]) == (404, "unknown_origin")
    huge = httpx.post(
        f"{witness.url}/add-checkpoint", content=b"old 0\n\n" + b"x" * 400_000, timeout=10
    )
    assert (huge.status_code, huge.json()["code"]) == (413, "too_large")
    assert post(witness, add_checkpoint_body(0, [], note)).status_code == 200
    conflict = post(witness, add_checkpoint_body(3, [], note))
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "text/x.tlog.size"
    assert conflict.text == "10\n"
    store.append(LOG, [b"more"], SIGNER)
    grown = store.checkpoint(LOG)
    answer = post(witness, add_checkpoint_body(10, [bytes(32)] * 4, grown))
    assert (answer.status_code, answer.json()["code"]) == (422, "checkpoint_inconsistent")
    assert post(witness, add_checkpoint_body(0, [], grown)).status_code == 409
    proof = store.consistency_proof(LOG, 10, 11)
    assert post(witness, add_checkpoint_body(10, proof, grown)).status_code == 200


def test_a_forked_log_is_caught(tmp_path: Path, store: LogStore, witness: RunningWitness) -> None:
    """Two databases from one prefix diverge, both signed by the log's key. The witness
    cosigns one branch and refuses the other; a client requiring the witness refuses the
    forked checkpoint, and a monitor that saw both reports a split view."""
    assert witnessing(store, witness).push()[0].result == "cosigned"  # the common prefix
    # 1. Fork: copy the database, then each copy appends a different entry.
    with sqlite3.connect(tmp_path / "a.db") as src, sqlite3.connect(tmp_path / "b.db") as dst:
        src.backup(dst)
    fork = open_store(tmp_path / "b.db")
    try:
        store.append(LOG, [b"what everyone sees"], SIGNER)
        fork.append(LOG, [b"what one victim is shown"], SIGNER)
        honest_note, forked_note = store.checkpoint(LOG), fork.checkpoint(LOG)
        assert parse_note(honest_note).text != parse_note(forked_note).text
        # 2. The witness cosigns the honest branch, then refuses the fork (409, then 422).
        assert witnessing(store, witness).push()[0].result == "cosigned"
        refused = witnessing(fork, witness).push()[0]
        assert refused.result == "refused"
        assert "422" in refused.detail
        # 3. A client requiring the witness refuses the forked checkpoint...
        with pytest.raises(CivicError) as err:
            open_witnessed_checkpoint(fork.checkpoint(LOG), [SIGNER.verifier], policy(witness))
        assert err.value.code == "witness_quorum_not_met"
        # ... and accepts the honest one.
        assert open_witnessed_checkpoint(store.checkpoint(LOG), [SIGNER.verifier], policy(witness))
        # 4. A monitor that kept the honest checkpoint sees the fork as a split view.
        with pytest.raises(CivicError) as err:
            check_checkpoint(
                _Kept(store.checkpoint(LOG)), _Kept(forked_note), [SIGNER.verifier], _no_proof
            )
        assert err.value.code == "split_view"
        with pytest.raises(CivicError) as err:
            check_checkpoint(
                _Kept(store.checkpoint(LOG)),
                _Kept(fork.checkpoint(LOG)),
                [SIGNER.verifier],
                _no_proof,
                witnesses=policy(witness),
            )
        assert err.value.code == "witness_quorum_not_met"
    finally:
        fork.close()
        fork.engine.dispose()


class _Kept:
    def __init__(self, note: str) -> None:
        self.note = note.encode()

    def last_seen(self) -> bytes:
        return self.note

    def checkpoint(self) -> bytes:
        return self.note

    def remember(self, note: bytes) -> None:
        self.note = note


def _no_proof(origin: str, first: int, second: int) -> tuple[list[bytes], str]:
    raise AssertionError("same-size checkpoints need no proof")


def test_state_survives_kill_9_and_no_fork_is_cosigned_after(
    tmp_path: Path, store: LogStore
) -> None:
    """Submissions race a kill -9: after the restart the witness remembers at least every size
    it acknowledged, and still refuses a fork of what it cosigned."""
    directory = tmp_path / "witness"
    sizes: list[int] = []
    acknowledged: list[int] = []
    with running_witness(directory, [SIGNER.verifier.vkey]) as w:
        port = w.port
        stop = threading.Event()

        def grow() -> None:
            old = 0
            with httpx.Client(timeout=5) as client:
                while not stop.is_set():
                    store.append(LOG, [f"more {len(sizes)}".encode()], SIGNER)
                    size = store.head(LOG).size
                    proof = store.consistency_proof(LOG, old, size) if old else []
                    sizes.append(size)
                    try:
                        r = client.post(
                            f"{w.url}/add-checkpoint",
                            content=add_checkpoint_body(old, proof, store.checkpoint(LOG)),
                        )
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        acknowledged.append(size)
                        old = size

        thread = threading.Thread(target=grow)
        thread.start()
        while len(acknowledged) < 20:
            time.sleep(0.01)
        w.process.send_signal(signal.SIGKILL)
        w.process.wait()
        stop.set()
        thread.join()
    assert acknowledged
    with running_witness(directory, [SIGNER.verifier.vkey], port=port) as w:
        conflict = post(w, add_checkpoint_body(0, [], store.checkpoint(LOG, 10)))
        assert conflict.status_code == 409
        known = int(conflict.text)
        # Nothing acknowledged is forgotten; nothing not attempted is invented.
        assert acknowledged[-1] <= known <= sizes[-1]
        served = httpx.get(f"{w.url}/{origin_hash(ORIGIN)}/checkpoint", timeout=5).text
        assert served.startswith(f"{ORIGIN}\n{known}\n")
        # A fork of the cosigned size is still refused.
        fork = NoteSigner(ORIGIN, SIGNER._key)
        from civicstack.log import Checkpoint, sign_checkpoint

        forged = sign_checkpoint(Checkpoint(ORIGIN, known, bytes(32)), [fork])
        answer = post(w, add_checkpoint_body(known, [], forged))
        assert (answer.status_code, answer.json()["code"]) == (422, "checkpoint_inconsistent")
