"""Schemathesis over the OpenAPI of the services around the citizen — consent, tell us once
(``/changes``) and events — no input gives a 500 or breaks the documented schema.
Deterministic and bounded, like the other services' runs; the calls carry the admin token so
generated requests reach the services' rules, not only authentication."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from civicstack.api.app import create_app, wrap
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import Cast

pytestmark = pytest.mark.slow

EXAMPLES = 15
#: A schema-valid request may still break a service's rules (an unregistered purpose, a nonce
#: never handed out, an unknown address): those are documented problems, not acceptance
#: failures.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform on SQLite with the demo world (the requesters registered)."""
    data = tmp_path_factory.mktemp("citizen-services-schemathesis")
    built = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data)}))
    built.migrate()
    Cast().seed(built)
    yield built
    built.close()


@pytest.fixture(scope="module")
def app(platform: Platform) -> Any:
    """The platform's app, as served (body cap included)."""
    return wrap(create_app(platform), max_body=256 * 1024)


#: Each service's mount and the fewest operations its document must list.
SERVICES = [("consents", 10), ("changes", 6), ("events", 8)]


@pytest.mark.parametrize(("service", "fewest"), SERVICES)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_service_api_conforms_to_its_schema(
    app: Any, platform: Platform, service: str, fewest: int, mode: GenerationMode
) -> None:
    """Every operation answers generated (valid, then invalid) requests within its documented
    responses, and never with a server error."""
    schema = schemathesis.openapi.from_asgi(f"/{service}/openapi.json", app)
    headers = {"Authorization": f"Bearer {platform.admin_token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= fewest
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=mode)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            if mode is GenerationMode.NEGATIVE and response.status_code == 413:
                # An oversize body refused by the size cap is a rejection; schemathesis's
                # negative-data check lists 4xx codes without 413 Content Too Large.
                assert response.json()["code"] == "too_large"
                return
            case.validate_response(response, excluded_checks=EXCLUDED)

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE
        except Exception as exc:  # collected so one run reports every failing operation
            failures.append(f"{operation.label}: {exc}")
    assert failures == []
