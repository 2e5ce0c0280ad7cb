"""The verifier service over HTTP: the OpenID4VP flow, its results, and every refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.services.verifier import REQUEST_LIFETIME
from civicstack.wallet import Wallet
from civicstack.wallet import openid4vp as wallet_vp
from tests.api.conftest import FAST_KDF, ClientTransport, World
from tests.api.spec_wallet import Request, SpecWallet


def _spec_wallet(world: World, *vcts: str) -> SpecWallet:
    root = world.client.get("/trust/root").json()
    wallet = SpecWallet(world.client, root)
    for vct in vcts:
        wallet.credentials.append(world.issue(vct, wallet.key.jwk))
    return wallet


def _answer(world: World, wallet: SpecWallet, preset: str, **extra: Any) -> tuple[str, Request]:
    created = world.request(preset, **extra)
    return created["id"], wallet.receive_request(created["request"], now=world.clock.now())


def _code(response: Any) -> str:
    body = response.json()
    return str(body["code"])


# --- the flow ------------------------------------------------------------------------------------


def test_spec_only_wallet_completes_the_flow(world: World) -> None:
    """A wallet built from the specs alone (httpx + cryptography) fetches the signed request,
    authenticates it with the root's key, presents over direct_post, and the shop's backend
    reads 'over 18' and nothing else."""
    wallet = _spec_wallet(world, PID_VCT)
    request_id, request = _answer(world, wallet, "age_over_18")
    assert request.client_id.startswith("verifier_attestation:")
    assert request.dcql_query["credentials"][0]["meta"]["vct_values"] == [PID_VCT]
    assert world.result(request_id)["status"] == "pending"
    r = wallet.post(request, wallet.present(request, now=world.clock.now()))
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "verified"}
    outcome = world.result(request_id)
    assert outcome["status"] == "verified"
    assert outcome["claims"] == {"age_over_18": True}
    assert outcome["error"] is None
    (pid,) = outcome["credentials"]["pid"]
    assert pid["iss"] == "http://testserver/issuers/passport-office"
    assert pid["vct"] == PID_VCT


def test_request_object_is_a_signed_jar(world: World) -> None:
    """The request_uri serves application/oauth-authz-req+jwt with every parameter the
    protocol needs, and the direct_post response URI the attestation allows."""
    wallet = _spec_wallet(world)
    _, request = _answer(world, wallet, "right_to_work")
    claims = request.claims
    assert claims["response_type"] == "vp_token"
    assert claims["response_mode"] == "direct_post"
    assert claims["response_uri"] == "http://testserver/verifier/responses"
    assert claims["aud"] == "https://self-issued.me/v2"
    assert claims["purpose"] == "right_to_work"
    assert len(claims["nonce"]) >= 22
    assert claims["client_metadata"]["vp_formats_supported"]["dc+sd-jwt"]["kb-jwt_alg_values"]
    assert claims["verifier_info"][0]["format"] == "urn:civicstack:rp-registration+jwt"
    assert claims["exp"] - claims["iat"] == REQUEST_LIFETIME


def test_civicstack_wallet_answers_right_to_work(world: World, tmp_path: Any) -> None:
    """civicstack's own wallet answers the employer over HTTP, with consent and history."""
    wallet = Wallet.create(tmp_path / "w", "a passphrase", kdf=FAST_KDF, clock=world.clock)
    registry = world.platform.trust_registry()
    wallet.add_credential(
        world.issue(RIGHT_TO_WORK_VCT, wallet.holder_key.to_jwk()), trust=registry
    )
    created = world.request("right_to_work")
    transport = ClientTransport(world.client)
    received = wallet_vp.receive(
        created["request"], transport=transport, registry=registry, now=world.clock.now()
    )
    assert received.registration.name == "Acme Ltd"
    seen: list[Any] = []

    def consent(summary: Any) -> bool:
        seen.append(summary)
        return True

    answer = wallet_vp.answer(
        wallet, received, registry=registry, consent=consent, transport=transport
    )
    assert answer.status == 200
    assert [c.path for c in seen[0].items[0].claims] == [
        "family_name",
        "given_name",
        "right_to_work",
        "valid_until",
    ]
    outcome = world.result(created["id"])
    assert outcome["claims"] == {
        "given_name": "Amara",
        "family_name": "Okafor",
        "right_to_work": True,
        "valid_until": "2030-01-01",
    }
    assert wallet.history()[-1].outcome == "presented"


