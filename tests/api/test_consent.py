"""The consent service over HTTP, on SQLite and PostgreSQL: a request, the citizen's signed
answer bound to a PID presentation, coverage, withdrawal, and the hostile inputs around them."""

from __future__ import annotations

from typing import Any

import pytest

from civicstack._crypto import PrivateKey, sign_jwt
from civicstack.consent import (
    CONSENT_TYP,
    WITHDRAWAL_TYP,
    ConsentRecord,
    ConsentRequest,
    consent_claims,
    withdrawal_claims,
)
from civicstack.credential_types import PID_VCT
from civicstack.credentials import present_credential
from civicstack.demo.story import AMARA as AMARA_PID
from civicstack.errors import CivicError
from civicstack.pairwise import ACCESS_LOG_SECTOR, Subject
from tests.api.conftest import World

AMARA = Subject("GB", "QQ123456C")
SOMEONE_ELSE = Subject("GB", "ZZ999999Z")
PID_CLAIMS = ["personal_administrative_number", "issuing_country"]
DRIVING = ["dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"]


class Citizen:
    """Amara's wallet, reduced to what the consent service sees: a PID and its key."""

    def __init__(self, world: World, key: PrivateKey | None = None) -> None:
        self.world = world
        self.key = key or PrivateKey.generate()
        self.pid = world.issue(PID_VCT, self.key.public_key.to_jwk())

    def proof(self, key: PrivateKey | None = None) -> dict[str, str]:
        """A fresh nonce from the service and a PID presentation with it."""
        got = self.world.client.post("/consents/nonces")
        assert got.status_code == 201, got.text
        nonce, aud = got.json()["nonce"], got.json()["aud"]
        presentation = present_credential(
            self.pid,
            disclose=PID_CLAIMS,
            holder=key or self.key,
            aud=aud,
            nonce=nonce,
            now=self.world.clock.now(),
        )
        return {"presentation": presentation, "nonce": nonce, "aud": aud}

    def answer(
        self, request: dict[str, Any], decision: str = "given", **change: Any
    ) -> tuple[dict[str, str], Any]:
        """Answer ``request``: the PID proof and a signed consent (``change`` forges parts)."""
        proof = self.proof()
        claims = consent_claims(
            ConsentRequest.from_json(request),
            decision,  # type: ignore[arg-type]
            aud=proof["aud"],
            nonce=proof["nonce"],
            iat=self.world.clock.now(),
        )
        claims.update(change.pop("claims", {}))
        signer = change.pop("key", self.key)
        typ = change.pop("typ", CONSENT_TYP)
        consent = change.pop("consent", None) or sign_jwt(signer, claims, {"typ": typ})
        body = {"presentation": proof["presentation"], "nonce": proof["nonce"], "consent": consent}
        body.update(change)
        r = self.world.client.post(f"/consents/requests/{request['id']}/answer", json=body)
        return proof, r


def ask(world: World, subject: Subject = AMARA, **change: Any) -> Any:
    """The insurer asks (as the admin acting for it) for Amara's driving record."""
    body: dict[str, Any] = {
        "requester": "insurer",
        "subject": world.platform.pairwise_id("insurer", subject),
        "provider": "dvla",
        "purpose": "insurance_quote",
        "categories": DRIVING,
        "valid_days": 30,
    }
    body.update(change)
    return world.client.post("/consents/requests", json=body, headers=world.admin)


def code(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["code"])


