"""Running ``civic`` in-process (click's runner) against a temporary data directory."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civicstack.cli.main import app
from civicstack.credential_types import PID, PID_VCT, RIGHT_TO_WORK, RIGHT_TO_WORK_VCT
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.trust import Purpose
from civicstack.wallet import Wallet

BASE = "http://civic.test"
SHOP = f"{BASE}/verifiers/shop"
PASSPHRASE = "correct horse battery staple"
FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
AMARA = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "birthdate": "1990-05-17",
    "issuing_country": "GB",
}


@dataclass
class Outcome:
    """What a command did: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)

    @property
    def error_lines(self) -> list[str]:
        """The ``error [code] detail`` lines on stderr (a prompt may precede one on its line:
        click's test runner echoes the typed answer to stdout, not after the prompt)."""
        return [
            line[line.index("error [") :] for line in self.err.splitlines() if "error [" in line
        ]

    @property
    def error_code(self) -> str | None:
        """The code of the one-line error on stderr, if the command failed with one."""
        match = (
            re.fullmatch(r"error \[([a-z_]+)\] .+", self.error_lines[-1])
            if self.error_lines
            else None
        )
        return match[1] if match else None


@dataclass
class Civic:
    """``civic`` with an environment of its own."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str, input: str | None = None, **env: str | None) -> Outcome:
        runner = CliRunner()
        result = runner.invoke(app, list(args), input=input, env={**self.env, **env})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)

    def fails(self, code: str, *args: str, input: str | None = None, **env: str | None) -> Outcome:
        """Run a command that must fail with ``code``, on one line, without a traceback."""
        outcome = self(*args, input=input, **env)
        assert outcome.code == 1, (outcome.code, outcome.out, outcome.err)
        assert outcome.error_code == code, outcome.err
        assert "Traceback" not in outcome.err
        assert len(outcome.error_lines) == 1
        return outcome

    def platform(self) -> Platform:
        """The platform the commands act on."""
        settings = Settings.from_env({k: v for k, v in self.env.items() if v is not None})
        platform = Platform(settings)
        platform.migrate()
        return platform


@pytest.fixture
def civic(tmp_path: Path) -> Civic:
    """``civic`` on an empty data directory, with the wallet passphrase in the environment."""
    return Civic(
        tmp_path,
        {
            "CIVIC_DATA_DIR": str(tmp_path),
            "CIVIC_BASE_URL": BASE,
            "CIVIC_WALLET_PASSPHRASE": PASSPHRASE,
        },
    )


@pytest.fixture
def world(civic: Civic) -> Civic:
    """A root, a passport office, a home office and a registered shop (set up directly)."""
    platform = civic.platform()
    a = platform.authorities
    a.init_root("root", "HM Government")
    a.accredit("passport-office", scope={PID_VCT: sorted(PID.claim_names)}, display_name="HMPO")
    a.accredit(
        "home-office",
        scope={RIGHT_TO_WORK_VCT: sorted(RIGHT_TO_WORK.claim_names)},
        display_name="Home Office",
    )
    a.register(
        "shop",
        purposes=[Purpose.create("age_check", "Sell you alcohol", {PID_VCT: ["age_over_18"]})],
        display_name="Corner Shop",
    )
    platform.close()
    return civic


@pytest.fixture
def wallet(world: Civic) -> Callable[[], Wallet]:
    """A wallet in the world's wallet directory (a light KDF: tests open it many times)."""
    Wallet.create(world.data_dir / "wallet", PASSPHRASE, kdf=FAST_KDF)
    return lambda: Wallet.open(world.data_dir / "wallet", PASSPHRASE)


@pytest.fixture
def holding(world: Civic, wallet: Callable[[], Wallet]) -> Civic:
    """The world, with a PID issued into the wallet."""
    outcome = world(
        "authority",
        "issue",
        "--issuer",
        "passport-office",
        "--vct",
        PID_VCT,
        "--claims",
        json.dumps(AMARA),
        "--to-wallet",
        "--json",
    )
    assert outcome.code == 0, outcome.err
    return world
