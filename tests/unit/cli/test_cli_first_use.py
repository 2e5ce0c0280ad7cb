"""What a new user trying civicstack from a clone ran into (issue 9, items 14-17): each
message says what happened and what to do, in the user's terms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civicstack.cli import _local
from civicstack.credential_types import PID_VCT
from civicstack.wallet.transport import error_from
from tests.e2e.server import free_port
from tests.unit.cli.conftest import SHOP, Civic

NOWHERE = f"http://127.0.0.1:{free_port()}"


def _present(*extra: str) -> list[str]:
    return [
        "wallet", "present", "--rp", SHOP, "--purpose", "age_check", "--nonce", "n-1",
        "--vct", PID_VCT, "--disclose", "age_over_18", *extra,
    ]  # fmt: skip


# --- 14 ------------------------------------------------------------------------------------


def test_an_unsupported_database_url_names_the_supported_ones(civic: Civic) -> None:
    """A MySQL URL is one unsupported_database line listing sqlite and postgresql, not a
    missing driver module."""
    out = civic.fails(
        "unsupported_database", "authority", "list", CIVIC_DATABASE_URL="mysql://u@db/civic"
    )
    assert "mysql:// is not supported" in out.err
    assert "sqlite:///" in out.err
    assert "postgresql://" in out.err
    assert "MySQLdb" not in out.err


# --- 15 ------------------------------------------------------------------------------------


def test_local_commands_say_which_data_directory_they_use(civic: Civic, tmp_path: Path) -> None:
    """With no CIVIC_DATA_DIR (nor CIVIC_DATABASE_URL), a command on local state names the
    directory it chose; with one set, it says nothing more."""
    home = tmp_path / "home"
    home.mkdir()
    out = civic("authority", "list", CIVIC_DATA_DIR=None, CIVIC_DATABASE_URL=None, HOME=str(home))
    assert out.code == 0, out.err
    assert f"using {home / '.civic'} (CIVIC_DATA_DIR chooses another)" in out.err
    quiet = civic("authority", "list")
    assert quiet.code == 0
    assert "using " not in quiet.err


def test_demo_with_no_server_says_nothing_answers(civic: Civic) -> None:
    """`civic demo` with nothing listening names the URL and `civic up`, not a missing token."""
    out = civic.fails("server_unreachable", "demo", "--server", NOWHERE, CIVIC_ADMIN_TOKEN=None)
    assert f"nothing answers at {NOWHERE}" in out.err
    assert "civic up" in out.err
    assert "civic demo --local" in out.err
    assert "admin token" not in out.err


def test_civic_server_names_the_server_for_every_command(civic: Civic) -> None:
    """CIVIC_SERVER is read by the commands that talk to the platform, registers verify too
    (a register name is the server's download)."""
    for command in (
        ["verifier", "presets"],
        ["authority", "offers", "--issuer", "passport-office"],
        ["demo"],
    ):
        out = civic.fails(
            "server_unreachable", *command, CIVIC_SERVER=NOWHERE, CIVIC_ADMIN_TOKEN="t"
        )
        assert NOWHERE in out.err, command
    out = civic.fails("fetch_failed", "registers", "verify", "country", CIVIC_SERVER=NOWHERE)
    assert f"{NOWHERE}/registers/country" in out.err


# --- 16 ------------------------------------------------------------------------------------


def test_present_without_a_terminal_needs_yes_or_decline(holding: Civic) -> None:
    """Without a terminal, end-of-input is no answer: present refuses before anything is
    asked or spent; --decline declines, --yes and --decline together are refused."""
    out = holding.fails("invalid_request", *_present(), input="")
    assert "--yes or --decline" in out.err
    assert holding("wallet", "history", "--json").json() == []
    holding.fails("invalid_request", *_present("--yes", "--decline"))
    holding.fails("consent_declined", *_present("--decline"))
    history = holding("wallet", "history", "--json").json()
    assert [h["outcome"] for h in history] == ["declined"]


def test_present_asks_at_a_terminal(holding: Civic, monkeypatch: pytest.MonkeyPatch) -> None:
    """At a terminal the holder is asked, as before."""
    monkeypatch.setattr(_local, "interactive", lambda: True)
    out = holding(*_present(), input="y\n")
    assert out.code == 0, out.err


def test_a_server_error_keeps_the_servers_words() -> None:
    """A problem+json answer becomes the server's code and detail ('answered already'), not
    'fetch_failed ... answered 409'; a body that is no problem keeps fetch_failed."""
    problem = json.dumps(
        {"code": "request_answered", "detail": "this request has been answered already"}
    ).encode()
    err = error_from(409, problem, "https://civic.test/verifier/request-objects/x")
    assert err.code == "request_answered"
    assert err.detail.endswith("this request has been answered already")
    assert error_from(502, b"<html>", "https://x").code == "fetch_failed"


# --- 17 ------------------------------------------------------------------------------------


def test_bad_claims_json_says_the_position_once(world: Civic) -> None:
    """A JSON syntax error names where, once."""
    out = world.fails(
        "malformed",
        "authority", "issue", "--issuer", "passport-office", "--vct", PID_VCT,
        "--claims", '{"given_name": "A",}',
    )  # fmt: skip
    assert out.err.count("line 1 column 20") == 1
    assert "not valid JSON: not valid JSON" not in out.err


def test_ids_print_whole_and_a_unique_start_is_enough(holding: Civic) -> None:
    """`wallet list` and `authority credentials` print ids whole on one line (an 80-column
    terminal); `wallet show` and `authority revoke` take an id's unique start."""
    (held,) = holding("wallet", "list", "--json").json()
    assert held["id"] in holding("wallet", "list").out
    shown = holding("wallet", "show", held["id"][:6], "--json")
    assert shown.code == 0, shown.err
    assert shown.json()["id"] == held["id"]
    (issued,) = holding("authority", "credentials", "--json").json()
    assert issued["id"] in holding("authority", "credentials").out
    revoked = holding("authority", "revoke", issued["id"][:8], "--json")
    assert revoked.code == 0, revoked.err
    assert revoked.json()["id"] == issued["id"]


def test_help_shows_no_value_for_flags(civic: Civic) -> None:
    """Flags (--help, --json, --yes) show no `<bool>` as if they took a value."""
    for command in ([], ["wallet", "present"], ["up"], ["registers", "verify"]):
        out = civic(*command, "--help")
        assert out.code == 0
        assert "--help" in out.out
        assert "<bool>" not in out.out, command
