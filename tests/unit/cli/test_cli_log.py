"""``civic log``: checkpoints, proofs, receipts and the monitor, as a user runs them."""

from __future__ import annotations

import base64
import http.server
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.cli import main
from civicstack.errors import CivicError
from civicstack.log import (
    NoteSigner,
    leaf_hash,
    mth,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from civicstack.log.tiles import parse_tile_path
from civicstack.stores.db import create_engine, upgrade
from civicstack.stores.log import LogStore

SIGNER = NoteSigner("civic.example/registers/country", PrivateKey.generate("EdDSA"))
VKEY = SIGNER.verifier.vkey
ENTRIES = [f"country {i}".encode() for i in range(600)]


class Civic:
    """Runs ``civic`` in-process with the real error contract (exit codes, one-line errors)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys, self.monkeypatch = capsys, monkeypatch

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.monkeypatch.setattr(sys, "argv", ["civic", *args])
        code = 0
        try:
            main.run()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def json(self, *args: str) -> object:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def store(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LogStore]:
    """A platform database holding the log ``country`` with 600 entries in two batches."""
    monkeypatch.setenv("CIVIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CIVIC_DATABASE_URL", database_url)
    engine = create_engine(database_url)
    upgrade(engine)
    s = LogStore(engine)
    s.create_log("country", SIGNER)
    s.append("country", ENTRIES[:250], SIGNER)
    s.append("country", ENTRIES[250:], SIGNER)
    yield s
    s.close()
    engine.dispose()


@pytest.fixture
def civic(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Civic:
    """The ``civic`` command."""
    return Civic(capsys, monkeypatch)


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def test_list_and_checkpoint_show_the_signed_head(store: LogStore, civic: Civic) -> None:
    """``list`` names the log; ``checkpoint`` prints a note that verifies with the log's key."""
    logs = civic.json("log", "list")
    assert logs == [
        {
            "name": "country",
            "origin": SIGNER.name,
            "size": 600,
            "root": base64.b64encode(store.head("country").root).decode(),
            "key": VKEY,
        }
    ]
    code, note, _ = civic("log", "checkpoint", "country")
    assert code == 0
    assert open_checkpoint(note, [SIGNER.verifier]).size == 600
    older = civic.json("log", "checkpoint", "country", "--size", "250")
    assert isinstance(older, dict)
    assert older["size"] == 250
    assert older["key"] == VKEY


def test_prove_and_consistency_print_proofs_that_verify(store: LogStore, civic: Civic) -> None:
    """The printed inclusion and consistency proofs verify against the printed roots."""
    got = civic.json("log", "prove", "country", "123", "--size", "300")
    assert isinstance(got, dict)
    leaves = [leaf_hash(e) for e in ENTRIES]
    assert _b(got["root"]) == mth(leaves[:300])
    verify_inclusion(_b(got["leaf_hash"]), 123, 300, [_b(h) for h in got["proof"]], _b(got["root"]))
    con = civic.json("log", "consistency", "country", "250")
    assert isinstance(con, dict)
    assert con["size2"] == 600
    verify_consistency(250, 600, _b(con["root1"]), _b(con["root2"]), [_b(h) for h in con["proof"]])
    code, human, _ = civic("log", "prove", "country", "5")
    assert code == 0
    assert "entry 5 of country in the tree of 600" in human


def test_a_receipt_verifies_offline(store: LogStore, civic: Civic, tmp_path: Path) -> None:
    """``receipt`` writes a tlog-proof; ``verify-receipt`` checks it with only the key."""
    code, text, _ = civic("log", "receipt", "country", "42")
    assert code == 0
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    path = tmp_path / "42.tlog-proof"
    path.write_text(text)
    got = civic.json("log", "verify-receipt", str(path), "--key", VKEY, "--origin", SIGNER.name)
    assert isinstance(got, dict)
    assert (got["index"], _b(got["entry"]), got["size"]) == (42, ENTRIES[42], 600)
    code, out, _ = civic("log", "verify-receipt", str(path), "--key", VKEY)
    assert code == 0
    assert "verified" in out
    assert "country 42" in out


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--key", "nobody+00000000+AQ=="], "invalid_key"),
        (["--key", NoteSigner("x", PrivateKey.generate("EdDSA")).verifier.vkey], "untrusted_note"),
        (["--entry", "{other}"], "inclusion_proof_invalid"),
        (["--origin", "civic.example/elsewhere"], "origin_mismatch"),
    ],
)
def test_verify_receipt_refuses_what_it_cannot_prove(
    store: LogStore, civic: Civic, tmp_path: Path, args: list[str], code: str
) -> None:
    """A wrong key, entry or origin exits 1 with one coded line and no traceback."""
    receipt = tmp_path / "r.tlog-proof"
    receipt.write_text(store.receipt("country", 7).text())
    other = tmp_path / "other.bin"
    other.write_bytes(ENTRIES[8])
    args = [a.replace("{other}", str(other)) for a in args]
    if "--key" not in args:
        args += ["--key", VKEY]
    status, out, err = civic("log", "verify-receipt", str(receipt), *args)
    assert status == 1
    assert out == ""
    assert err.startswith(f"error [{code}]")
    assert "Traceback" not in err


