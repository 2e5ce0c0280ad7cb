"""The OpenID4VCI issuers over HTTP, on SQLite and PostgreSQL: metadata, offers, token, nonce,
credential, deferred and notification endpoints, applications, the admin API, bad inputs."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from civicstack._crypto import PrivateKey, b64url_encode, json_dumps, sign_compact
from civicstack.api.app import create_app
from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.credentials import inspect, present_credential
from civicstack.demo.world import seed_demo_world
from civicstack.errors import CivicError
from civicstack.openid4vci.offers import PRE_AUTHORIZED_GRANT, parse_offer_uri
from civicstack.openid4vci.proofs import PROOF_TYP
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import FixedClock
from tests.api.issuers_client import AMARA, BASE, PO, Api

RTW = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "right_to_work": True,
    "share_code": "W12345678",
}
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The platform app with the demo world, in-process, on each database."""
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(tmp_path),
            "CIVIC_DATABASE_URL": database_url,
            "CIVIC_BASE_URL": BASE,
        }
    )
    platform = Platform(settings, clock=FixedClock())
    platform.migrate()
    seed_demo_world(platform)
    with TestClient(create_app(platform), raise_server_exceptions=False) as client:
        yield Api(client, platform)
    platform.close()


def _error(response: Any, status: int, code: str, oauth: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code
    if oauth is not None:
        assert body["error"] == oauth
        assert response.headers["cache-control"] == "no-store"
    return body


# --- metadata ------------------------------------------------------------------------------------


def test_credential_issuer_metadata_is_at_the_well_known_location(api: Api) -> None:
    """§12.2.2: /.well-known/openid-credential-issuer/issuers/NAME names the same identifier
    and the endpoints under it, with one configuration per accredited vct."""
    r = api.client.get("/.well-known/openid-credential-issuer/issuers/passport-office")
    assert r.status_code == 200
    md = r.json()
    assert md["credential_issuer"] == PO
    assert md["credential_endpoint"] == f"{PO}/credential"
    assert md["nonce_endpoint"] == f"{PO}/nonce"
    assert md["deferred_credential_endpoint"] == f"{PO}/deferred_credential"
    assert list(md["credential_configurations_supported"]) == [PID_VCT]
    config = md["credential_configurations_supported"][PID_VCT]
    assert config["vct"] == PID_VCT
    paths = [c["path"] for c in config["credential_metadata"]["claims"]]
    assert ["age_over_18"] in paths
    assert md["display"][0]["name"] == "HM Passport Office"


def test_authorization_server_and_jwt_vc_issuer_metadata(api: Api) -> None:
    """RFC 8414 metadata names the token endpoint and the pre-authorized grant; the JWT VC
    issuer metadata lists exactly the authority's signing keys."""
    r = api.client.get("/.well-known/oauth-authorization-server/issuers/home-office")
    assert r.status_code == 200
    assert r.json()["issuer"] == f"{BASE}/issuers/home-office"
    assert r.json()["token_endpoint"] == f"{BASE}/issuers/home-office/token"
    assert PRE_AUTHORIZED_GRANT in r.json()["grant_types_supported"]
    r = api.client.get("/.well-known/jwt-vc-issuer/issuers/home-office")
    assert r.status_code == 200
    hosted = api.platform.authorities.get("home-office")
    assert r.json()["issuer"] == hosted.identifier
    assert [k["kid"] for k in r.json()["jwks"]["keys"]] == [k.kid for k in hosted.keys]
    assert r.json()["civicstack_trust"]["roots"][0]["id"] == f"{BASE}/trust/root"


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/openid-credential-issuer/issuers/nobody",
        "/.well-known/openid-credential-issuer/verifiers/shop",
        "/.well-known/jwt-vc-issuer/trust/root",
        "/.well-known/oauth-authorization-server/" + "x" * 600,
    ],
)
def test_metadata_of_what_is_not_an_issuer_is_not_found(api: Api, path: str) -> None:
    """Relying parties, the root and unknown names have no issuer metadata."""
    _error(api.client.get(path), 404, "not_found")


def test_the_issuer_list(api: Api) -> None:
    """GET /issuers lists each authority with its identifier and configurations."""
    listed = {i["name"]: i for i in api.client.get("/issuers/").json()}
    assert listed["home-office"]["credential_configurations"] == [RIGHT_TO_WORK_VCT]
    assert listed["passport-office"]["credential_issuer"] == PO


