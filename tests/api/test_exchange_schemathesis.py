"""Schemathesis over the exchange's and the access log's OpenAPI: no input gives a 500 or
breaks the documented schema, with a seeded world (data services, records, log entries) and
calls carrying the insurer's API key so that generated fetches reach the exchange's checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from civicstack.api.app import create_app, wrap
from civicstack.demo.world import DEMO_CITIZENS, seed_demo_world, seed_exchange_world
from civicstack.pairwise import Subject
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import ConsentGiver

pytestmark = pytest.mark.slow

EXAMPLES = 10
#: A fetch, a publication or a record write that the schema allows is still refused by the
#: exchange's rules (no consent, not registered, not the provider's own): documented problems.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]
EXISTING: dict[str, Any] = {
    "provider": "dvla",
    "service": "driving-record",
    "index": 0,
    "tile_path": "0/000.p/1",
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform on SQLite with the demo world, its data services, a consent Amara gave the
    insurer through the consent service, and one logged access."""
    data = tmp_path_factory.mktemp("exchange-schemathesis")
    built = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data)}))
    built.migrate()
    seed_demo_world(built)
    seed_exchange_world(built)
    ConsentGiver(built).give(
        Subject(*DEMO_CITIZENS[0]),
        requester="insurer",
        provider="dvla",
        purpose="insurance_quote",
        categories=["dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"],
    )
    from civicstack.access import AccessEntry

    built.exchange.access_log.record(
        AccessEntry(
            time=0,
            requester="insurer",
            provider="dvla",
            service="driving-record",
            purpose="insurance_quote",
            categories=("dpv-pd:VehicleLicense",),
            outcome="refused",
            refusal="consent_not_found",
            consent="c-1",
        ),
        None,
    )
    yield built
    built.close()


@pytest.mark.parametrize("mount", ["/exchange", "/access"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_exchange_and_access_apis_conform_to_their_schemas(
    platform: Platform, mount: str, mode: GenerationMode
) -> None:
    """Every operation answers generated (valid, then invalid) requests within its documented
    responses, never with a server error, on generated and on existing path parameters."""
    app = wrap(create_app(platform), max_body=256 * 1024)
    schema = schemathesis.openapi.from_asgi(f"{mount}/openapi.json", app)
    key = platform.verifier.issue_api_key("insurer")[1]
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        fixed: list[dict[str, Any] | None] = [None]
        if names:
            fixed.append({k: v for k, v in EXISTING.items() if k in names})
        for path_parameters in fixed:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

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
                failures.append(f"{operation.label} {path_parameters or ''}: {exc}")
    assert failures == []
