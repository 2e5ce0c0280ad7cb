"""Schemathesis over the issuers' OpenAPI: hostile requests of every documented shape get a
documented status and content type, a body matching its schema, and never a 500.

Bounded and deterministic (derandomized, a fixed number of examples per operation); half the
generated requests name a real issuer and admin routes carry the admin token, so the checks
reach past routing into the protocol code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from civicstack.api.app import create_app
from civicstack.demo.world import seed_demo_world
from civicstack.platform import Platform
from civicstack.settings import Settings

pytestmark = pytest.mark.slow

BASE = "http://testserver"
ISSUERS = ("passport-office", "home-office")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def app_and_token(database_url: str, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The platform app with the demo world on each database, and its admin token."""
    settings_ = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(tmp_path),
            "CIVIC_DATABASE_URL": database_url,
            "CIVIC_BASE_URL": BASE,
        }
    )
    platform = Platform(settings_)
    platform.migrate()
    seed_demo_world(platform)
    app = create_app(platform)
    with TestClient(app):
        yield app, platform.admin_token
    platform.close()


class _Target:
    """An ASGI app forwarding to whichever app the running test set (schemathesis loads the
    schema once, at import; its fixture loader does not run on this pytest)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


# Building the app and its OpenAPI document touches no database.
TARGET = _Target(
    create_app(
        Platform(Settings.from_env({"CIVIC_DATA_DIR": "/nonexistent", "CIVIC_BASE_URL": BASE}))
    )
)
schema = schemathesis.openapi.from_asgi("/issuers/openapi.json", TARGET)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_issuers_api_never_fails_and_keeps_its_contract(
    case: Any, app_and_token: tuple[Any, str]
) -> None:
    """Any request the schema allows (and many it does not) gets a documented answer."""
    app, admin_token = app_and_token
    TARGET.app = app
    name = (case.path_parameters or {}).get("name")
    if name is not None:
        # Deterministically aim half of the cases at a real issuer.
        digest = hashlib.sha256(repr((case.path_parameters, case.query, case.body)).encode())
        if digest.digest()[0] % 2 == 0:
            case.path_parameters["name"] = ISSUERS[digest.digest()[1] % 2]
    headers = {"Authorization": f"Bearer {admin_token}"} if "/admin/" in case.path else None
    case.call_and_validate(base_url=f"{BASE}/issuers", headers=headers, checks=CHECKS)