# --- the happy paths -----------------------------------------------------------------------------


def test_offer_by_value_to_a_verifiable_credential(api: Api) -> None:
    """An offer, its token and one proof yield an SD-JWT VC bound to the proved key that a
    verifier accepts through the trust registry and the status list."""
    offer = api.offer()
    assert parse_offer_uri(offer["offer"]).credential_issuer == PO
    token_response = api.token_response(offer)
    assert token_response.headers["cache-control"] == "no-store"
    assert token_response.json()["token_type"] == "Bearer"
    assert token_response.json()["expires_in"] == 300
    key = PrivateKey.generate("ES256")
    r = api.credential(token_response.json()["access_token"], api.request([key]))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    (item,) = r.json()["credentials"]
    held = inspect(item["credential"])
    assert held.iss == PO
    assert held.claims["age_over_18"] is True
    assert held.holder == key.public_key
    shown = present_credential(
        item["credential"],
        disclose=["age_over_18"],
        holder=key,
        aud="shop",
        nonce="n",
        now=api.platform.clock.now(),
    )
    verified = api.platform.verify(shown, aud="shop", nonce="n")
    assert verified.claims == {"age_over_18": True}


def test_offer_by_reference_is_served_until_redeemed(api: Api) -> None:
    """The credential_offer_uri serves the offer object as application/json until the code is
    redeemed; then it is gone."""
    offer = api.offer(by_reference=True, tx_code=False)
    assert offer["offer"].startswith("openid-credential-offer://?credential_offer_uri=")
    url = offer["credential_offer_uri"]
    assert url.startswith(f"{PO}/offers/")
    r = api.client.get(url.removeprefix(BASE))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == offer["credential_offer"]
    assert "tx_code" not in r.json()["grants"][PRE_AUTHORIZED_GRANT]
    api.token(offer)
    _error(api.client.get(url.removeprefix(BASE)), 404, "not_found")


def test_a_batch_binds_one_credential_to_each_key(api: Api) -> None:
    """Three proofs with three keys give three credentials, each bound to its own key and
    with its own status entry."""
    keys = [PrivateKey.generate("ES256"), PrivateKey.generate("EdDSA"), PrivateKey.generate()]
    r = api.credential(api.token(api.offer()), api.request(keys))
    assert r.status_code == 200, r.text
    held = [inspect(c["credential"]) for c in r.json()["credentials"]]
    assert [h.holder for h in held] == [k.public_key for k in keys]
    assert len({h.status["status_list"]["idx"] for h in held if h.status}) == 3


def test_authorization_details_give_credential_identifiers(api: Api) -> None:
    """RFC 9396 details in the token request return credential_identifiers, which the
    credential request must then use instead of the configuration id."""
    offer = api.offer()
    details = f'[{{"type":"openid_credential","credential_configuration_id":"{PID_VCT}"}}]'
    r = api.token_response(offer, authorization_details=details)
    assert r.status_code == 200, r.text
    (detail,) = r.json()["authorization_details"]
    assert detail["credential_identifiers"] == [PID_VCT]
    token = r.json()["access_token"]
    key = PrivateKey.generate()
    by_config = api.request([key])
    _error(
        api.credential(token, by_config),
        400,
        "invalid_credential_request",
        "invalid_credential_request",
    )
    wrong = {"credential_identifier": "nope", "proofs": api.request([key])["proofs"]}
    _error(api.credential(token, wrong), 400, "unknown_credential_identifier")
    right = {"credential_identifier": PID_VCT, "proofs": api.request([key])["proofs"]}
    assert api.credential(token, right).status_code == 200


def test_authorization_details_for_another_credential_are_refused(api: Api) -> None:
    """Details asking for a configuration that was not offered, or of another type, fail."""
    offer = api.offer()
    other = f'[{{"type":"openid_credential","credential_configuration_id":"{RIGHT_TO_WORK_VCT}"}}]'
    _error(
        api.token_response(offer, authorization_details=other),
        400,
        "invalid_request",
        "invalid_authorization_details",
    )
    _error(
        api.token_response(offer, authorization_details='[{"type":"x"}]'),
        400,
        "invalid_request",
        "invalid_authorization_details",
    )
    _error(api.token_response(offer, authorization_details="{"), 400, "invalid_request")


# --- token endpoint errors -----------------------------------------------------------------------


