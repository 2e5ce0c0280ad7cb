"""CIVIC_LIMIT_<RECIPE>_<FIELD>: an operator's override reaches the running services, and a bad
one stops startup with ``invalid_setting`` naming the valid choices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from civicstack.api.app import create_app, wrap
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.settings import Settings

GOOD = Path(__file__).resolve().parent.parent / "vectors" / "registers" / "good"
SHADE = (GOOD / "shade.rsf").read_bytes()
TWO = {"entries": [{"key": k, "item": {"shade": k}} for k in ("grey", "ash")]}


@contextmanager
def _client(env: dict[str, str]) -> Iterator[tuple[Platform, TestClient, dict[str, str]]]:
    platform = Platform(Settings.from_env(env))
    platform.migrate()
    platform.registers.import_rsf({"shade": SHADE})
    client = TestClient(wrap(create_app(platform), max_body=64 * 1024))
    yield platform, client, {"Authorization": f"Bearer {platform.admin_token}"}
    client.close()
    platform.close()


@pytest.fixture
def base(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh platform."""
    return {"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_DATABASE_URL": database_url}


def test_a_lowered_registers_cap_reaches_the_api(base: dict[str, str]) -> None:
    """CIVIC_LIMIT_REGISTERS_MAX_WRITE_RECORDS=1 refuses a two-record write the default accepts,
    as 413 too_large, the code of the default cap; nothing is written."""
    env = {**base, "CIVIC_LIMIT_REGISTERS_MAX_WRITE_RECORDS": "1"}
    with _client(env) as (platform, client, admin):
        assert platform.registers.limits.max_write_records == 1
        r = client.post("/registers/shade/entries", json=TWO, headers=admin)
        assert (r.status_code, r.json()["code"]) == (413, "too_large")
        assert client.get("/registers/shade/records/grey").status_code == 404


def test_the_default_accepts_what_the_override_refuses(base: dict[str, str]) -> None:
    """Without the override the same two-record write is accepted."""
    with _client(base) as (_, client, admin):
        assert client.post("/registers/shade/entries", json=TWO, headers=admin).status_code < 300
        assert client.get("/registers/shade/records/grey").status_code == 200


def test_overrides_reach_every_service_the_platform_builds(tmp_path: Path) -> None:
    """Each family lands in the value its service is built with; fields not named keep their
    defaults."""
    env = {
        "CIVIC_DATA_DIR": str(tmp_path),
        "CIVIC_LIMIT_OPENID4VP_VP_TOKEN_BYTES": "2048",
        "CIVIC_LIMIT_VERIFIER_PRESENTATION_BYTES": "1024",
        "CIVIC_LIMIT_VERIFIER_KB_AGE": "30",
        "CIVIC_LIMIT_STATUS_TOKEN_BYTES": "4096",
        "CIVIC_LIMIT_FETCH_TIMEOUT": "1.5",
        "CIVIC_LIMIT_FETCH_REDIRECTS": "0",
    }
    platform = Platform(Settings.from_env(env))
    try:
        verifier = platform.verifier
        assert verifier.vp_limits.vp_token_bytes == 2048
        assert verifier.vp_limits.presentations == 16
        assert (verifier.limits.presentation_bytes, verifier.limits.kb_age) == (1024, 30)
        assert platform.status_checker.limits.token_bytes == 4096
        assert platform._http.client.timeout.read == 1.5
        assert platform._http.client.max_redirects == 0
    finally:
        platform.close()


@pytest.mark.parametrize(
    ("name", "value", "names"),
    [
        ("CIVIC_LIMIT_NOPE_MAX_PAGE", "1", "REGISTERS"),
        ("CIVIC_LIMIT_REGISTERS_MAX_PAGES", "1", "CIVIC_LIMIT_REGISTERS_MAX_PAGE"),
        ("CIVIC_LIMIT_REGISTERS", "1", "CIVIC_LIMIT_REGISTERS_MAX_ITEM_BYTES"),
        ("CIVIC_LIMIT_REGISTERS_MAX_PAGE", "-1", "whole number"),
        ("CIVIC_LIMIT_REGISTERS_MAX_PAGE", "1.5", "whole number"),
        ("CIVIC_LIMIT_REGISTERS_MAX_PAGE", "lots", "whole number"),
        ("CIVIC_LIMIT_REGISTERS_MAX_PAGE", "9" * 5000, "whole number"),
        ("CIVIC_LIMIT_FETCH_TIMEOUT", "-0.5", "a number"),
    ],
)
def test_bad_overrides_fail_at_startup(tmp_path: Path, name: str, value: str, names: str) -> None:
    """An unknown recipe or field, or a value that is not a count, is invalid_setting and the
    message lists what is valid."""
    with pytest.raises(CivicError) as err:
        Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path), name: value})
    assert err.value.code == "invalid_setting"
    assert names in err.value.detail
    assert name in err.value.detail
