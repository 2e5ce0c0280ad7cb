"""``civic`` as a new user runs it, in real processes: set up, issue, present, verify, revoke."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PID = "urn:eudi:pid:1"
SHOP = "http://civic.test/verifiers/shop"
ERROR_LINE = re.compile(r"error \[([a-z_]+)\] [^\n]+\n")


class Shell:
    """Runs ``civic`` in a fresh process with its own data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "CIVIC_DATA_DIR": str(data_dir),
            "CIVIC_BASE_URL": "http://civic.test",
            "CIVIC_WALLET_PASSPHRASE": "correct horse battery staple",
            "COLUMNS": "200",
        }
        self.env.pop("CIVIC_DATABASE_URL", None)
        self.env.pop("CIVIC_WALLET_DIR", None)

    def run(
        self, *args: str, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``civic ARGS`` with ``stdin``."""
        return subprocess.run(
            [sys.executable, "-m", "civicstack.cli.main", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """Run a command that must succeed; its stdout."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def fails(self, code: str, *args: str, stdin: str | None = None, **env: str) -> None:
        """Run a command that must fail with exactly one line ``error [code] ...``."""
        done = self.run(*args, stdin=stdin, **env)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        match = ERROR_LINE.fullmatch(done.stderr)
        assert match is not None, done.stderr
        assert match[1] == code, done.stderr


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    """A shell with an empty data directory."""
    return Shell(tmp_path)


def test_a_new_user_walks_through(shell: Shell) -> None:
    """init a wallet, set up authorities, issue, present, verify, revoke, verify again."""
    key = json.loads(shell.ok("wallet", "init", "--json"))
    assert "d" not in key["jwk"]
    shell.ok("authority", "init", "--display-name", "HM Government")
    shell.ok("authority", "accredit", "passport-office", "--vct", PID, "--display-name", "HMPO")
    shell.ok(
        "authority",
        "register",
        "shop",
        "--display-name",
        "Corner Shop",
        "--purpose",
        "age_check",
        "--description",
        "Sell you alcohol",
        "--claims",
        json.dumps({PID: ["age_over_18"]}),
    )
    claims = {
        "given_name": "Amara",
        "family_name": "Okafor",
        "birthdate": "1990-05-17",
        "issuing_country": "GB",
    }
    issued = json.loads(
        shell.ok(
            "authority",
            "issue",
            "--issuer",
            "passport-office",
            "--vct",
            PID,
            "--claims",
            json.dumps(claims),
            "--to-wallet",
            "--json",
        )
    )
    (held,) = json.loads(shell.ok("wallet", "list", "--json"))
    assert held["id"] == issued["wallet_id"]
    presented = shell.run(
        "wallet",
        "present",
        "--rp",
        SHOP,
        "--purpose",
        "age_check",
        "--nonce",
        "n-42",
        "--vct",
        PID,
        "--disclose",
        "age_over_18",
        "--yes",
    )
    assert presented.returncode == 0, presented.stderr
    assert "Corner Shop" in presented.stderr
    assert "Okafor" not in presented.stderr
    token = presented.stdout.strip()
    verified = json.loads(
        shell.ok("verify", "-", "--aud", SHOP, "--nonce", "n-42", "--json", stdin=token)
    )
    assert verified["claims"] == {"age_over_18": True}
    assert verified["issuer_name"] == "HMPO"
    assert "revoked" in shell.ok("authority", "revoke", issued["id"])
    shell.fails("revoked", "verify", token, "--aud", SHOP, "--nonce", "n-42")
    history = json.loads(shell.ok("wallet", "history", "--json"))
    assert [(h["outcome"], h["relying_party_name"]) for h in history] == [
        ("presented", "Corner Shop")
    ]


def test_bad_input_is_one_line_in_a_real_process(shell: Shell) -> None:
    """Bad JSON, an unknown authority, a missing wallet, a wrong passphrase and a tampered
    presentation each end the process with one coded line and status 1."""
    shell.fails("no_wallet", "wallet", "list")
    shell.fails("no_root_authority", "authority", "accredit", "x", "--vct", PID)
    shell.ok("authority", "init")
    shell.ok("authority", "accredit", "passport-office", "--vct", PID)
    shell.fails(
        "malformed",
        "authority",
        "issue",
        "--issuer",
        "passport-office",
        "--vct",
        PID,
        "--claims",
        "{oops",
        "--holder-jwk",
        "{}",
    )
    shell.fails(
        "unknown_authority",
        "authority",
        "issue",
        "--issuer",
        "nobody",
        "--vct",
        PID,
        "--claims",
        "{}",
        "--holder-jwk",
        json.dumps(
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ),
    )
    shell.ok("wallet", "init")
    shell.fails("wrong_passphrase", "wallet", "list", CIVIC_WALLET_PASSPHRASE="not it")
    shell.fails("malformed", "verify", "-", "--aud", SHOP, "--nonce", "n", stdin="eyJ.garbage~")
    shell.fails("invalid_request", "wallet", "list", CIVIC_WALLET_PASSPHRASE="")


def test_usage_errors_exit_2(shell: Shell) -> None:
    """An unknown command or a missing option is click's usage error: exit 2, no traceback."""
    for args in (["nope"], ["verify", "x"]):
        done = shell.run(*args)
        assert done.returncode == 2
        assert "Traceback" not in done.stderr


def test_the_console_script(shell: Shell) -> None:
    """The installed ``civic`` script runs and reports its version."""
    script = Path(sys.executable).parent / "civic"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("civic ")
