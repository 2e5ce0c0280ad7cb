"""Presentation results at rest: sealed, handed to the relying party once, purged unread."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from civicstack.credential_types import RIGHT_TO_WORK_VCT
from civicstack.errors import CivicError
from civicstack.settings import Settings
from tests.api.conftest import World
from tests.api.spec_wallet import SpecWallet

RETENTION = 600  # the default of CIVIC_VERIFIER_RESULT_RETENTION


def _row_bytes(world: World, request_id: str) -> bytes:
    """Every value of the request's row as the database holds it."""
    with world.platform.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT * FROM presentation_requests WHERE id = :id"), {"id": request_id}
        ).all()
    assert rows
    return b"|".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
        for row in rows
        for v in row
    )


def _sealed(world: World, request_id: str) -> Any:
    with world.platform.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT result_sealed FROM presentation_requests WHERE id = :id"),
            {"id": request_id},
        ).scalar_one()


def _right_to_work_checked(world: World) -> str:
    root = world.client.get("/trust/root").json()
    wallet = SpecWallet(world.client, root)
    wallet.credentials.append(world.issue(RIGHT_TO_WORK_VCT, wallet.key.jwk))
    created = world.request("right_to_work")
    request = wallet.receive_request(created["request"], now=world.clock.now())
    r = wallet.post(request, wallet.present(request, now=world.clock.now()))
    assert r.status_code == 200, r.text
    return str(created["id"])


def test_result_is_sealed_at_rest(world: World) -> None:
    """After a right-to-work check the database row holds no disclosed claim value: the result
    is sealed until its relying party fetches it."""
    request_id = _right_to_work_checked(world)
    raw = _row_bytes(world, request_id)
    for value in (b"Amara", b"Okafor", b"2030-01-01"):  # the names asked are in the query
        assert value not in raw
    assert _sealed(world, request_id) is not None
    outcome = world.result(request_id)
    assert outcome["claims"]["given_name"] == "Amara"


def test_result_is_handed_over_once(world: World) -> None:
    """The first fetch reads the claims and deletes them; a second fetch is 410
    result_fetched, not the data; the outcome's metadata stays in the row."""
    request_id = _right_to_work_checked(world)
    first = world.result(request_id)
    assert (first["status"], first["claims"]["family_name"]) == ("verified", "Okafor")
    assert _sealed(world, request_id) is None
    again = world.client.get(f"/verifier/requests/{request_id}", headers=world.admin)
    assert (again.status_code, again.json()["code"]) == (410, "result_fetched")
    assert "Okafor" not in again.text
    with world.platform.engine.connect() as conn:
        status, answered_at, fetched_at = conn.execute(
            sa.text(
                "SELECT status, answered_at, result_fetched_at FROM presentation_requests "
                "WHERE id = :id"
            ),
            {"id": request_id},
        ).one()
    assert (status, answered_at, fetched_at) == ("verified", world.clock.now(), world.clock.now())


def test_unread_result_is_purged_after_its_retention(world: World) -> None:
    """A result nobody fetched is deleted once its retention has passed (the clock advanced),
    by the verifier's purge; reading it then is 410 result_purged."""
    request_id = _right_to_work_checked(world)
    other = world.request("age_over_18")
    world.clock.advance(RETENTION - 1)
    world.result(other["id"])  # polling a request runs the purge
    assert _sealed(world, request_id) is not None
    world.clock.advance(61)  # the purge runs at most once a minute
    world.result(other["id"])
    assert _sealed(world, request_id) is None
    assert b"Amara" not in _row_bytes(world, request_id)
    r = world.client.get(f"/verifier/requests/{request_id}", headers=world.admin)
    assert (r.status_code, r.json()["code"]) == (410, "result_purged")


def test_result_past_its_retention_is_not_handed_over(world: World) -> None:
    """Read after its retention, before any purge ran, a result is purged, not handed over."""
    request_id = _right_to_work_checked(world)
    world.clock.advance(RETENTION)
    r = world.client.get(f"/verifier/requests/{request_id}", headers=world.admin)
    assert (r.status_code, r.json()["code"]) == (410, "result_purged")
    assert _sealed(world, request_id) is None


def test_retention_setting() -> None:
    """CIVIC_VERIFIER_RESULT_RETENTION is a number of seconds (default 600), nothing else."""
    assert Settings.from_env({}).verifier_result_retention == RETENTION
    env = {"CIVIC_VERIFIER_RESULT_RETENTION": "30"}
    assert Settings.from_env(env).verifier_result_retention == 30
    for bad in ("0", "-5", "1.5", "ten", "9" * 5000, "2592001", "１０"):
        with pytest.raises(CivicError) as err:
            Settings.from_env({"CIVIC_VERIFIER_RESULT_RETENTION": bad})
        assert err.value.code == "invalid_request"
