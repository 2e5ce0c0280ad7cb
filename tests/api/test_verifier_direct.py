"""POST /verifier/verify: a relying party's backend checks a presentation it received elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from civicstack.credential_types import PID_VCT
from civicstack.testing import FixedClock
from tests.api.conftest import World, make_world
from tests.api.spec_wallet import Request, SpecWallet

NONCE = "backend-nonce-0123456789"


def _presentation(world: World, wallet: SpecWallet, *, nonce: str = NONCE, aud: str | None = None,
                  names: tuple[str, ...] = ("age_over_18",)) -> str:  # fmt: skip
    request = Request(
        client_id=aud or "verifier_attestation:http://testserver/verifiers/shop",
        response_uri="",
        nonce=nonce,
        state=None,
        dcql_query={},
        claims={},
    )
    return wallet._presentation(wallet.credentials[0], list(names), request, world.clock.now())


@pytest.fixture
def wallet(world: World) -> SpecWallet:
    """A spec-only wallet holding a PID."""
    w = SpecWallet(world.client, world.client.get("/trust/root").json())
    w.credentials.append(world.issue(PID_VCT, w.key.jwk))
    return w


def _key(world: World, name: str) -> dict[str, str]:
    r = world.client.post(f"/verifier/relying-parties/{name}/api-keys", headers=world.admin)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


def _verify(world: World, headers: dict[str, str], **body: Any) -> Any:
    return world.client.post("/verifier/verify", json=body, headers=headers)


def test_api_key_verifies_and_replay_is_refused(world: World, wallet: SpecWallet) -> None:
    """The shop's API key verifies a presentation once; the same one again is replayed."""
    shop = _key(world, "shop")
    presentation = _presentation(world, wallet)
    r = _verify(world, shop, presentation=presentation, nonce=NONCE, preset="age_over_18")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verified"] is True
    assert body["claims"] == {"age_over_18": True}
    assert body["relying_party"] == "shop"
    again = _verify(world, shop, presentation=presentation, nonce=NONCE)
    assert (again.status_code, again.json()["code"]) == (409, "replayed")
    # A new KB-JWT over the same credential is a new presentation.
    fresh = _presentation(world, wallet, nonce="another-nonce-98765432")
    assert (
        _verify(world, shop, presentation=fresh, nonce="another-nonce-98765432").status_code == 200
    )


def test_admin_acts_for_a_named_relying_party(world: World, wallet: SpecWallet) -> None:
    """The admin token must name the relying party; the default aud is its client_id."""
    presentation = _presentation(world, wallet)
    r = _verify(world, world.admin, presentation=presentation, nonce=NONCE)
    assert r.json()["code"] == "invalid_request"
    r = _verify(world, world.admin, presentation=presentation, nonce=NONCE, relying_party="shop")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"nonce": "not-the-nonce-0000000"}, "wrong_nonce"),
        ({"aud": "verifier_attestation:http://testserver/verifiers/bank"}, "wrong_audience"),
        ({"preset": "right_to_work"}, "query_not_satisfied"),
        ({"preset": "identity"}, "query_not_satisfied"),
        ({"presentation": "not.an.sd-jwt"}, "malformed"),
        ({"presentation": 7}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"preset": "bogus"}, "invalid_request"),
        ({"relying_party": "bank"}, "forbidden"),
        ({"unknown": 1}, "invalid_request"),
        ({"dcql_query": {"credentials": "x"}}, "invalid_request"),
    ],
)
def test_bad_verifications(
    world: World, wallet: SpecWallet, change: dict[str, Any], code: str
) -> None:
    """Wrong nonce or audience, unanswered queries and malformed bodies get their own code."""
    shop = _key(world, "shop")
    body: dict[str, Any] = {"presentation": _presentation(world, wallet), "nonce": NONCE, **change}
    r = world.client.post("/verifier/verify", json=body, headers=shop)
    assert r.status_code in (400, 403, 409), r.text
    assert r.json()["code"] == code


def test_revoked_and_suspended(world: World, wallet: SpecWallet) -> None:
    """A revoked credential is refused; a suspended relying party may verify nothing."""
    shop = _key(world, "shop")
    (record,) = world.platform.authorities.credentials("passport-office")
    world.platform.authorities.set_status(record.id, "revoked")
    world.clock.advance(2)
    r = _verify(world, shop, presentation=_presentation(world, wallet), nonce=NONCE)
    assert r.json()["code"] == "revoked"
    world.platform.authorities.suspend("shop", reason="test")
    world.clock.advance(2)
    r = _verify(
        world, shop, presentation=_presentation(world, wallet, nonce="n" * 20), nonce="n" * 20
    )
    assert (r.status_code, r.json()["code"]) == (403, "relying_party_suspended")