def test_declining_sends_access_denied(world: World, tmp_path: Any) -> None:
    """A holder who declines answers access_denied; the relying party reads a consent_declined
    attempt, and the request stays open (anyone with the link could have sent it)."""
    wallet = Wallet.create(tmp_path / "w", "a passphrase", kdf=FAST_KDF, clock=world.clock)
    registry = world.platform.trust_registry()
    wallet.add_credential(world.issue(PID_VCT, wallet.holder_key.to_jwk()), trust=registry)
    created = world.request("age_over_18")
    transport = ClientTransport(world.client)
    received = wallet_vp.receive(
        created["request"], transport=transport, registry=registry, now=world.clock.now()
    )
    with pytest.raises(Exception, match="declined"):
        wallet_vp.answer(
            wallet, received, registry=registry, consent=lambda _: False, transport=transport
        )
    outcome = world.result(created["id"])
    assert (outcome["status"], outcome["error"]) == ("pending", None)
    assert outcome["attempt_count"] == 1
    assert outcome["attempts"][0]["code"] == "consent_declined"


def test_bank_may_use_the_identity_preset(world: World) -> None:
    """A preset can be made for another relying party registered for its purpose."""
    wallet = _spec_wallet(world, PID_VCT)
    request_id, request = _answer(world, wallet, "identity", relying_party="bank")
    assert request.client_id.endswith("/verifiers/bank")
    r = wallet.post(request, wallet.present(request, now=world.clock.now()))
    assert r.status_code == 200, r.text
    claims = world.result(request_id)["claims"]
    assert set(claims) == {"given_name", "family_name", "birthdate", "address"}


def test_dcql_query_request(world: World) -> None:
    """A relying party can send its own DCQL query within its registration."""
    query = {
        "credentials": [
            {
                "id": "id_card",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [PID_VCT]},
                "claims": [{"path": ["family_name"]}, {"path": ["nationalities", None]}],
            }
        ]
    }
    r = world.client.post(
        "/verifier/requests",
        json={"dcql_query": query, "relying_party": "bank", "purpose": "identity"},
        headers=world.admin,
    )
    assert r.status_code == 201, r.text
    wallet = _spec_wallet(world, PID_VCT)
    request = wallet.receive_request(r.json()["request"], now=world.clock.now())
    posted = wallet.post(request, wallet.present(request, now=world.clock.now()))
    assert posted.status_code == 200, posted.text
    assert world.result(r.json()["id"])["claims"] == {
        "family_name": "Okafor",
        "nationalities": ["GB"],
    }


# --- refusals up front ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"preset": "identity", "relying_party": "shop"}, 403, "overasking"),
        ({"preset": "right_to_work", "relying_party": "landlord"}, 403, "overasking"),
        ({"preset": "age_over_18", "relying_party": "nobody"}, 404, "unknown_authority"),
        ({"preset": "age_over_18", "relying_party": "passport-office"}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
        ({"preset": "nonsense"}, 400, "invalid_request"),
        ({"dcql_query": {"credentials": []}, "relying_party": "bank"}, 400, "invalid_request"),
        (
            {
                "dcql_query": {"credentials": [{"id": "x", "format": "mso_mdoc", "meta": {}}]},
                "relying_party": "bank",
            },
            400,
            "unsupported",
        ),
        (
            {
                "dcql_query": {
                    "credentials": [
                        {
                            "id": "x",
                            "format": "dc+sd-jwt",
                            "meta": {"vct_values": [PID_VCT]},
                            "claims": [{"path": ["birthdate"]}],
                        }
                    ]
                },
                "relying_party": "shop",
            },
            403,
            "overasking",
        ),
        ({"preset": "age_over_18", "extra": 1}, 400, "invalid_request"),
    ],
)
def test_bad_requests_are_refused_up_front(
    world: World, body: dict[str, Any], status: int, code: str
) -> None:
    """Over-asking, unknown or non-RP parties and malformed queries are refused before
    anything is signed or stored."""
    r = world.client.post("/verifier/requests", json=body, headers=world.admin)
    assert (r.status_code, _code(r)) == (status, code)


def test_suspended_relying_party_is_refused_everywhere(world: World) -> None:
    """After a suspension the shop can make no request, its pending request object is no
    longer served, and an answer to it is refused (an attempt); reinstated, it works again."""
    wallet = _spec_wallet(world, PID_VCT)
    request_id, request = _answer(world, wallet, "age_over_18")
    form = wallet.present(request, now=world.clock.now())
    pending = world.request("age_over_18")
    r = world.client.post(
        "/trust/relying-parties/shop/suspension", json={"reason": "fraud"}, headers=world.admin
    )
    assert r.status_code == 201, r.text
    world.clock.advance(2)  # past the verifier's one-second registry cache
    r = world.client.post("/verifier/requests", json={"preset": "age_over_18"}, headers=world.admin)
    assert _code(r) == "relying_party_suspended"
    r = world.client.get(pending["request_uri"])
    assert _code(r) == "relying_party_suspended"
    r = wallet.post(request, form)
    assert r.status_code == 403
    assert r.json()["error"] == "invalid_request"
    assert world.result(request_id)["attempts"][0]["code"] == "relying_party_suspended"
    r = world.client.post("/trust/relying-parties/shop/reinstatement", json={}, headers=world.admin)
    assert r.status_code == 201
    world.clock.advance(2)
    assert world.request("age_over_18")["relying_party"] == "shop"


