"""The platform app over a seeded demo world, on SQLite and PostgreSQL, through TestClient."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicstack._crypto import PublicKey
from civicstack.api.app import create_app, max_body, wrap
from civicstack.credential_types import PID_VCT
from civicstack.demo.story import AMARA, AMARA_RIGHT_TO_WORK
from civicstack.fetch import HttpTransport
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import FAST_KDF, Cast, FixedClock

BASE = "http://testserver"
RTW = AMARA_RIGHT_TO_WORK
__all__ = ["AMARA", "FAST_KDF", "RTW", "ClientTransport", "World", "make_world"]


@dataclass
class World:
    """A seeded platform, its app under TestClient, and the admin's headers."""

    platform: Platform
    client: TestClient
    clock: FixedClock
    platform_app: FastAPI

    @property
    def admin(self) -> dict[str, str]:
        """The admin bearer header."""
        return {"Authorization": f"Bearer {self.platform.admin_token}"}

    def issue(self, vct: str, holder_jwk: Mapping[str, Any]) -> str:
        """A credential of ``vct`` for Amara, bound to ``holder_jwk``."""
        claims = AMARA if vct == PID_VCT else RTW
        issuer = "passport-office" if vct == PID_VCT else "home-office"
        return self.platform.authorities.issue(
            issuer, vct=vct, claims=claims, holder=PublicKey.from_jwk(dict(holder_jwk))
        ).credential

    def request(self, preset: str, **extra: Any) -> dict[str, Any]:
        """Create a request from a preset as the admin; its JSON."""
        r = self.client.post(
            "/verifier/requests", json={"preset": preset, **extra}, headers=self.admin
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def result(self, request_id: str) -> dict[str, Any]:
        """A request's outcome, read as the admin."""
        r = self.client.get(f"/verifier/requests/{request_id}", headers=self.admin)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def make_world(
    database_url: str, data_dir: Path, clock: FixedClock, env: Mapping[str, str] | None = None
) -> World:
    """A migrated platform with the testing world's default cast (the demo world), served by
    TestClient; ``env`` adds settings (``CIVIC_LIMIT_*``...)."""
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(data_dir),
            "CIVIC_DATABASE_URL": database_url,
            "CIVIC_BASE_URL": BASE,
            **(env or {}),
        }
    )
    platform = Platform(settings, clock=clock)
    platform.migrate()
    Cast().seed(platform)
    root = create_app(platform)
    app = wrap(root, max_body=max_body(platform))
    return World(platform, TestClient(app, raise_server_exceptions=False), clock, root)


@pytest.fixture
def world(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[World]:
    """The demo world on SQLite, then PostgreSQL."""
    w = make_world(database_url, tmp_path, clock)
    with w.client:
        yield w
    w.platform.close()


class ClientTransport(HttpTransport):
    """civicstack's wallet transport over a TestClient (fetch and direct_post)."""
