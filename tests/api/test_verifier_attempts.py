"""A stranger holding the link cannot sink a presentation request: failed answers are attempts.

Anyone with the QR link can fetch the Request Object, read ``state`` and post to the Response
URI (OpenID4VP 1.0 §8.2, §8.5). Until it expires, the request keeps accepting the genuine
wallet's valid answer, and the relying party reads what happened.
"""

from __future__ import annotations

import json
from typing import Any

from civicstack.credential_types import PID_VCT
from civicstack.services.verifier import REQUEST_LIFETIME
from tests.api.conftest import World
from tests.api.spec_wallet import Request, SpecWallet


def _wallet(world: World, *vcts: str) -> SpecWallet:
    wallet = SpecWallet(world.client, world.client.get("/trust/root").json())
    for vct in vcts:
        wallet.credentials.append(world.issue(vct, wallet.key.jwk))
    return wallet


def _stranger_reads(world: World, link: str) -> Request:
    """What anyone who photographed the QR code learns: the request, and its state."""
    return _wallet(world).receive_request(link, now=world.clock.now())


def _post(world: World, form: dict[str, str]) -> Any:
    return world.client.post("/verifier/responses", data=form)


def test_stranger_access_denied_then_the_genuine_answer_is_accepted(world: World) -> None:
    """A stranger posting error=access_denied leaves the request open: the genuine wallet's
    valid answer is accepted (200), and the relying party sees one declined attempt."""
    created = world.request("age_over_18")
    stolen = _stranger_reads(world, created["request"])
    r = _post(world, {"state": str(stolen.state), "error": "access_denied"})
    assert r.status_code == 200, r.text
    holder = _wallet(world, PID_VCT)
    request = holder.receive_request(created["request"], now=world.clock.now())
    r = holder.post(request, holder.present(request, now=world.clock.now()))
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "verified"}
    outcome = world.result(created["id"])
    assert (outcome["status"], outcome["claims"]) == ("verified", {"age_over_18": True})
    assert outcome["attempt_count"] == 1
    (attempt,) = outcome["attempts"]
    assert (attempt["code"], attempt["at"]) == ("consent_declined", world.clock.now())
    assert attempt["detail"].startswith("access_denied")


def test_bad_vp_token_then_the_valid_one_is_accepted(world: World) -> None:
    """A vp_token that does not verify is refused with its code; the valid one that follows
    completes the request, once, and the bad one is listed."""
    holder = _wallet(world, PID_VCT)
    created = world.request("age_over_18")
    request = holder.receive_request(created["request"], now=world.clock.now())
    good = holder.present(request, now=world.clock.now())
    token = json.loads(good["vp_token"])
    bad = {"state": good["state"], "vp_token": json.dumps({"pid": [token["pid"][0] + "x"]})}
    r = holder.post(request, bad)
    assert r.status_code == 400, r.text
    assert holder.post(request, good).status_code == 200
    again = holder.post(request, good)  # single use: a replay is still refused
    assert (again.status_code, again.json()["code"]) == (409, "request_answered")
    outcome = world.result(created["id"])
    assert outcome["status"] == "verified"
    assert outcome["attempt_count"] == 1
    assert outcome["attempts"][0]["code"] == r.json()["code"]


def test_expired_with_only_bad_attempts(world: World) -> None:
    """A request that only ever got bad answers ends expired, its attempts listed."""
    holder = _wallet(world, PID_VCT)
    created = world.request("age_over_18")
    request = holder.receive_request(created["request"], now=world.clock.now())
    assert _post(world, {"state": str(request.state), "error": "access_denied"}).status_code == 200
    request.nonce = "another-nonce-0123456789"
    wrong = holder.post(request, holder.present(request, now=world.clock.now()))
    assert wrong.json()["code"] == "wrong_nonce"
    world.clock.advance(REQUEST_LIFETIME)
    late = _post(world, {"state": str(request.state), "error": "access_denied"})
    assert late.json()["code"] == "expired"
    outcome = world.result(created["id"])
    assert (outcome["status"], outcome["error"]["code"]) == ("expired", "expired")
    assert outcome["attempt_count"] == 2
    assert [a["code"] for a in outcome["attempts"]] == ["consent_declined", "wrong_nonce"]


def test_a_flood_of_attempts_is_counted_not_kept(world: World) -> None:
    """Every failed answer is counted, only the first twenty are kept, each description cut
    short; the request still takes the genuine answer."""
    created = world.request("age_over_18")
    state = str(_stranger_reads(world, created["request"]).state)
    for _ in range(25):
        form = {"state": state, "error": "access_denied", "error_description": "n" * 1024}
        assert _post(world, form).status_code == 200
    holder = _wallet(world, PID_VCT)
    request = holder.receive_request(created["request"], now=world.clock.now())
    assert holder.post(request, holder.present(request, now=world.clock.now())).status_code == 200
    outcome = world.result(created["id"])
    assert outcome["status"] == "verified"
    assert (outcome["attempt_count"], len(outcome["attempts"])) == (25, 20)
    assert all(len(a["detail"]) <= 200 for a in outcome["attempts"])