def test_requests_need_authentication(world: World) -> None:
    """Creating and reading requests needs the admin token or an API key."""
    assert _code(world.client.post("/verifier/requests", json={"preset": "identity"})) == (
        "unauthorized"
    )
    bad = {"Authorization": "Bearer nope"}
    assert world.client.post("/verifier/requests", json={}, headers=bad).status_code == 401
    assert world.client.get("/verifier/requests/abc", headers=bad).status_code == 401


# --- bad answers -----------------------------------------------------------------------------


def _tamper_signature(presentation: str) -> str:
    jwt, rest = presentation.split("~", 1)
    h, p, s = jwt.split(".")
    s = ("A" if s[0] != "A" else "B") + s[1:]
    return f"{h}.{p}.{s}~{rest}"


def _replace_token(form: dict[str, str], change: Any) -> dict[str, str]:
    vp_token = json.loads(form["vp_token"])
    return {
        **form,
        "vp_token": json.dumps({k: [change(v) for v in vs] for k, vs in vp_token.items()}),
    }


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        ("nonce", "wrong_nonce"),
        ("aud", "wrong_audience"),
        ("tamper", "invalid_signature"),
        ("nothing_disclosed", "query_not_satisfied"),
        ("unknown_query", "query_not_satisfied"),
        ("two_presentations", "query_not_satisfied"),
    ],
)
def test_bad_presentations_are_attempts(world: World, mutate: str, code: str) -> None:
    """A response that does not verify is refused with its code; its relying party reads it
    as a failed attempt, and the request stays pending."""
    wallet = _spec_wallet(world, PID_VCT)
    request_id, request = _answer(world, wallet, "age_over_18")
    now = world.clock.now()
    if mutate == "nonce":
        request.nonce = "another-nonce-0123456789"
        form = wallet.present(request, now=now)
    elif mutate == "aud":
        request.client_id = "verifier_attestation:http://testserver/verifiers/landlord"
        form = wallet.present(request, now=now)
    elif mutate == "tamper":
        form = _replace_token(wallet.present(request, now=now), _tamper_signature)
    elif mutate == "nothing_disclosed":
        form = wallet.present(request, now=now, disclose=[])
    elif mutate == "unknown_query":
        token = json.loads(wallet.present(request, now=now)["vp_token"])
        form = {"vp_token": json.dumps({"other": token["pid"]}), "state": str(request.state)}
    else:
        token = json.loads(wallet.present(request, now=now)["vp_token"])
        form = {"vp_token": json.dumps({"pid": token["pid"] * 2}), "state": str(request.state)}
    r = wallet.post(request, form)
    assert r.status_code in (400, 409), r.text
    assert _code(r) == code
    assert r.json()["error"] == "invalid_request"
    outcome = world.result(request_id)
    assert (outcome["status"], outcome["error"]) == ("pending", None)
    assert [a["code"] for a in outcome["attempts"]] == [code]
    assert outcome["claims"] == {}


def test_wrong_credential_type_is_refused(world: World) -> None:
    """A right-to-work credential offered where the query asks for a PID fails the query."""
    wallet = _spec_wallet(world, RIGHT_TO_WORK_VCT)
    request_id, request = _answer(world, wallet, "age_over_18")
    rtw = wallet._presentation(wallet.credentials[0], ["given_name"], request, world.clock.now())
    r = wallet.post(request, {"vp_token": json.dumps({"pid": [rtw]}), "state": str(request.state)})
    assert _code(r) == "query_not_satisfied"
    assert world.result(request_id)["attempts"][0]["code"] == "query_not_satisfied"


def test_missing_required_claim_is_refused(world: World) -> None:
    """A presentation lacking one of the claims asked for fails the query."""
    wallet = _spec_wallet(world, RIGHT_TO_WORK_VCT)
    _, request = _answer(world, wallet, "right_to_work")
    form = wallet.present(request, now=world.clock.now(), disclose=["given_name", "family_name"])
    r = wallet.post(request, form)
    assert _code(r) == "query_not_satisfied"
    assert "right_to_work" in r.json()["detail"]