def test_api_keys_are_scoped_and_revocable(world: World, wallet: SpecWallet) -> None:
    """An API key reads only its relying party's requests and stops working once revoked."""
    shop = _key(world, "shop")
    landlord_request = world.request("identity")
    r = world.client.get(f"/verifier/requests/{landlord_request['id']}", headers=shop)
    assert r.status_code == 404
    mine = world.client.post("/verifier/requests", json={"preset": "age_over_18"}, headers=shop)
    assert mine.status_code == 201
    assert (
        world.client.get(f"/verifier/requests/{mine.json()['id']}", headers=shop).status_code == 200
    )
    listed = world.client.get("/verifier/relying-parties/shop/api-keys", headers=world.admin).json()
    (key,) = listed
    assert "api_key" not in key
    assert (
        world.client.delete(f"/verifier/api-keys/{key['id']}", headers=world.admin).status_code
        == 204
    )
    r = _verify(world, shop, presentation=_presentation(world, wallet), nonce=NONCE)
    assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
    assert (
        world.client.delete(f"/verifier/api-keys/{key['id']}", headers=world.admin).status_code
        == 404
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cvk.0000000000000000.nothing",
        "Bearer cvk..",
        "Bearer cvk",
        "Bearer wrong-admin-token",
        "Basic abc",
    ],
)
def test_bad_credentials_are_unauthorized(world: World, header: str) -> None:
    """Unknown API keys, wrong tokens and other schemes are 401."""
    r = world.client.post(
        "/verifier/verify",
        json={"presentation": "x", "nonce": "y"},
        headers={"Authorization": header},
    )
    assert (r.status_code, r.json()["code"]) == (401, "unauthorized")


def test_admin_endpoints_need_the_admin_token(world: World) -> None:
    """An API key cannot issue API keys."""
    shop = _key(world, "shop")
    assert (
        world.client.post("/verifier/relying-parties/shop/api-keys", headers=shop).status_code
        == 401
    )
    assert world.client.post("/verifier/relying-parties/shop/api-keys").status_code == 401
    r = world.client.post("/verifier/relying-parties/nobody/api-keys", headers=world.admin)
    assert r.json()["code"] == "unknown_authority"


def test_the_documented_route_answers_like_the_fast_path(world: World, wallet: SpecWallet) -> None:
    """Without the fast path (the app as mounted, unwrapped) POST /verifier/verify verifies,
    refuses and documents alike."""
    from fastapi.testclient import TestClient

    shop = _key(world, "shop")
    with TestClient(world.platform_app, raise_server_exceptions=False) as plain:
        presentation = _presentation(world, wallet)
        body = {"presentation": presentation, "nonce": NONCE}
        r = plain.post("/verifier/verify", json=body, headers=shop)
        assert r.status_code == 200, r.text
        fast = world.client.post("/verifier/verify", json=body, headers=shop)
        assert (fast.status_code, fast.json()["code"]) == (409, "replayed")
        bad = plain.post("/verifier/verify", json={**body, "nonce": "x" * 20}, headers=shop)
        assert bad.json()["code"] == "wrong_nonce"
        assert (
            plain.post("/verifier/verify", content=b"{", headers=shop).json()["code"] == "malformed"
        )
        spec = plain.get("/verifier/openapi.json").json()
        assert spec["paths"]["/verify"]["post"]["requestBody"]["content"]["application/json"]


def test_the_fast_path_never_leaks_a_bug() -> None:
    """A bug behind the fast path is a logged internal_error problem, and other requests pass
    through to the app."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from civicstack.api.verifier import FastVerify

    class Broken:
        @property
        def verifier(self) -> Any:
            raise RuntimeError("a bug")

    inner = FastAPI()

    @inner.get("/other")
    def other() -> dict[str, str]:
        return {"passed": "through"}

    app = FastVerify(inner, Broken())  # type annotations aside, only .verifier is read
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/verifier/verify", json={})
        assert (r.status_code, r.json()["code"]) == (500, "internal_error")
        assert "a bug" not in r.text
        assert client.get("/other").json() == {"passed": "through"}
        assert client.get("/verifier/verify").status_code == 404  # only POST is the fast path


def test_a_lowered_presentation_cap_reaches_verify(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """CIVIC_LIMIT_VERIFIER_PRESENTATION_BYTES below a presentation's size refuses it as 413
    too_large, the code of the default cap (the default platform verifies the same kind)."""
    lowered = make_world(
        database_url, tmp_path, clock, {"CIVIC_LIMIT_VERIFIER_PRESENTATION_BYTES": "512"}
    )
    with lowered.client:
        wallet = SpecWallet(lowered.client, lowered.client.get("/trust/root").json())
        wallet.credentials.append(lowered.issue(PID_VCT, wallet.key.jwk))
        presentation = _presentation(lowered, wallet)
        assert len(presentation) > 512
        shop = _key(lowered, "shop")
        r = _verify(lowered, shop, presentation=presentation, nonce=NONCE, preset="age_over_18")
        assert (r.status_code, r.json()["code"]) == (413, "too_large")
    lowered.platform.close()