def test_token_errors_follow_rfc_6749(api: Api) -> None:
    """Missing and repeated parameters are invalid_request, another grant type is
    unsupported_grant_type, a wrong code invalid_grant; all no-store with error."""
    offer = api.offer()
    post = api.client.post
    _error(
        post("/issuers/passport-office/token", data={}), 400, "invalid_request", "invalid_request"
    )
    _error(
        post(
            "/issuers/passport-office/token", data={"grant_type": "authorization_code", "code": "x"}
        ),
        400,
        "unsupported_grant_type",
        "unsupported_grant_type",
    )
    _error(
        post("/issuers/passport-office/token", data={"grant_type": PRE_AUTHORIZED_GRANT}),
        400,
        "invalid_request",
        "invalid_request",
    )
    repeated = f"grant_type={PRE_AUTHORIZED_GRANT}&pre-authorized_code=a&pre-authorized_code=b"
    _error(
        post(
            "/issuers/passport-office/token",
            content=repeated,
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        400,
        "invalid_request",
        "invalid_request",
    )
    _error(post("/issuers/passport-office/token", json={"grant_type": "x"}), 400, "invalid_request")
    fake = {
        **offer,
        "credential_offer": {"grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": "forged"}}},
    }
    _error(api.token_response(fake), 400, "invalid_grant", "invalid_grant")
    # a code is valid only at the issuer that made it
    _error(api.token_response(offer, issuer="home-office"), 400, "invalid_grant", "invalid_grant")


def test_tx_code_brute_force_kills_the_code(api: Api) -> None:
    """Five wrong transaction codes lock the offer; the right code then fails too."""
    offer = api.offer()
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    for _ in range(5):
        _error(api.token_response(offer, tx_code=wrong), 400, "invalid_grant", "invalid_grant")
    body = _error(api.token_response(offer), 400, "invalid_grant", "invalid_grant")
    assert "locked" in body["error_description"]


def test_tx_code_required_and_unexpected(api: Api) -> None:
    """Omitting a required tx_code, or sending one not asked for, is invalid_request."""
    offer = api.offer()
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": api.code(offer)}
    _error(
        api.client.post("/issuers/passport-office/token", data=form),
        400,
        "invalid_request",
        "invalid_request",
    )
    plain = api.offer(tx_code=False)
    _error(api.token_response(plain, tx_code="123456"), 400, "invalid_request", "invalid_request")


# --- nonce and credential endpoint errors --------------------------------------------------------


def test_nonces_are_fresh_and_uncacheable(api: Api) -> None:
    """Each nonce response is new and no-store."""
    r = api.client.post("/issuers/passport-office/nonce")
    assert r.headers["cache-control"] == "no-store"
    assert len({api.nonce() for _ in range(5)} | {r.json()["c_nonce"]}) == 6
    _error(api.client.post("/issuers/nobody/nonce"), 404, "unknown_authority")


def test_credential_requires_a_bearer_token(api: Api) -> None:
    """No token, a forged one, or a spent one: 401 invalid_token with a Bearer challenge."""
    key = PrivateKey.generate()
    r = api.credential(None, api.request([key]))
    _error(r, 401, "invalid_token", "invalid_token")
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    _error(api.credential("forged", api.request([key])), 401, "invalid_token", "invalid_token")
    token = api.token(api.offer())
    assert api.credential(token, api.request([key])).status_code == 200
    _error(api.credential(token, api.request([key])), 401, "invalid_token", "invalid_token")
    other = api.token(api.offer())
    _error(api.credential(other, api.request([key]), issuer="home-office"), 401, "invalid_token")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "invalid_credential_request"),
        (
            b'{"credential_configuration_id":"a","credential_configuration_id":"b"}',
            "invalid_credential_request",
        ),
        (b"[]", "invalid_credential_request"),
        (b"{}", "invalid_credential_request"),
        (
            b'{"credential_configuration_id":"x","credential_identifier":"y"}',
            "invalid_credential_request",
        ),
        (
            b'{"credential_configuration_id":"urn:civicstack:right-to-work:1"}',
            "unknown_credential_configuration",
        ),
        (b'{"credential_configuration_id":"urn:eudi:pid:1"}', "invalid_proof"),
        (
            b'{"credential_configuration_id":"urn:eudi:pid:1","proofs":{"di_vp":[{}]}}',
            "invalid_proof",
        ),
        (b'{"credential_configuration_id":"urn:eudi:pid:1","proofs":{"jwt":[]}}', "invalid_proof"),
        (b'{"credential_configuration_id":"urn:eudi:pid:1","proofs":{"jwt":"x"}}', "invalid_proof"),
        (b'{"credential_configuration_id":"urn:eudi:pid:1","proofs":{"jwt":[1]}}', "invalid_proof"),
        (
            b'{"credential_configuration_id":"urn:eudi:pid:1","proofs":{"jwt":["a"]},'
            b'"credential_response_encryption":{"jwk":{},"enc":"A128GCM"}}',
            "invalid_encryption_parameters",
        ),
        (b'{"pad":"' + b"x" * 70_000 + b'"}', "invalid_credential_request"),
    ],
)
def test_malformed_credential_requests(api: Api, body: bytes, code: str) -> None:
    """Each malformed credential request is a 400 with its §8.3.1 error code."""
    token = api.token(api.offer())
    _error(api.credential(token, body), 400, code, code)


