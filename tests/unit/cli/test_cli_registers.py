"""``civic registers`` as a user runs it: import, list, show, export, verify; and ``civic log
monitor`` against a running platform's register checkpoints and tiles."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from civicstack.api.app import create_app, wrap
from civicstack.cli import main
from civicstack.platform import Platform
from civicstack.registers import Item
from civicstack.settings import Settings
from tests.e2e.server import free_port

GOOD = Path(__file__).resolve().parents[2] / "vectors" / "registers" / "good"
COLOUR = GOOD / "colour.rsf"
SHADE = GOOD / "shade.rsf"


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
def civic(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Civic:
    """``civic`` on a fresh platform database (CIVIC_DATA_DIR and CIVIC_DATABASE_URL)."""
    monkeypatch.setenv("CIVIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CIVIC_DATABASE_URL", database_url)
    return Civic(capsys, monkeypatch)


@pytest.fixture
def imported(civic: Civic) -> Civic:
    """The colour and shade registers imported with the CLI."""
    got = civic.json("registers", "import", str(COLOUR), str(SHADE))
    assert [(r["name"], r["entries"]) for r in got] == [("colour", 13), ("shade", 6)]
    return civic


def _key(civic: Civic, name: str) -> str:
    summary = civic.json("registers", "show", name)
    assert isinstance(summary, dict)
    return str(summary["log"]["verifier-key"])


def test_import_list_show_and_export(imported: Civic, tmp_path: Path) -> None:
    """Imported registers are listed and shown; the export is RSF ending in assert-root-hash."""
    civic = imported
    listed = civic.json("registers", "list")
    assert isinstance(listed, list)
    assert [(r["name"], r["records"]) for r in listed] == [("colour", 2), ("shade", 2)]
    shown = civic.json("registers", "show", "colour")
    assert isinstance(shown, dict)
    assert shown["log"]["size"] == 13
    assert shown["fields"][0]["field"] == "colour"
    code, out, _ = civic("registers", "show", "colour")
    assert code == 0
    assert "sha-256:8bfafa26" in out
    code, rsf, _ = civic("registers", "export", "colour")
    assert code == 0
    assert rsf.splitlines()[-1] == "assert-root-hash\t" + shown["root-hash"]
    # Imported onto the register again it is a patch asserting the empty tree: refused.
    copy = tmp_path / "colour-copy.rsf"
    copy.write_text(rsf)
    code, _, err = civic("registers", "import", str(copy), "--name", "colour")
    assert (code, err.split("]")[0]) == (1, "error [root_hash_mismatch")


def test_a_bad_import_prints_one_line_and_writes_nothing(civic: Civic, tmp_path: Path) -> None:
    """A bad line in one of two files: one coded error line, exit 1, no register created."""
    broken = tmp_path / "shade.rsf"
    broken.write_bytes(
        SHADE.read_bytes().replace(b"append-entry\tuser\tdark", b"append-entry\tuser\t")
    )
    code, out, err = civic("registers", "import", str(COLOUR), str(broken))
    assert code == 1
    assert out == ""
    assert err.startswith("error [invalid_rsf] register shade, line ")
    assert len(err.strip().splitlines()) <= 2  # one message (wrapped at most once)
    assert civic.json("registers", "list") == []
    code, _, err = civic("registers", "show", "colour")
    assert (code, err.split("]")[0]) == (1, "error [not_found")


def test_verify_checks_a_download_against_its_checkpoint(imported: Civic, tmp_path: Path) -> None:
    """An export verifies against the latest checkpoint; tampering or a wrong key is refused."""
    civic = imported
    key = _key(civic, "colour")
    _, rsf, _ = civic("registers", "export", "colour")
    _, note, _ = civic("log", "checkpoint", "registers/colour")
    (tmp_path / "colour.rsf").write_text(rsf)
    (tmp_path / "checkpoint").write_text(note)
    args = ["--checkpoint", str(tmp_path / "checkpoint"), "--key", key]
    got = civic.json("registers", "verify", str(tmp_path / "colour.rsf"), *args)
    assert isinstance(got, dict)
    assert (got["verified"], got["method"], got["size"]) == (True, "equal", 13)
    (tmp_path / "tampered.rsf").write_text(rsf.replace('"Pink"', '"Rose"'))
    code, _, err = civic("registers", "verify", str(tmp_path / "tampered.rsf"), *args)
    assert (code, err.split("]")[0]) == (1, "error [hash_mismatch")
    other = _key(civic, "shade")
    code, _, err = civic(
        "registers", "verify", str(tmp_path / "colour.rsf"), args[0], args[1], "--key", other
    )
    assert (code, err.split("]")[0]) == (1, "error [untrusted_note")
    # Another register's checkpoint (6 entries) does not sign this download's first 6.
    (tmp_path / "shade-checkpoint").write_text(civic("log", "checkpoint", "registers/shade")[1])
    code, _, err = civic(
        "registers",
        "verify",
        str(tmp_path / "colour.rsf"),
        "--checkpoint",
        str(tmp_path / "shade-checkpoint"),
        "--key",
        other,
    )
    assert (code, err.split("]")[0]) == (1, "error [root_hash_mismatch")


@pytest.fixture
def server(database_url: str, tmp_path: Path, imported: Civic) -> Iterator[tuple[str, Platform]]:
    """The platform app served over HTTP on a free port, in this process."""
    settings = Settings.from_env(
        {"CIVIC_DATA_DIR": str(tmp_path / "data"), "CIVIC_DATABASE_URL": database_url}
    )
    platform = Platform(settings)
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


def test_verify_a_download_url_against_a_newer_checkpoint(
    server: tuple[str, Platform], civic: Civic, tmp_path: Path
) -> None:
    """A new user's walk: download from the server, verify; after more writes, the old download
    still verifies against the newer checkpoint through a consistency proof from the tiles."""
    base, platform = server
    url = f"{base}/registers/colour/download-rsf"
    got = civic.json("registers", "verify", url)
    assert isinstance(got, dict)
    assert (got["method"], got["key-from-server"]) == ("equal", True)
    key = str(got["key"])
    _, rsf, _ = civic("registers", "export", "colour")
    (tmp_path / "old.rsf").write_text(rsf)
    platform.registers.append("colour", [("blue", [Item.of({"colour": "blue"})])], now=0)
    newer = civic.json(
        "registers",
        "verify",
        str(tmp_path / "old.rsf"),
        "--checkpoint",
        f"{base}/registers/colour/checkpoint",
        "--key",
        key,
        "--tiles",
        f"{base}/registers/colour/log",
    )
    assert isinstance(newer, dict)
    assert (newer["method"], newer["size"], newer["checkpoint"]["size"]) == ("consistency", 13, 14)
    code, _, err = civic(
        "registers",
        "verify",
        str(tmp_path / "old.rsf"),
        "--checkpoint",
        f"{base}/registers/colour/checkpoint",
        "--key",
        key,
    )
    assert (code, err.split("]")[0]) == (1, "error [proof_out_of_range")


def test_log_monitor_reads_a_registers_checkpoints_and_tiles(
    server: tuple[str, Platform], civic: Civic, tmp_path: Path
) -> None:
    """civic log monitor checks a saved checkpoint against the live one with the served tiles."""
    base, platform = server
    key = _key(civic, "colour")
    code, note, _ = civic("log", "checkpoint", "registers/colour")
    assert code == 0
    old = tmp_path / "old-checkpoint"
    old.write_text(note)
    records = [(f"c{i}", [Item.of({"colour": f"c{i}"})]) for i in range(300)]
    platform.registers.append("colour", records, now=0)
    got = civic.json(
        "log",
        "monitor",
        str(old),
        f"{base}/registers/colour/log/checkpoint",
        "--key",
        key,
        "--tiles",
        f"{base}/registers/colour/log",
    )
    logs = platform.logs
    assert got == {
        "consistent": True,
        "origin": "127.0.0.1:8000/registers/colour",
        "old_size": 13,
        "new_size": 313,
        "old_root": base64.b64encode(logs.root("registers/colour", 13)).decode(),
        "new_root": base64.b64encode(logs.root("registers/colour", 313)).decode(),
        "proof_source": f"{base}/registers/colour/log",
    }


def test_a_lone_register_that_links_to_another_says_how_to_import_it(civic: Civic) -> None:
    """Importing a register alone whose links name another register's records suggests
    importing them together, or the documented flag."""
    code, _, err = civic("registers", "import", str(COLOUR))
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("error [dangling_link]")
    assert "import the registers it links to in the same command" in line
    assert "--unsafe-allow-dangling-links" in line


def test_verify_a_register_by_name_on_the_server(
    server: tuple[str, Platform], civic: Civic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`registers verify NAME` checks the download of NAME on --server, or on CIVIC_SERVER."""
    base, _ = server
    got = civic.json("registers", "verify", "colour", "--server", base)
    assert isinstance(got, dict)
    assert (got["register"], got["method"]) == ("colour", "equal")
    monkeypatch.setenv("CIVIC_SERVER", base)
    again = civic.json("registers", "verify", "colour")
    assert isinstance(again, dict)
    assert again["root-hash"] == got["root-hash"]


