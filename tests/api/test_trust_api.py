"""The trust registry service: what it publishes, that anyone can re-verify it, its admin API."""

from __future__ import annotations

from typing import Any

import pytest

from civicstack._crypto import json_dumps
from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError
from civicstack.trust import RootAuthority, TrustRegistry
from tests.api.conftest import World

BASE = "http://testserver"


def test_root_and_registry_reverify(world: World) -> None:
    """The published statements rebuild, signature by signature, from the root's keys alone."""
    root = world.client.get("/trust/root").json()
    assert root["id"] == f"{BASE}/trust/root"
    assert root["name"] == "HM Government"
    assert world.client.get("/trust/roots").json() == [root]
    published = world.client.get("/trust/registry").json()
    rebuilt = TrustRegistry.from_json(
        json_dumps(published["statements"]), [RootAuthority.from_json(root)]
    )
    now = world.clock.now()
    rebuilt.check_request(f"{BASE}/verifiers/shop", "age_check", {PID_VCT: ["age_over_18"]}, now)
    assert rebuilt.valid_accreditations(f"{BASE}/issuers/passport-office", now)


def test_a_forged_statement_does_not_reverify(world: World) -> None:
    """Re-verifying against another root's keys fails: the statements are bound to the root."""
    from civicstack._crypto import PrivateKey

    published = world.client.get("/trust/registry").json()
    impostor = RootAuthority.create(
        f"{BASE}/trust/root", "Impostor", [PrivateKey.generate("EdDSA").public_key]
    )
    with pytest.raises(CivicError) as err:
        TrustRegistry.from_json(json_dumps(published["statements"]), [impostor])
    assert err.value.code == "invalid_signature"


def test_authorities_relying_parties_and_status_lists(world: World) -> None:
    """Authorities and relying parties are listed with their standing, statements, status lists
    and metadata links."""
    world.issue(PID_VCT, _holder_jwk())
    authorities = {a["name"]: a for a in world.client.get("/trust/authorities").json()}
    hmpo = authorities["passport-office"]
    assert hmpo["standing"] == "valid"
    assert hmpo["accreditations"][0]["type"] == "accreditation"
    assert hmpo["accreditations"][0]["revoked"] is False
    (status_list,) = hmpo["status_lists"]
    assert status_list.startswith(f"{BASE}/issuers/passport-office/status/")
    assert hmpo["metadata"]["openid_credential_issuer"] == (
        f"{BASE}/.well-known/openid-credential-issuer/issuers/passport-office"
    )
    assert world.client.get("/trust/authorities/passport-office").json() == hmpo
    parties = {p["name"]: p for p in world.client.get("/trust/relying-parties").json()}
    assert set(parties) == {
        "employer",
        "shop",
        "landlord",
        "bank",
        # the consent requesters (issue 11)
        "insurer",
        "council",
        "gp-newtown",
        # signing citizens in with one login (issue 14)
        "hmrc",
    }
    assert parties["shop"]["client_id"] == f"verifier_attestation:{BASE}/verifiers/shop"
    assert parties["shop"]["registrations"][0]["purposes"][0]["id"] == "age_check"
    lists = {s["name"]: s for s in world.client.get("/trust/status-lists").json()}
    assert lists["passport-office"]["status_lists"] == hmpo["status_lists"]
    statements = world.client.get("/trust/statements", params={"type": "registration"}).json()
    assert len(statements) == len(parties)
    one = world.client.get(f"/trust/statements/{statements[0]['jti']}").json()
    assert one == statements[0]


def _holder_jwk() -> dict[str, str]:
    from civicstack._crypto import PrivateKey

    return PrivateKey.generate("ES256").public_key.to_jwk()


def test_admin_accredits_registers_suspends_and_revokes(world: World) -> None:
    """Each admin action is a signed statement that changes the standing published."""
    admin = world.admin
    r = world.client.post(
        "/trust/accreditations",
        json={"name": "dvla", "scope": {PID_VCT: ["given_name"]}, "display_name": "DVLA"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["sub"] == f"{BASE}/issuers/dvla"
    r = world.client.post(
        "/trust/registrations",
        json={
            "name": "pub",
            "display_name": "The Red Lion",
            "purposes": [
                {"id": "age", "description": "Serve beer", "claims": {PID_VCT: ["age_over_18"]}}
            ],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert world.client.get("/trust/relying-parties/pub").json()["standing"] == "valid"
    r = world.client.post(
        "/trust/relying-parties/pub/suspension", json={"reason": "licence"}, headers=admin
    )
    assert r.json()["suspended"] is True
    assert (
        world.client.get("/trust/relying-parties/pub").json()["standing"]
        == "relying_party_suspended"
    )
    r = world.client.post("/trust/authorities/dvla/revocation", json={}, headers=admin)
    assert r.status_code == 201
    assert r.json()[0]["type"] == "revocation"
    dvla = world.client.get("/trust/authorities/dvla").json()
    assert dvla["standing"] == "accreditation_revoked"
    assert dvla["accreditations"][0]["revoked"] is True
    again = world.client.post("/trust/authorities/dvla/revocation", json={}, headers=admin)
    assert again.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/trust/accreditations", {"name": "Bad Name", "scope": {}}, "invalid_request"),
        ("/trust/accreditations", {"name": "x", "scope": {"v": "notalist"}}, "invalid_request"),
        (
            "/trust/accreditations",
            {"name": "shop", "scope": {PID_VCT: ["given_name"]}},
            "invalid_request",
        ),
        ("/trust/accreditations", {"name": "x", "scope": {}, "by": "nobody"}, "unknown_authority"),
        ("/trust/registrations", {"name": "x", "purposes": []}, "invalid_request"),
        ("/trust/relying-parties/passport-office/suspension", {}, "invalid_request"),
        ("/trust/relying-parties/nobody/suspension", {}, "unknown_authority"),
        ("/trust/authorities/nobody/revocation", {}, "unknown_authority"),
    ],
)
def test_bad_admin_input(world: World, path: str, body: dict[str, Any], code: str) -> None:
    """Admin input is checked: names, scopes, purposes and targets."""
    r = world.client.post(path, json=body, headers=world.admin)
    assert r.status_code in (400, 403, 404), r.text
    assert r.json()["code"] == code


def test_admin_needs_the_token(world: World) -> None:
    """Admin endpoints answer 401 without the admin token; reading stays public."""
    r = world.client.post("/trust/accreditations", json={"name": "x", "scope": {}})
    assert r.status_code == 401
    assert world.client.get("/trust/authorities").status_code == 200


def test_lookups_of_unknown_things(world: World) -> None:
    """Unknown names and statements are 404; a party of the wrong kind is not_found too."""
    assert world.client.get("/trust/authorities/shop").json()["code"] == "not_found"
    assert world.client.get("/trust/relying-parties/nobody").json()["code"] == "unknown_authority"
    assert world.client.get("/trust/statements/nope").status_code == 404
    assert world.client.get("/trust/statements", params={"type": "bogus"}).status_code == 400
