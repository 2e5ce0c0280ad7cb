"""NUL and other control characters are refused at the HTTP boundary, on SQLite and PostgreSQL.

Before: ``GET /.well-known/jwt-vc-issuer/%00`` was a 500 with a traceback on PostgreSQL, and a
``\\u0000`` inside JSON text was stored (register titles, field text) or signed into a
credential. Every route is tried, including those outside the OpenAPI documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from civicstack.api.app import create_app, wrap
from civicstack.api.control_characters import _body_has_control, text_has_control
from civicstack.platform import Platform
from civicstack.settings import Settings

JSON = "application/json"


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[Platform, TestClient]]:
    """The platform app as ``civic up`` serves it, over a fresh database."""
    settings = Settings.from_env(
        {"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_DATABASE_URL": database_url}
    )
    platform = Platform(settings)
    platform.migrate()
    root = create_app(platform)
    client = TestClient(wrap(root, max_body=1 << 20), raise_server_exceptions=False)
    client.app_state["root"] = root
    yield platform, client
    client.close()
    platform.close()


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route: each service's OpenAPI document and the root's routes."""
    found = set()
    routers = [client.app_state["root"]]
    while routers:  # the root's own routes, and those of routers it includes (/.well-known)
        for route in routers.pop().routes:
            included = getattr(route, "original_router", None)  # FastAPI's include_router
            if included is not None:
                routers.append(included)
            for method in getattr(route, "methods", None) or ():
                found.add((method, route.path))
    for service in client.get("/services").json():
        document = client.get(service["openapi"]).json()
        for path, operations in document["paths"].items():
            for method in operations:
                found.add((method.upper(), service["mount"] + path))
    return sorted((m, p) for m, p in found if "{" in p and m != "HEAD")


def test_a_nul_in_any_path_parameter_is_a_400_problem(
    served: tuple[Platform, TestClient],
) -> None:
    """Every route with a path parameter, NUL in each parameter: 400 malformed, never a 500."""
    _, client = served
    routes = _routes(client)
    assert ("GET", "/.well-known/jwt-vc-issuer/{path:path}") in routes
    for method, template in routes:
        path = re.sub(r"\{[^}]+\}", "a%00b", template)
        response = client.request(method, path, content=b"{}", headers={"content-type": JSON})
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["code"] == "malformed", (method, path)


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/jwt-vc-issuer/%00",
        "/.well-known/openid-credential-issuer/%00",
        "/.well-known/oauth-authorization-server/%00",
        "/registers/?q=%00",
        "/registers/address/records?page-size=1%0d%0aX",
        "/healthz/%7f",
    ],
)
def test_control_characters_in_path_or_query_are_refused(
    served: tuple[Platform, TestClient], path: str
) -> None:
    _, client = served
    response = client.get(path)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "malformed"


@pytest.mark.parametrize(
    "field", [{"name": "n\u0000"}, {"text": "a\u0000b"}, {"name": "ok", "text": "bell\u0007"}]
)
def test_a_register_with_control_characters_is_refused_and_not_stored(
    served: tuple[Platform, TestClient], field: dict[str, str]
) -> None:
    """POST /registers/ with NUL or BEL in its text: 400, and no register was created."""
    platform, client = served
    admin = {"Authorization": f"Bearer {platform.admin_token}"}
    before = client.get("/registers/").json()
    definition = {"name": "ok", "text": "a register", "fields": ["ok"], **field}
    response = client.post("/registers/", json=definition, headers=admin)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert client.get("/registers/").json() == before


def test_form_bodies_are_checked_too(served: tuple[Platform, TestClient]) -> None:
    """An urlencoded body (the OpenID4VP direct_post, token requests) with %00 is refused."""
    _, client = served
    response = client.post(
        "/verifier/responses",
        content=b"state=a%00&vp_token=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (b'{"a": "plain"}', False),
        (b'{"a": "tab\\tnew\\nline\\r"}', False),  # free text keeps TAB, LF and CR
        (b'{"a": "\\\\u0000"}', False),  # an escaped backslash, then the letters u0000
        (b'{"a": "\\u0000"}', True),
        (b'{"a": "\\u001F"}', True),
        (b'{"a": "\\u007f"}', True),
        (b'{"\\u0000": 1}', True),  # keys too
        (b'{"a": ["x", {"b": "\\u0008"}]}', True),  # at any depth
        (b'{"a": "x\x00"}', True),  # a raw NUL, which is not JSON at all
    ],
)
def test_json_rule(body: bytes, refused: bool) -> None:
    assert _body_has_control("application/json", body) is refused


@pytest.mark.parametrize(
    ("body", "refused"),
    [(b"a=1&b=two+words", False), (b"a=%0A", False), (b"a=%00", True), (b"%1b=x", True)],
)
def test_form_rule(body: bytes, refused: bool) -> None:
    assert _body_has_control("application/x-www-form-urlencoded", body) is refused


def test_text_rule() -> None:
    assert not text_has_control("Amara Okafor\n12 High St\t")
    assert text_has_control("A\x00")
    assert text_has_control("\x1b[31m")