def test_export_into_a_closed_pipe_ends_quietly(imported: Civic, tmp_path: Path) -> None:
    """`civic registers export NAME | head` ends quietly when the reader stops: here the reader
    (`true`) has exited long before the export writes (a Python start), so every write meets a
    closed pipe."""
    import os
    import subprocess

    civic_cmd = f"{sys.executable} -m civicstack.cli.main registers export colour"
    done = subprocess.run(
        ["sh", "-c", f"{civic_cmd} | true"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stderr == ""


def test_custodian_tokens_are_issued_listed_revoked_and_audited(imported: Civic) -> None:
    """``civic registers custodians``: the secret is shown once at issue, never in a listing;
    a revocation shows in the listing and the audit trail; an unknown id is one error line."""
    civic = imported
    issued = civic.json("registers", "custodians", "issue", "shade", "--label", "desk")
    assert isinstance(issued, dict)
    assert issued["token"].startswith("civic_reg_")
    assert issued["state"] == "active"
    listed = civic.json("registers", "custodians", "list")
    assert isinstance(listed, list)
    assert [t["id"] for t in listed] == [issued["id"]]
    assert issued["token"] not in json.dumps(listed)
    revoked = civic.json("registers", "custodians", "revoke", issued["id"])
    assert isinstance(revoked, dict)
    assert revoked["state"] == "revoked"
    assert revoked["revoked_by"].startswith("cli")
    events = civic.json("registers", "custodians", "audit", "--register", "shade")
    assert isinstance(events, list)
    assert [e["event"] for e in events] == ["issued", "revoked"]
    code, out, _ = civic("registers", "custodians", "list", "shade")
    assert (code, issued["id"] in out, "revoked" in out) == (0, True, True)
    code, _, err = civic("registers", "custodians", "revoke", "ct_0000000000000000")
    assert (code, err.startswith("error [not_found]")) == (1, True)
    code, _, err = civic("registers", "custodians", "issue", "shade", "--label", "x" * 200)
    assert (code, err.startswith("error [invalid_request]")) == (1, True)


def test_log_monitor_watches_a_register_on_the_server(
    server: tuple[str, Platform], civic: Civic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`civic log monitor OLD --register NAME` takes the newer checkpoint and the tiles from the
    register's log on --server, or on CIVIC_SERVER (issue 9, item 15: `log` too)."""
    base, platform = server
    verified = civic.json("registers", "verify", f"{base}/registers/colour/download-rsf")
    assert isinstance(verified, dict)
    key = str(verified["key"])
    old = tmp_path / "old-checkpoint"
    old.write_bytes(httpx.get(f"{base}/registers/colour/log/checkpoint").content)
    platform.registers.append("colour", [("blue", [Item.of({"colour": "blue"})])], now=0)
    got = civic.json(
        "log", "monitor", str(old), "--register", "colour", "--server", base, "--key", key
    )
    assert isinstance(got, dict)
    assert (got["consistent"], got["new_size"] - got["old_size"]) == (True, 1)
    assert got["proof_source"] == f"{base}/registers/colour/log"
    monkeypatch.setenv("CIVIC_SERVER", base)
    again = civic.json("log", "monitor", str(old), "--register", "colour", "--key", key)
    assert again == got
    code, _, err = civic("log", "monitor", str(old), "--register", "../x", "--key", key)
    assert (code, err.split("]")[0]) == (1, "error [invalid_request")
