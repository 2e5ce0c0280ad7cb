"""Schemathesis over every service's OpenAPI: no generated input gets a 500 or a bare error.

Each operation of each mounted service (and the platform root) is called with inputs generated
from its OpenAPI 3.1 document, valid and invalid, as the admin (so admin operations run their
whole path, not just the 401). Bounded and deterministic: a fixed number of examples per
operation, derandomised. Every error answer must be problem+json with a registered code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from civicstack.errors import CODES
from civicstack.testing import FixedClock
from tests.api.conftest import World, make_world
from tests.conftest import _postgres_database

pytestmark = pytest.mark.slow

EXAMPLES = 20


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One seeded world per database for the whole module (generated calls add to it)."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{data_dir / 'civic.db'}"])
    else:
        urls = _postgres_database()
    url = next(urls)
    world = make_world(url, data_dir, FixedClock())
    with world.client:
        yield world
    world.platform.close()
    for _ in urls:  # finish the generator: drops the PostgreSQL database
        pass


#: Services whose errors follow their protocol instead (RFC 6749 §5.2 and RFC 7591 §3.2.2 JSON
#: with ``error``, or a page for a person): one login and its demo government services.
_OAUTH_MOUNTS = ("/oidc", "/services/")


#: Pages a person is shown (the desk pages of api/handover.py): an error is a page too.
_PAGE_SUFFIX = "/page"


def _check(response: Any, mount: str = "", path: str = "") -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400 and path.endswith(_PAGE_SUFFIX):
        (content_type,) = response.headers["content-type"]
        if content_type.startswith("text/html"):
            return  # else refused before routing (caps, control characters): problem+json
    if response.status_code >= 400 and mount.startswith(_OAUTH_MOUNTS):
        if "content-type" not in response.headers and not response.content:
            return  # a back-channel logout endpoint's bare 400 (Back-Channel Logout 1.0 §2.8)
        (content_type,) = response.headers["content-type"]
        if content_type.startswith("text/html"):
            return
        body = response.json()
        assert content_type.startswith(("application/json", "application/problem+json"))
        assert body["code"] in CODES
        assert "error" in body or body["status"] == response.status_code
        return
    if response.status_code >= 400:
        (content_type,) = response.headers["content-type"]
        assert content_type.startswith("application/problem+json"), (
            response.status_code,
            response.text,
        )
        body = response.json()
        assert body["code"] in CODES
        assert body["status"] == response.status_code


def _operations(world: World, mount: str) -> list[Any]:
    schema = schemathesis.openapi.from_asgi(f"{mount}/openapi.json", world.client.app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gets_a_server_error(fuzzed: World, mode: GenerationMode) -> None:
    """Every operation of the platform root and of every service it mounts, called with
    generated valid (positive) or invalid (negative) inputs as the admin, answers below 500,
    and every error is problem+json with a registered code."""
    mounts = ["", *(service.mount for service in fuzzed.platform_app.state.services)]
    assert {"/trust", "/verifier"} <= set(mounts)
    exercised = total = 0
    for mount in mounts:
        for operation in _operations(fuzzed, mount):
            total += 1

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: Any) -> None:
                _check(case.call(headers=fuzzed.admin), mount, case.path)  # noqa: B023 -- run at once

            try:
                call()
            except Unsatisfiable:
                # No invalid input exists for an operation without parameters (GET /healthz).
                assert mode is GenerationMode.NEGATIVE
                continue
            exercised += 1
    # Every operation runs; only those without any input have no invalid case.
    assert exercised == total if mode is GenerationMode.POSITIVE else exercised > total // 2