def test_too_many_or_duplicate_proofs(api: Api) -> None:
    """More proofs than batch_size, or two proofs of one key, are refused."""
    token = api.token(api.offer())
    key = PrivateKey.generate()
    _error(api.credential(token, api.request([key, key])), 400, "invalid_proof", "invalid_proof")
    keys = [PrivateKey.generate() for _ in range(11)]
    _error(api.credential(token, api.request(keys)), 400, "invalid_credential_request")


def _proof(header: dict[str, Any], claims: dict[str, Any], key: PrivateKey) -> str:
    return sign_compact(key, json_dumps(claims), header)


def test_bad_proofs_over_http(api: Api) -> None:
    """Wrong typ, alg none, a private jwk, a wrong audience, a stale iat and a reused nonce are
    each refused over HTTP with their error."""
    key = PrivateKey.generate()
    jwk = key.public_key.to_jwk()
    now = api.platform.clock.now()

    def ask(proof: str) -> Any:
        token = api.token(api.offer())
        return api.credential(
            token, {"credential_configuration_id": PID_VCT, "proofs": {"jwt": [proof]}}
        )

    good = {"aud": PO, "iat": now}
    header = {"typ": PROOF_TYP, "jwk": jwk}
    _error(
        ask(_proof({"typ": "JWT", "jwk": jwk}, {**good, "nonce": api.nonce()}, key)),
        400,
        "invalid_proof",
    )
    none = (
        b64url_encode(json_dumps({"alg": "none", **header}))
        + "."
        + b64url_encode(json_dumps({**good, "nonce": api.nonce()}))
        + "."
    )
    _error(ask(none), 400, "invalid_proof")
    private = {**header, "jwk": {**jwk, "d": b64url_encode(b"\x02" * 32)}}
    _error(ask(_proof(private, {**good, "nonce": api.nonce()}, key)), 400, "invalid_proof")
    _error(
        ask(
            _proof(
                header, {**good, "aud": f"{BASE}/issuers/home-office", "nonce": api.nonce()}, key
            )
        ),
        400,
        "invalid_proof",
    )
    _error(
        ask(_proof(header, {**good, "iat": now - 3600, "nonce": api.nonce()}, key)),
        400,
        "invalid_proof",
    )
    _error(ask(_proof(header, good, key)), 400, "invalid_proof")
    _error(
        ask(_proof(header, {**good, "nonce": "made-up"}, key)),
        400,
        "invalid_nonce",
        "invalid_nonce",
    )
    nonce = api.nonce()
    assert ask(_proof(header, {**good, "nonce": nonce}, key)).status_code == 200
    _error(
        ask(_proof(header, {**good, "nonce": nonce}, key)), 400, "invalid_nonce", "invalid_nonce"
    )
    home_nonce = api.nonce("home-office")
    _error(ask(_proof(header, {**good, "nonce": home_nonce}, key)), 400, "invalid_nonce")
    # HS256 keyed with the public JWK (the algorithm-confusion attack), and an oversize proof
    hs_header = b64url_encode(json_dumps({"alg": "HS256", **header}))
    hs_payload = b64url_encode(json_dumps({**good, "nonce": api.nonce()}))
    mac = hmac.new(json_dumps(jwk), f"{hs_header}.{hs_payload}".encode(), "sha256").digest()
    _error(ask(f"{hs_header}.{hs_payload}.{b64url_encode(mac)}"), 400, "invalid_proof")
    padded = {**good, "nonce": api.nonce(), "pad": "x" * 6000}
    _error(ask(_proof(header, padded, key)), 400, "invalid_proof")


