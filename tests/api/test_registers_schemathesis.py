"""Schemathesis over the registers' OpenAPI: no input gives a 500 or breaks the documented schema.

Property-based, deterministic (derandomised, fixed example counts) and bounded so that the
whole run stays well under a minute. The app holds real data (two linked registers) and the
calls carry the admin token, so generated writes reach the validation code, not only the
authentication check.
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

from civicstack.api.app import create_app, wrap
from civicstack.platform import Platform
from civicstack.settings import Settings

pytestmark = pytest.mark.slow

GOOD = Path(__file__).resolve().parent.parent / "vectors" / "registers" / "good"
#: Generated requests per operation and mode: about 30 operations, in well under a minute.
EXAMPLES = 10
#: positive_data_acceptance expects every schema-valid request to succeed; a register's rules
#: (datatypes per field, primary keys, links to records) are data, not schema, so a write that
#: breaks them is a documented 400 problem. Every other check runs: no server error, statuses,
#: content types, headers and bodies as documented, invalid requests rejected.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]
#: Path parameters that name things that exist, so generated requests also reach the data.
EXISTING: dict[str, Any] = {
    "name": "colour",
    "key": "red",
    "number": 1,
    "index": 2,
    "first": 3,
    "second": 9,
    "tile_path": "0/000.p/9",
    "item_hash": "sha-256:6635153f1a847a6d5e3ee7e0c5345bd2a5364dca5bd5aac4a6760dcd5cfda8af",
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform on SQLite with the colour and shade registers."""
    data = tmp_path_factory.mktemp("schemathesis")
    built = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data)}))
    built.migrate()
    built.registers.import_rsf(
        {"colour": (GOOD / "colour.rsf").read_bytes(), "shade": (GOOD / "shade.rsf").read_bytes()}
    )
    yield built
    built.close()


@pytest.fixture(scope="module")
def registers_schema(platform: Platform) -> Any:
    """The registers service's own OpenAPI document, served by the app under test."""
    app = wrap(create_app(platform), max_body=256 * 1024)
    return schemathesis.openapi.from_asgi("/registers/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_registers_api_conforms_to_its_schema(
    registers_schema: Any, platform: Platform, mode: GenerationMode
) -> None:
    """Every operation answers generated (valid, then invalid) requests within its documented
    responses, and never with a server error: with generated register names (mostly unknown),
    on a register that exists, and on its existing records, entries and proofs, so that the
    requests reach the data."""
    headers = {"Authorization": f"Bearer {platform.admin_token}"}
    failures: list[str] = []
    operations = [result.ok() for result in registers_schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        fixed: list[dict[str, Any] | None] = [None]
        if "name" in names:
            fixed.append({"name": "colour"})
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
                case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

            try:
                check()
            except Unsatisfiable:
                # No request to this operation can break its schema (no free parameters).
                assert mode is GenerationMode.NEGATIVE
            except Exception as exc:  # collected so one run reports every failing operation
                failures.append(f"{operation.label} {path_parameters or ''}: {exc}")
    assert failures == []
