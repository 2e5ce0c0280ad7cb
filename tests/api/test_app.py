"""The platform app: catalogue, readiness, problem+json everywhere, body caps, admin auth."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicstack.api.app import Service, create_app, service_app, wrap
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.settings import Settings


def _demo_service(platform: Platform) -> tuple[Service, FastAPI]:
    app = service_app("Demo", "A service for the platform tests")

    @app.get("/fail")
    def fail() -> None:
        raise CivicError("revoked", "the credential was revoked")

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.post("/echo")
    def echo(body: dict[str, int]) -> dict[str, int]:
        return body

    @app.get("/admin")
    def admin(authorization: str | None = None) -> dict[str, str]:
        platform.check_admin(authorization)
        return {"ok": "yes"}

    return Service("/demo", "Demo", "A service for the platform tests", ("RFC 9457",)), app


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)})
    platform = Platform(settings)
    platform.migrate()
    app = wrap(create_app(platform, [_demo_service]), max_body=1024)
    return TestClient(app, raise_server_exceptions=False)


def test_healthz(client: TestClient) -> None:
    """/healthz answers 200 and lists the mounted services once the database answers."""
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "services": ["/demo"]}


def test_catalogue_lists_services(client: TestClient) -> None:
    """The catalogue page and its JSON form link every service's OpenAPI and docs."""
    page = client.get("/")
    assert page.status_code == 200
    assert "/demo/openapi.json" in page.text
    assert client.get("/services").json()[0]["openapi"] == "/demo/openapi.json"
    spec = client.get("/demo/openapi.json").json()
    assert spec["openapi"].startswith("3.1")


def test_civic_error_is_problem_json(client: TestClient) -> None:
    """A CivicError becomes RFC 9457 problem+json with the stable code."""
    r = client.get("/demo/fail")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "revoked"
    assert body["type"] == "urn:civicstack:error:revoked"
    assert body["detail"] == "the credential was revoked"


def test_unexpected_exception_is_a_problem_without_traceback(client: TestClient) -> None:
    """A bug answers internal_error problem+json and leaks nothing of the exception."""
    r = client.get("/demo/boom")
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error"
    assert "a bug" not in r.text


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", "/demo/nowhere", 404, "not_found"),
        ("DELETE", "/demo/fail", 405, "invalid_request"),
    ],
)
def test_routing_errors(client: TestClient, method: str, path: str, status: int, code: str) -> None:
    """Unknown routes and methods are problems too."""
    r = client.request(method, path)
    assert r.status_code == status
    assert r.json()["code"] == code


def test_validation_error(client: TestClient) -> None:
    """A body that does not match the schema is invalid_request with the failing locations."""
    r = client.post("/demo/echo", json={"a": "not an int"})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_request"
    assert r.json()["errors"][0]["loc"] == ["body", "a"]


def test_body_too_large(client: TestClient) -> None:
    """A body over the cap is refused with 413 too_large, whether declared or streamed."""
    r = client.post("/demo/echo", content=b"{" + b" " * 2000 + b"}")
    assert r.status_code == 413
    assert r.json()["code"] == "too_large"

    def chunks() -> object:
        for _ in range(10):
            yield b" " * 200

    r = client.post("/demo/echo", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_admin_token(client: TestClient, tmp_path: Path) -> None:
    """Admin checks accept only the generated token, stored 0600 in the data dir."""
    token_file = tmp_path / "admin-token"
    assert client.get("/demo/admin").json()["code"] == "unauthorized"
    assert client.get("/demo/admin", params={"authorization": "guess"}).status_code == 401
    token = token_file.read_text().strip()
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert client.get("/demo/admin", params={"authorization": token}).json() == {"ok": "yes"}