def test_bad_requests_give_one_coded_line(store: LogStore, civic: Civic, tmp_path: Path) -> None:
    """Unknown logs, out-of-range proofs, broken and oversize files fail with their code."""
    huge = tmp_path / "huge"
    huge.write_bytes(b"x" * (1024 * 1024 + 1))
    broken = tmp_path / "broken"
    broken.write_text("c2sp.org/tlog-proof@v1\nindex 01\n\nx\n")
    cases = [
        (["log", "prove", "nope", "0"], "unknown_log"),
        (["log", "prove", "country", "600"], "proof_out_of_range"),
        (["log", "prove", "country", "3", "--size", "601"], "proof_out_of_range"),
        (["log", "consistency", "country", "601"], "proof_out_of_range"),
        (["log", "verify-receipt", str(huge), "--key", VKEY], "too_large"),
        (["log", "verify-receipt", str(broken), "--key", VKEY], "invalid_note"),
        (["log", "verify-receipt", str(tmp_path / "missing"), "--key", VKEY], "io_error"),
    ]
    for args, code in cases:
        status, _, err = civic(*args)
        assert (status, err.split("]")[0]) == (1, f"error [{code}"), args


def _checkpoint_file(tmp_path: Path, name: str, note: str) -> str:
    path = tmp_path / name
    path.write_text(note)
    return str(path)


def test_monitor_accepts_consistent_checkpoints(
    store: LogStore, civic: Civic, tmp_path: Path
) -> None:
    """Old and new checkpoints of the log are consistent, with the proof from the database."""
    old = _checkpoint_file(tmp_path, "old", store.checkpoint("country", 250))
    new = _checkpoint_file(tmp_path, "new", store.checkpoint("country"))
    got = civic.json("log", "monitor", old, new, "--key", VKEY)
    assert got == {
        "consistent": True,
        "origin": SIGNER.name,
        "old_size": 250,
        "new_size": 600,
        "old_root": base64.b64encode(mth([leaf_hash(e) for e in ENTRIES[:250]])).decode(),
        "new_root": base64.b64encode(store.head("country").root).decode(),
        "proof_source": "local database",
    }
    # The same check with a proof printed by `civic log consistency`, and arguments swapped.
    code, proof, _ = civic("log", "consistency", "country", "250")
    assert code == 0
    proof_file = tmp_path / "proof"
    proof_file.write_text(proof)
    code, out, _ = civic("log", "monitor", new, old, "--key", VKEY, "--proof", str(proof_file))
    assert code == 0
    assert "consistent" in out
    empty = _checkpoint_file(tmp_path, "empty", store.checkpoint("country", 0))
    assert civic("log", "monitor", empty, new, "--key", VKEY)[0] == 0


def test_monitor_catches_a_forked_log(store: LogStore, civic: Civic, tmp_path: Path) -> None:
    """A checkpoint signed over other entries exits 1: consistency_proof_invalid."""
    store.create_log("fork", SIGNER)  # same origin and key, different history
    store.append("fork", [*ENTRIES[:100], b"rewritten history", *ENTRIES[101:250]], SIGNER)
    store.append("fork", ENTRIES[250:], SIGNER)
    old = _checkpoint_file(tmp_path, "old", store.checkpoint("country", 250))
    forked = _checkpoint_file(tmp_path, "forked", store.checkpoint("fork"))
    code, out, err = civic("log", "monitor", old, forked, "--key", VKEY, "--log", "fork")
    assert code == 1
    assert out == ""
    assert err.startswith("error [consistency_proof_invalid] checkpoints 250 and 600")
    assert "INCONSISTENT" in err
    # Same size, two roots: the log signed a fork.
    same = _checkpoint_file(tmp_path, "same", store.checkpoint("country"))
    code, _, err = civic("log", "monitor", same, forked, "--key", VKEY)
    assert code == 1
    assert err.startswith("error [split_view]")


def test_monitor_refuses_other_logs_and_untrusted_keys(
    store: LogStore, civic: Civic, tmp_path: Path
) -> None:
    """Checkpoints of two origins, or signed by an untrusted key, are refused."""
    other = NoteSigner("civic.example/registers/other", PrivateKey.generate("EdDSA"))
    store.create_log("other", other)
    a = _checkpoint_file(tmp_path, "a", store.checkpoint("country"))
    b = _checkpoint_file(tmp_path, "b", store.checkpoint("other"))
    code, _, err = civic("log", "monitor", a, b, "--key", VKEY, "--key", other.verifier.vkey)
    assert (code, err.split("]")[0]) == (1, "error [origin_mismatch")
    code, _, err = civic("log", "monitor", a, b, "--key", other.verifier.vkey)
    assert (code, err.split("]")[0]) == (1, "error [untrusted_note")