# --- applications and deferred issuance ----------------------------------------------------------


def _apply(api: Api, claims: dict[str, Any] | None = None, files: Any = None, **fields: str) -> Any:
    data = {"vct": RIGHT_TO_WORK_VCT, "claims": json_dumps(claims or RTW).decode(), **fields}
    if files is None:
        files = [("documents", ("passport.pdf", PDF, "application/pdf"))]
    return api.client.post("/issuers/home-office/applications", data=data, files=files)


def _deferred_start(api: Api) -> tuple[str, str, str, PrivateKey]:
    r = _apply(api)
    assert r.status_code == 201, r.text
    applied = r.json()
    assert applied["application"]["status"] == "pending"
    offer = {
        "credential_offer": parse_offer_uri(applied["offer"]).to_json(),
        "tx_code": applied["tx_code"],
    }
    token = api.token(offer, issuer="home-office")
    key = PrivateKey.generate()
    body = {
        "credential_configuration_id": RIGHT_TO_WORK_VCT,
        "proofs": {"jwt": [api.proof(key, "home-office")]},
    }
    r = api.credential(token, body, issuer="home-office")
    assert r.status_code == 202, r.text
    assert r.headers["cache-control"] == "no-store"
    assert set(r.json()) == {"transaction_id", "interval"}
    assert r.json()["interval"] > 0
    return applied["application"]["id"], token, r.json()["transaction_id"], key


