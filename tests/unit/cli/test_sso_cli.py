"""``civic sso initial-access-token``: a registration token for one organisation."""

from __future__ import annotations

import json
from pathlib import Path

from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.sso import secret_hash
from civicstack.testing import Cast
from tests.unit.cli.conftest import Civic


def _seeded(tmp_path: Path) -> None:
    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)}))
    platform.migrate()
    Cast().seed(platform)
    platform.close()


def test_mints_a_token_for_an_organisation(civic: Civic, tmp_path: Path) -> None:
    """--json prints {"token"}, and the token registers clients for that organisation."""
    _seeded(tmp_path)
    out = civic("sso", "initial-access-token", "--org", "council", "--json")
    assert out.code == 0, out.err
    token = json.loads(out.out)["token"]
    assert set(json.loads(out.out)) == {"token"}
    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)}))
    stored = platform.sso_store.initial_access_token(secret_hash(token))
    platform.close()
    assert stored is not None
    assert stored.organisation == "council"


def test_refuses_an_organisation_that_cannot_sign_in(civic: Civic, tmp_path: Path) -> None:
    """An unknown organisation, or one not registered for sign_in, gets one error line."""
    _seeded(tmp_path)
    civic.fails("unknown_authority", "sso", "initial-access-token", "--org", "nobody")
    civic.fails("unregistered_relying_party", "sso", "initial-access-token", "--org", "shop")