def test_a_consent_is_asked_given_covered_and_withdrawn(world: World) -> None:
    """The whole life of a consent: asked, in the inbox, given (signed by the PID's key),
    covering a fetch within it, not one beyond it, and withdrawn at once."""
    asked = ask(world)
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["state"] == "pending"
    assert request["categories"] == sorted(DRIVING)
    amara = Citizen(world)
    proof = amara.proof()
    inbox = world.client.post(
        "/consents/inbox", json={"presentation": proof["presentation"], "nonce": proof["nonce"]}
    )
    assert inbox.status_code == 200, inbox.text
    assert [r["id"] for r in inbox.json()["pending"]] == [request["id"]]
    consents = world.platform.consents
    log_subject = world.platform.pairwise_id(ACCESS_LOG_SECTOR, AMARA)
    assert consents.log_subject_for("insurer", request["subject"]) == log_subject

    _, given = amara.answer(request)
    assert given.status_code == 201, given.text
    record = given.json()
    assert record["state"] == "given"
    assert record["status_term"] == "dpv:ConsentGiven"
    assert record["legal_basis"] == "dpv:Consent"
    assert record["subjects"]["provider"] == world.platform.pairwise_id("dvla", AMARA)
    assert record["subjects"]["access_log"] == log_subject
    # the request is closed: a second answer is refused
    _, again = amara.answer(request)
    assert again.status_code == 409
    assert code(again) == "consent_request_closed"

    now = world.clock.now()
    covered = consents.check_access(
        record["id"],
        requester="insurer",
        requester_subject=request["subject"],
        provider="dvla",
        purpose="insurance_quote",
        categories=["dpv-pd:VehicleUsage"],
        now=now,
    )
    assert covered.provider_subject == record["subjects"]["provider"]
    assert covered.log_subject == log_subject
    assert not covered.once
    with pytest.raises(CivicError) as beyond:
        consents.check_access(
            record["id"],
            requester="insurer",
            requester_subject=request["subject"],
            provider="dvla",
            purpose="insurance_quote",
            categories=["dpv-pd:CriminalConviction"],
            now=now,
        )
    assert beyond.value.code == "outside_consent"
    checked = world.client.post(
        "/consents/check",
        json={
            "consent_id": record["id"],
            "requester": "insurer",
            "requester_subject": request["subject"],
            "provider": "dvla",
            "purpose": "insurance_quote",
            "categories": DRIVING,
        },
        headers=world.admin,
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["covered"] is True

    # withdrawn with the same key, effective at once
    stored = consents.store.latest(record["id"])
    withdrawal = sign_jwt(
        amara.key,
        withdrawal_claims(stored, aud=consents.audience, iat=now),
        {"typ": WITHDRAWAL_TYP},
    )
    out = world.client.post(
        f"/consents/records/{record['id']}/withdraw", json={"withdrawal": withdrawal}
    )
    assert out.status_code == 200, out.text
    assert out.json()["state"] == "withdrawn"
    assert out.json()["version"] == 2
    with pytest.raises(CivicError) as gone:
        consents.check_access(
            record["id"],
            requester="insurer",
            requester_subject=request["subject"],
            provider="dvla",
            purpose="insurance_quote",
            categories=DRIVING,
            now=now,
        )
    assert gone.value.code == "consent_not_active"
    replay = world.client.post(
        f"/consents/records/{record['id']}/withdraw", json={"withdrawal": withdrawal}
    )
    assert replay.status_code == 403
    assert code(replay) == "consent_not_active"
    versions = world.client.get(f"/consents/records/{record['id']}", headers=world.admin)
    assert [v["state"] for v in versions.json()["versions"]] == ["given", "withdrawn"]
    listed = world.client.get("/consents/records?requester=insurer", headers=world.admin)
    assert [r["id"] for r in listed.json()] == [record["id"]]


def test_a_once_consent_covers_one_access(world: World) -> None:
    """A consent for one access is used up by the first covered access."""
    request = ask(world, once=True).json()
    _, given = Citizen(world).answer(request)
    record = given.json()
    assert record["frequency"] == "once"
    access: dict[str, Any] = {
        "requester": "insurer",
        "requester_subject": request["subject"],
        "provider": "dvla",
        "purpose": "insurance_quote",
        "categories": DRIVING,
        "now": world.clock.now(),
    }
    assert world.platform.consents.check_access(record["id"], **access).once
    with pytest.raises(CivicError) as used:
        world.platform.consents.check_access(record["id"], **access)
    assert used.value.code == "consent_not_active"


def test_a_refusal_is_recorded_and_covers_nothing(world: World) -> None:
    """Refusing makes a refused record; it covers no access."""
    request = ask(world).json()
    _, refused = Citizen(world).answer(request, "refused")
    assert refused.status_code == 201
    assert refused.json()["state"] == "refused"
    with pytest.raises(CivicError) as err:
        world.platform.consents.check_access(
            refused.json()["id"],
            requester="insurer",
            requester_subject=request["subject"],
            provider="dvla",
            purpose="insurance_quote",
            categories=DRIVING,
            now=world.clock.now(),
        )
    assert err.value.code == "consent_not_active"


def test_requests_stay_within_the_registration(world: World) -> None:
    """Unregistered purposes, other providers and extra categories are overasking; unknown
    categories, bad subjects and no credentials are refused."""
    assert code(ask(world, purpose="marketing")) == "overasking"
    assert code(ask(world, provider="hmrc")) == "overasking"
    assert code(ask(world, categories=["dpv-pd:HealthRecord"])) == "overasking"
    assert code(ask(world, categories=["dpv-pd:Nope"])) == "invalid_request"
    assert code(ask(world, subject=AMARA, requester="shop")) == "overasking"
    assert ask(world, categories=["dpv-pd:Tax"] * 65).status_code == 400
    bad_subject = world.client.post(
        "/consents/requests",
        json={
            "requester": "insurer",
            "subject": "x",
            "provider": "dvla",
            "purpose": "insurance_quote",
            "categories": DRIVING,
        },
        headers=world.admin,
    )
    assert code(bad_subject) == "invalid_request"
    anonymous = world.client.post("/consents/requests", json={})
    assert anonymous.status_code in (400, 401)
    nobody = world.client.get("/consents/requests", headers={"Authorization": "Bearer cvk.x.y"})
    assert code(nobody) == "unauthorized"


def test_an_api_key_acts_only_for_its_requester(world: World) -> None:
    """A requester's verifier API key makes and reads its own requests, not another's."""
    _, key = world.platform.verifier.issue_api_key("insurer")
    headers = {"Authorization": f"Bearer {key}"}
    body = {
        "subject": world.platform.pairwise_id("insurer", AMARA),
        "provider": "dvla",
        "purpose": "insurance_quote",
        "categories": DRIVING,
    }
    made = world.client.post("/consents/requests", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert world.client.get(f"/consents/requests/{made.json()['id']}", headers=headers).is_success
    other = world.client.post(
        "/consents/requests", json={**body, "requester": "council"}, headers=headers
    )
    assert code(other) == "forbidden"
    _, council = world.platform.verifier.issue_api_key("council")
    theirs = world.client.get(
        f"/consents/requests/{made.json()['id']}", headers={"Authorization": f"Bearer {council}"}
    )
    assert code(theirs) == "not_found"


def test_a_suspended_requester_cannot_ask(world: World) -> None:
    """A suspended relying party's requests are refused."""
    world.platform.authorities.suspend("insurer", reason="under investigation")
    assert code(ask(world)) == "relying_party_suspended"


def test_hostile_answers_are_refused(world: World) -> None:
    """Malformed JWS, wrong typ, another key, a forged request, a replayed or stale nonce, a
    forged subject, an oversize body: each refused with its code, nothing recorded."""
    request = ask(world).json()
    amara = Citizen(world)
    assert code(amara.answer(request, consent="not.a.jws")[1]) == "invalid_consent"
    assert code(amara.answer(request, consent="x" * 20_000)[1]) == "too_large"
    assert code(amara.answer(request, typ="JWT")[1]) == "invalid_consent"
    assert code(amara.answer(request, key=PrivateKey.generate())[1]) == "invalid_signature"
    forged = amara.answer(request, claims={"categories": ["dpv-pd:VehicleLicense"]})[1]
    assert code(forged) == "invalid_consent"
    stale_iat = amara.answer(request, claims={"iat": world.clock.now() - 3600})[1]
    assert code(stale_iat) == "invalid_consent"
    # a nonce is used once
    proof, _ = amara.answer(request, typ="JWT")
    replay = world.client.post(
        "/consents/inbox", json={"presentation": proof["presentation"], "nonce": proof["nonce"]}
    )
    assert replay.status_code == 409
    assert code(replay) == "replayed"
    unknown = world.client.post(
        "/consents/inbox", json={"presentation": proof["presentation"], "nonce": "nope"}
    )
    assert code(unknown) == "unknown_nonce"
    # a nonce goes stale
    fresh = amara.proof()
    world.clock.advance(301)
    stale = world.client.post(
        "/consents/inbox", json={"presentation": fresh["presentation"], "nonce": fresh["nonce"]}
    )
    assert code(stale) == "stale_nonce"
    # someone else's PID cannot answer Amara's request
    other = world.platform.authorities.issue(
        "passport-office",
        vct=PID_VCT,
        claims={**AMARA_PID, "personal_administrative_number": "ZZ999999Z"},
        holder=amara.key.public_key,
    ).credential
    mallory = Citizen.__new__(Citizen)
    mallory.world, mallory.key, mallory.pid = world, amara.key, other
    assert code(mallory.answer(request)[1]) == "wrong_subject"
    # a presentation made to another audience
    nonce = world.client.post("/consents/nonces").json()["nonce"]
    elsewhere = present_credential(
        amara.pid,
        disclose=PID_CLAIMS,
        holder=amara.key,
        aud="https://rp.example",
        nonce=nonce,
        now=world.clock.now(),
    )
    wrong_aud = world.client.post(
        "/consents/inbox", json={"presentation": elsewhere, "nonce": nonce}
    )
    assert code(wrong_aud) == "wrong_audience"
    huge = world.client.post("/consents/inbox", json={"presentation": "x" * 200_000, "nonce": "n"})
    assert huge.status_code == 413
    malformed = world.client.post(
        "/consents/inbox", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    # nothing was recorded: the request still waits, and Amara can still answer it
    assert (
        world.client.get(f"/consents/requests/{request['id']}", headers=world.admin).json()["state"]
        == "pending"
    )
    assert amara.answer(request)[1].status_code == 201


def test_withdrawal_by_a_new_pid_presentation(world: World) -> None:
    """A wallet that lost the consent's key withdraws with a fresh PID presentation of the same
    citizen; another citizen's cannot, nor a withdrawal signed by another key."""
    request = ask(world).json()
    amara = Citizen(world)
    record = amara.answer(request)[1].json()
    consents = world.platform.consents
    stored: ConsentRecord = consents.store.latest(record["id"])
    new_key = PrivateKey.generate()
    amara_again = Citizen(world, new_key)
    claims = withdrawal_claims(stored, aud=consents.audience, iat=world.clock.now())
    by_new_key = sign_jwt(new_key, claims, {"typ": WITHDRAWAL_TYP})
    # without a presentation, the new key is not the consent's
    lost = world.client.post(
        f"/consents/records/{record['id']}/withdraw", json={"withdrawal": by_new_key}
    )
    assert code(lost) == "invalid_signature"
    proof = amara_again.proof()
    out = world.client.post(
        f"/consents/records/{record['id']}/withdraw",
        json={
            "withdrawal": by_new_key,
            "presentation": proof["presentation"],
            "nonce": proof["nonce"],
        },
    )
    assert out.status_code == 200, out.text
    assert out.json()["state"] == "withdrawn"
    missing = world.client.post("/consents/records/nope/withdraw", json={"withdrawal": by_new_key})
    assert code(missing) == "consent_not_found"