class _TlogHandler(http.server.BaseHTTPRequestHandler):
    """Serves one log as tlog-tiles: /checkpoint, /checkpoint/N and /tile/..."""

    store: LogStore

    def do_GET(self) -> None:
        try:
            path = self.path.lstrip("/")
            if path == "checkpoint":
                body = self.store.checkpoint("country").encode()
            elif path.startswith("checkpoint/"):
                body = self.store.checkpoint("country", int(path.split("/")[1])).encode()
            else:
                level, index, width = parse_tile_path(path)
                partial = width if width < 256 else None
                if level is None:
                    body = self.store.entry_bundle("country", index, partial)
                else:
                    body = self.store.tile("country", level, index, partial)
        except (CivicError, ValueError):
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def tlog_server(store: LogStore) -> Iterator[str]:
    """An HTTP server publishing the log ``country`` as tlog-tiles."""
    handler = type("Handler", (_TlogHandler,), {"store": store})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_monitor_fetches_checkpoints_and_tiles_over_http(
    store: LogStore, civic: Civic, tlog_server: str
) -> None:
    """Given URLs and a tlog-tiles prefix, the monitor builds and checks the proof itself."""
    got = civic.json(
        "log",
        "monitor",
        f"{tlog_server}/checkpoint/250",
        f"{tlog_server}/checkpoint",
        "--key",
        VKEY,
        "--tiles",
        tlog_server,
    )
    assert isinstance(got, dict)
    assert (got["old_size"], got["new_size"], got["proof_source"]) == (250, 600, tlog_server)
    code, _, err = civic("log", "monitor", f"{tlog_server}/nothing", "-", "--key", VKEY)
    assert (code, err.split("]")[0]) == (1, "error [fetch_failed")


def test_the_installed_command_keeps_the_error_contract(store: LogStore, tmp_path: Path) -> None:
    """Run as a process, ``civic log`` prints JSON on success and one coded line on failure."""
    import os
    import subprocess

    env = dict(os.environ)
    ok = subprocess.run(
        [sys.executable, "-m", "civicstack.cli.main", "log", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)[0]["size"] == 600
    bad = subprocess.run(
        [sys.executable, "-m", "civicstack.cli.main", "log", "prove", "nope", "0"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.strip() == "error [unknown_log] no log named 'nope'"


def test_monitor_compares_a_saved_checkpoint_with_the_local_log(
    store: LogStore, civic: Civic, tmp_path: Path
) -> None:
    """``db:LOG`` and ``db:LOG@SIZE`` read checkpoints the local log signed."""
    saved = _checkpoint_file(tmp_path, "saved", store.checkpoint("country", 250))
    got = civic.json("log", "monitor", saved, "db:country", "--key", VKEY)
    assert isinstance(got, dict)
    assert (got["old_size"], got["new_size"]) == (250, 600)
    assert civic("log", "monitor", "db:country@0", "db:country", "--key", VKEY)[0] == 0
    code, _, err = civic("log", "monitor", "db:country@x", "db:country", "--key", VKEY)
    assert (code, err.split("]")[0]) == (1, "error [invalid_request")
    code, _, err = civic("log", "monitor", "db:country@7", "db:country", "--key", VKEY)
    assert (code, err.split("]")[0]) == (1, "error [not_found")


def test_monitor_requires_witnesses_when_given(
    store: LogStore, civic: Civic, tmp_path: Path
) -> None:
    """With --witness, an uncosigned checkpoint exits 1 (witness_quorum_not_met) and a
    cosigned one passes and names its witness."""
    from civicstack.log import Cosigner, parse_note
    from civicstack.log.cosignature import add_cosignatures

    witness = Cosigner("witness.test/w1", PrivateKey.generate("EdDSA"))
    note = store.checkpoint("country")
    old = _checkpoint_file(tmp_path, "old", store.checkpoint("country", 250))
    bare = _checkpoint_file(tmp_path, "bare", note)
    args = ("--key", VKEY, "--witness", witness.verifier.vkey, "--json")
    code, out, err = civic("log", "monitor", old, bare, *args)
    assert code == 1
    assert err.startswith("error [witness_quorum_not_met]")
    cosigned = add_cosignatures(note, [witness.cosign(parse_note(note).text, 1_700_000_000)])
    code, out, err = civic(
        "log", "monitor", old, _checkpoint_file(tmp_path, "cosigned", cosigned), *args
    )
    assert code == 0, err
    assert json.loads(out)["cosigned_by"] == [witness.verifier.id]