def test_revoked_credential_is_refused(world: World) -> None:
    """A credential revoked at its issuer is refused at the next answer."""
    wallet = _spec_wallet(world, PID_VCT)
    (record,) = world.platform.authorities.credentials("passport-office")
    world.platform.authorities.set_status(record.id, "revoked")
    world.clock.advance(2)  # past this platform's one-second status list cache
    request_id, request = _answer(world, wallet, "age_over_18")
    r = wallet.post(request, wallet.present(request, now=world.clock.now()))
    assert _code(r) == "revoked"
    assert world.result(request_id)["attempts"][0]["code"] == "revoked"


def test_a_request_is_answered_once(world: World) -> None:
    """A second answer to an answered request is request_answered; the outcome stands."""
    wallet = _spec_wallet(world, PID_VCT)
    request_id, request = _answer(world, wallet, "age_over_18")
    form = wallet.present(request, now=world.clock.now())
    assert wallet.post(request, form).status_code == 200
    again = wallet.post(request, form)
    assert (again.status_code, _code(again)) == (409, "request_answered")
    fresh = wallet.post(request, wallet.present(request, now=world.clock.now()))
    assert _code(fresh) == "request_answered"
    assert world.result(request_id)["status"] == "verified"
    assert _code(world.client.get(f"/verifier/request-objects/{request_id}")) == "request_answered"


def test_expired_request(world: World) -> None:
    """An unanswered request expires: its object is gone, answers are refused, and the relying
    party reads expired."""
    wallet = _spec_wallet(world, PID_VCT)
    request_id, request = _answer(world, wallet, "age_over_18")
    form = wallet.present(request, now=world.clock.now())
    world.clock.advance(REQUEST_LIFETIME)
    assert _code(world.client.get(f"/verifier/request-objects/{request_id}")) == "expired"
    assert _code(wallet.post(request, form)) == "expired"
    outcome = world.result(request_id)
    assert (outcome["status"], outcome["error"]["code"]) == ("expired", "expired")


@pytest.mark.parametrize(
    ("form", "content_type", "status", "code"),
    [
        ({"state": "unknown-state-value-000", "vp_token": "{}"}, None, 400, "invalid_request"),
        ({"state": "unknown-state-value-000", "error": "access_denied"}, None, 404, "not_found"),
        ({"vp_token": '{"pid": ["x"]}'}, None, 400, "invalid_request"),
        ({"state": "bad state!", "vp_token": "{}"}, None, 400, "invalid_request"),
        ({"state": "s" * 22, "error": "made_up"}, None, 400, "invalid_request"),
        ({"state": "s" * 22}, None, 400, "invalid_request"),
        ({"state": "s" * 22, "vp_token": "[1]"}, None, 400, "invalid_request"),
        ({"state": "s" * 22, "vp_token": '{"a": [1]}'}, None, 400, "invalid_request"),
        ({"state": "s" * 22, "vp_token": "{"}, None, 400, "invalid_request"),
        ({"state": "s" * 22, "vp_token": "{}"}, "application/json", 400, "invalid_request"),
    ],
)
def test_malformed_responses(
    world: World, form: dict[str, str], content_type: str | None, status: int, code: str
) -> None:
    """Malformed or unknown responses are refused with a code and store nothing."""
    if content_type is None:
        r = world.client.post("/verifier/responses", data=form)
    else:
        r = world.client.post(
            "/verifier/responses", content=json.dumps(form), headers={"content-type": content_type}
        )
    assert (r.status_code, _code(r)) == (status, code)


def test_duplicate_form_fields_are_refused(world: World) -> None:
    """A response naming state twice is refused: one value per name."""
    r = world.client.post(
        "/verifier/responses",
        content="state=aaaaaaaaaaaaaaaaaaaaaa&state=bbbbbbbbbbbbbbbbbbbbbb&vp_token=%7B%7D",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert (r.status_code, _code(r)) == (400, "invalid_request")


def test_unknown_request_object(world: World) -> None:
    """An unknown or malformed request id is not_found / invalid_request, never a 500."""
    assert world.client.get("/verifier/request-objects/nope").status_code == 404
    assert world.client.get("/verifier/request-objects/%00").status_code == 400
    assert world.client.get("/verifier/requests/nope", headers=world.admin).status_code == 404


def test_pending_request_survives_a_restart(world: World) -> None:
    """A pending request is in the database: a new platform process serves and completes it."""
    from tests.api.conftest import make_world

    wallet = _spec_wallet(world, PID_VCT)
    created = world.request("age_over_18")
    world.platform.close()
    again = make_world(
        world.platform.settings.database_url, world.platform.settings.data_dir, world.clock
    )
    with again.client:
        wallet.http = again.client
        request = wallet.receive_request(created["request"], now=world.clock.now())
        r = wallet.post(request, wallet.present(request, now=world.clock.now()))
        assert r.status_code == 200, r.text
        assert again.result(created["id"])["status"] == "verified"
    again.platform.close()