def test_deferred_issuance_after_approval(api: Api) -> None:
    """Under review the wallet gets 202 with its transaction_id; once an officer approves, the
    deferred endpoint returns the credential bound to the key proved earlier, once."""
    application_id, token, transaction_id, key = _deferred_start(api)
    r = api.deferred(token, transaction_id, "home-office")
    assert r.status_code == 202
    assert r.json()["transaction_id"] == transaction_id
    r = api.client.post(
        f"/issuers/home-office/admin/applications/{application_id}/approve",
        json={"reviewer": "Officer Jones"},
        headers=api.admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    r = api.deferred(token, transaction_id, "home-office")
    assert r.status_code == 200, r.text
    (item,) = r.json()["credentials"]
    held = inspect(item["credential"])
    assert held.holder == key.public_key
    assert held.claims["share_code"] == "W12345678"
    _error(
        api.deferred(token, transaction_id, "home-office"),
        400,
        "invalid_transaction_id",
        "invalid_transaction_id",
    )


def test_deferred_issuance_after_rejection(api: Api) -> None:
    """After a rejection the deferred endpoint answers credential_request_denied, every time."""
    application_id, token, transaction_id, _ = _deferred_start(api)
    r = api.client.post(
        f"/issuers/home-office/admin/applications/{application_id}/reject",
        json={"reviewer": "Officer Jones", "reason": "The share code has expired."},
        headers=api.admin,
    )
    assert r.status_code == 200, r.text
    for _ in range(2):
        _error(
            api.deferred(token, transaction_id, "home-office"),
            400,
            "credential_request_denied",
            "credential_request_denied",
        )
    detail = api.client.get(
        f"/issuers/home-office/admin/applications/{application_id}", headers=api.admin
    ).json()
    assert detail["reason"] == "The share code has expired."


def test_deferred_errors(api: Api) -> None:
    """Unknown transactions, another token, malformed bodies and missing tokens are refused."""
    _, token, transaction_id, _ = _deferred_start(api)
    _error(api.deferred(token, "unknown", "home-office"), 400, "invalid_transaction_id")
    other = api.token(api.offer())
    _error(api.deferred(other, transaction_id, "home-office"), 401, "invalid_token")
    _error(api.deferred("forged", transaction_id, "home-office"), 401, "invalid_token")
    r = api.client.post(
        "/issuers/home-office/deferred_credential", json={"transaction_id": transaction_id}
    )
    _error(r, 401, "invalid_token")
    r = api.client.post(
        "/issuers/home-office/deferred_credential",
        json={"transaction": transaction_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    _error(r, 400, "invalid_credential_request")


def test_a_credential_request_after_rejection_is_denied(api: Api) -> None:
    """If the officer rejects before the wallet's first request, that request is denied."""
    applied = _apply(api).json()
    api.client.post(
        f"/issuers/home-office/admin/applications/{applied['application']['id']}/reject",
        json={"reviewer": "x", "reason": "Forged document"},
        headers=api.admin,
    )
    offer = {
        "credential_offer": parse_offer_uri(applied["offer"]).to_json(),
        "tx_code": applied["tx_code"],
    }
    token = api.token(offer, issuer="home-office")
    body = {
        "credential_configuration_id": RIGHT_TO_WORK_VCT,
        "proofs": {"jwt": [api.proof(PrivateKey.generate(), "home-office")]},
    }
    _error(api.credential(token, body, issuer="home-office"), 400, "credential_request_denied")


def test_documents_are_kept_by_hash_whatever_their_names(api: Api, tmp_path: Path) -> None:
    """A hostile file name is ignored: the document is stored and served by its SHA-256 only."""
    import hashlib

    files = [
        ("documents", ("../../../etc/passwd", PDF, "text/plain")),
        ("documents", ("x\r\n.png", b"\x89PNG\r\n\x1a\nDATA", "application/pdf")),
    ]
    r = _apply(api, files=files)
    assert r.status_code == 201, r.text
    docs = r.json()["application"]["documents"]
    assert [d["media_type"] for d in docs] == ["application/pdf", "image/png"]
    assert docs[0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    stored = sorted(p.name for p in (tmp_path / "documents").rglob("*") if p.is_file())
    assert stored == sorted(d["sha256"] for d in docs)
    application_id = r.json()["application"]["id"]
    r = api.client.get(
        f"/issuers/home-office/admin/applications/{application_id}/documents/{docs[0]['sha256']}",
        headers=api.admin,
    )
    assert r.status_code == 200
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["x-content-type-options"] == "nosniff"
    _error(
        api.client.get(
            f"/issuers/home-office/admin/applications/{application_id}/documents/{'0' * 64}",
            headers=api.admin,
        ),
        404,
        "not_found",
    )


@pytest.mark.parametrize(
    "case",
    [
        (
            [("documents", ("a.html", b"<script>", "application/pdf"))],
            {},
            None,
            415,
            "invalid_document",
        ),
        (
            [("documents", (f"{i}.pdf", PDF, "application/pdf")) for i in range(5)],
            {},
            None,
            413,
            "too_large",
        ),
        (
            [("documents", ("big.pdf", b"%PDF-" + b"0" * (4 * 1024 * 1024), "application/pdf"))],
            {},
            None,
            413,
            "too_large",
        ),
        (None, {"extra": "1"}, None, 400, "invalid_request"),
        (None, {}, {"given_name": "A"}, 400, "invalid_credential"),
        (None, {}, {**RTW, "nationality": "GB"}, 400, "invalid_credential"),
    ],
)
def test_bad_applications(api: Api, case: tuple[Any, dict[str, str], Any, int, str]) -> None:
    """Wrong file types, too many or too large files, unknown fields and claims the authority
    cannot issue are refused, and nothing is recorded."""
    files, fields, claims, status, code = case
    _error(_apply(api, claims=claims, files=files, **fields), status, code)
    assert (
        api.client.get(
            "/issuers/home-office/admin/applications?status=pending", headers=api.admin
        ).json()
        == []
    )


def test_applications_must_be_multipart_with_json_claims(api: Api) -> None:
    """A JSON body, or claims that are not a JSON object, are invalid_request."""
    r = api.client.post("/issuers/home-office/applications", json={"vct": RIGHT_TO_WORK_VCT})
    _error(r, 400, "invalid_request")
    r = api.client.post(
        "/issuers/home-office/applications",
        data={"vct": RIGHT_TO_WORK_VCT, "claims": "[1]"},
        files=[("documents", ("a.pdf", PDF, "application/pdf"))],
    )
    _error(r, 400, "invalid_request")


def test_the_review_queue(api: Api) -> None:
    """Pending applications are listed oldest first without claims; one shows its claims,
    its document hashes and what the automatic register check found."""
    clock = api.platform.clock
    assert isinstance(clock, FixedClock)
    first = _apply(api).json()["application"]["id"]
    clock.advance(1)
    second = _apply(api).json()["application"]["id"]
    listed = api.client.get(
        "/issuers/home-office/admin/applications?status=pending", headers=api.admin
    ).json()
    assert [a["id"] for a in listed] == [first, second]
    assert "claims" not in listed[0]
    shown = api.client.get(
        f"/issuers/home-office/admin/applications/{first}", headers=api.admin
    ).json()
    assert shown["claims"] == RTW
    assert shown["findings"] == [
        {
            "check": "address-register",
            "outcome": "pass",
            "detail": "no UPRN given: nothing to check",
        }
    ]
    _error(
        api.client.get("/issuers/home-office/admin/applications?status=bogus", headers=api.admin),
        400,
        "invalid_request",
    )
    _error(
        api.client.get("/issuers/passport-office/admin/applications/" + first, headers=api.admin),
        404,
        "not_found",
    )


# --- admin ---------------------------------------------------------------------------------------


ADMIN_ROUTES = [
    ("POST", "/issuers/passport-office/admin/offers"),
    ("GET", "/issuers/passport-office/admin/offers"),
    ("GET", "/issuers/passport-office/admin/credentials"),
    ("POST", "/issuers/passport-office/admin/credentials/abc/status"),
    ("GET", "/issuers/passport-office/admin/applications"),
    ("GET", "/issuers/passport-office/admin/applications/abc"),
    ("GET", "/issuers/passport-office/admin/applications/abc/documents/" + "0" * 64),
    ("POST", "/issuers/passport-office/admin/applications/abc/approve"),
    ("POST", "/issuers/passport-office/admin/applications/abc/reject"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_need_the_admin_token(api: Api, method: str, path: str) -> None:
    """Every admin route answers 401 without the admin token, or with an access token."""
    _error(api.client.request(method, path, json={}), 401, "unauthorized")
    token = api.token(api.offer())
    _error(
        api.client.request(method, path, json={}, headers={"Authorization": f"Bearer {token}"}),
        401,
        "unauthorized",
    )


def test_bad_offer_requests(api: Api) -> None:
    """Offers with unknown members, wrong types, claims out of scope or a bad lifetime fail."""
    post = api.client.post
    url = "/issuers/passport-office/admin/offers"
    for body, code in [
        ({"vct": PID_VCT, "claims": AMARA, "colour": "red"}, "invalid_request"),
        ({"vct": PID_VCT, "claims": "x"}, "invalid_request"),
        ({"vct": PID_VCT, "claims": AMARA, "expires_in": 10}, "invalid_request"),
        ({"vct": PID_VCT, "claims": AMARA, "tx_code": "yes"}, "invalid_request"),
        ({"vct": RIGHT_TO_WORK_VCT, "claims": RTW}, "out_of_scope"),
        ({"vct": PID_VCT, "claims": {**AMARA, "age_over_18": False}}, "invalid_request"),
    ]:
        _error(post(url, json=body, headers=api.admin), 400, code)
    _error(post(url, content=b'{"vct":"a","vct":"b"}', headers=api.admin), 400, "invalid_request")
    _error(
        post(
            "/issuers/shop/admin/offers", json={"vct": PID_VCT, "claims": AMARA}, headers=api.admin
        ),
        404,
        "unknown_authority",
    )


def test_revocation_over_http_flips_the_status_bit(api: Api) -> None:
    """Revoking through the admin API makes the credential fail verification as revoked;
    the status list is served with its media type and cache lifetime."""
    key = PrivateKey.generate()
    r = api.credential(api.token(api.offer()), api.request([key]))
    credential = r.json()["credentials"][0]["credential"]
    (record,) = api.client.get(
        "/issuers/passport-office/admin/credentials", headers=api.admin
    ).json()
    shown = present_credential(
        credential, disclose=[], holder=key, aud="a", nonce="n", now=api.platform.clock.now()
    )
    api.platform.verify(shown, aud="a", nonce="n")
    r = api.client.post(
        f"/issuers/passport-office/admin/credentials/{record['id']}/status",
        json={"status": "revoked"},
        headers=api.admin,
    )
    assert r.json()["state"] == "revoked"
    fresh = Platform(api.platform.settings, clock=api.platform.clock)
    with pytest.raises(CivicError) as caught:
        fresh.verify(shown, aud="a", nonce="n")
    assert caught.value.code == "revoked"
    fresh.close()
    status = api.client.get(f"/issuers/passport-office/status/{record['list_id']}")
    assert status.headers["content-type"] == "application/statuslist+jwt"
    assert status.headers["cache-control"] == "public, max-age=300"
    _error(api.client.get("/issuers/passport-office/status/999"), 404, "not_found")
    _error(
        api.client.post(
            f"/issuers/home-office/admin/credentials/{record['id']}/status",
            json={"status": "valid"},
            headers=api.admin,
        ),
        404,
        "not_found",
    )
    _error(
        api.client.post(
            f"/issuers/passport-office/admin/credentials/{record['id']}/status",
            json={"status": "valid"},
            headers=api.admin,
        ),
        409,
        "conflict",
    )


def test_offers_are_listed_without_claims(api: Api) -> None:
    """The admin offer list shows states and issued credential ids, never claims."""
    offer = api.offer()
    api.credential(api.token(offer), api.request([PrivateKey.generate()]))
    (listed,) = api.client.get("/issuers/passport-office/admin/offers", headers=api.admin).json()
    assert listed["id"] == offer["id"]
    assert listed["state"] == "issued"
    assert len(listed["credential_ids"]) == 1
    assert "Amara" not in str(listed)


# --- notification --------------------------------------------------------------------------------


def test_notifications(api: Api) -> None:
    """The wallet's credential_accepted is recorded; a wrong id or event is refused."""
    offer = api.offer()
    token = api.token(offer)
    r = api.credential(token, api.request([PrivateKey.generate()]))
    notification_id = r.json()["notification_id"]

    def notify(body: dict[str, Any], bearer: str = token) -> Any:
        return api.client.post(
            "/issuers/passport-office/notification",
            json=body,
            headers={"Authorization": f"Bearer {bearer}"},
        )

    assert (
        notify({"notification_id": notification_id, "event": "credential_accepted"}).status_code
        == 204
    )
    listed = api.client.get("/issuers/passport-office/admin/offers", headers=api.admin).json()
    assert listed[0]["notification_event"] == "credential_accepted"
    _error(
        notify({"notification_id": "other", "event": "credential_accepted"}),
        400,
        "invalid_notification_id",
    )
    _error(
        notify({"notification_id": notification_id, "event": "party"}),
        400,
        "invalid_notification_request",
    )
    _error(
        notify(
            {
                "notification_id": notification_id,
                "event": "credential_failure",
                "event_description": 'a"b',
            }
        ),
        400,
        "invalid_notification_request",
    )
    _error(
        notify({"notification_id": notification_id, "event": "credential_accepted"}, "forged"),
        401,
        "invalid_token",
    )


# --- the published API ----------------------------------------------------------------------


def test_openapi_documents_every_route(api: Api) -> None:
    """The issuers' OpenAPI 3.1 lists every route with a summary and problem responses, and
    the admin routes with the admin bearer scheme."""
    spec = api.client.get("/issuers/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "adminToken" in spec["components"]["securitySchemes"]
    assert "accessToken" in spec["components"]["securitySchemes"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            if "/admin/" in path:
                assert {"adminToken": []} in operation["security"], (method, path)
            if path != "/":
                assert any(code.startswith(("4", "5")) for code in operation["responses"]), (
                    method,
                    path,
                )
    root = api.client.get("/openapi.json").json()
    assert "/.well-known/openid-credential-issuer/{path}" in root["paths"]


def test_an_application_is_checked_against_the_address_register(api: Api) -> None:
    """With the platform's registers seeded, an application naming a UPRN of the address
    register passes the automatic check and one naming an unknown UPRN is rejected by it."""
    from civicstack.registers.synthetic import SyntheticSizes
    from civicstack.services.registers import seed_registers

    registers = api.platform.registers
    seed_registers(
        registers,
        archive=None,
        now=api.platform.clock.now(),
        sizes=SyntheticSizes(addresses=20, companies=5, labour_providers=5, gp_practices=5),
    )
    known = registers.records(registers.head("address"), limit=1)[0].record().key

    def apply(uprn: str) -> dict[str, Any]:
        claims = {**AMARA, "address": {"locality": "Leeds", "country": "GB", "uprn": uprn}}
        r = api.client.post(
            "/issuers/passport-office/applications",
            data={"vct": PID_VCT, "claims": json_dumps(claims).decode()},
            files=[("documents", ("passport.pdf", PDF, "application/pdf"))],
        )
        assert r.status_code == 201, r.text
        application: dict[str, Any] = r.json()["application"]
        return application

    passed = apply(known)
    assert passed["status"] == "pending"
    shown = api.client.get(
        f"/issuers/passport-office/admin/applications/{passed['id']}", headers=api.admin
    ).json()
    assert shown["findings"] == [
        {
            "check": "address-register",
            "outcome": "pass",
            "detail": f"UPRN {known} is a record of the address register",
        }
    ]
    blocked = apply("999999999999")
    assert blocked["status"] == "rejected"
    assert "UPRN 999999999999 is not in the address register" in blocked["reason"]
