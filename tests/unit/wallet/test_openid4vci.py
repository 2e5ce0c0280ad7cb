"""The wallet's OpenID4VCI client: the whole flow against the platform app in-process, and
hostile issuers (lying metadata, huge or malformed responses, plain http) refused."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from civicstack._crypto import PrivateKey
from civicstack.api.app import create_app
from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.credentials import inspect
from civicstack.demo.world import seed_demo_world
from civicstack.errors import CivicError
from civicstack.fetch import HttpTransport
from civicstack.openid4vci import create_key_proof
from civicstack.openid4vci.offers import CredentialOffer, TxCode, UnsafeAllowHttp
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import FixedClock
from civicstack.wallet.openid4vci import Deferred, IssuanceClient, Issued

BASE = "http://civic.test"
AMARA = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "birthdate": "1990-05-17",
    "issuing_country": "GB",
}


def bridge(app_client: TestClient) -> httpx.MockTransport:
    """An httpx transport that hands requests to the app in-process (no network)."""

    def handle(request: httpx.Request) -> httpx.Response:
        r = app_client.request(
            request.method,
            str(request.url),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=request.read(),
        )
        headers = [
            (k, v)
            for k, v in r.headers.multi_items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        return httpx.Response(r.status_code, headers=headers, content=r.content)

    return httpx.MockTransport(handle)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """The demo world on SQLite at http://civic.test."""
    settings = Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_BASE_URL": BASE})
    p = Platform(settings, clock=FixedClock())
    p.migrate()
    seed_demo_world(p)
    yield p
    p.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[IssuanceClient]:
    """The wallet client talking to the platform app."""
    with (
        TestClient(create_app(platform), base_url=BASE) as app_client,
        httpx.Client(transport=bridge(app_client)) as http,
    ):
        yield IssuanceClient(HttpTransport(http), http=UnsafeAllowHttp())


def _signer(key: PrivateKey, platform: Platform) -> Callable[[str, str | None], str]:
    return lambda aud, nonce: create_key_proof(
        key, audience=aud, nonce=nonce, now=platform.clock.now()
    )


def test_the_whole_flow_by_value(client: IssuanceClient, platform: Platform) -> None:
    """Offer, metadata, token with tx_code, nonce, proof, credential: bound to the key."""
    created = platform.issuer.create_offer("passport-office", vct=PID_VCT, claims=AMARA)
    prepared = client.discover(client.resolve(created.uri))
    assert prepared.vct == PID_VCT
    assert prepared.issuer.display_name == "HM Passport Office"
    key = PrivateKey.generate()
    token, outcome = client.receive(prepared, tx_code=created.tx_code, sign=_signer(key, platform))
    assert isinstance(outcome, Issued)
    (credential,) = outcome.credentials
    assert inspect(credential).holder == key.public_key
    trust = client.issuer_trust(prepared.offer.credential_issuer)
    assert trust.roots[0].id == f"{BASE}/trust/root"
    client.notify(
        prepared.issuer.notification_endpoint, token, outcome.notification_id, "credential_accepted"
    )
    record = platform.issuance.offer("passport-office", created.record.id)
    assert record.notification_event == "credential_accepted"


def test_offer_by_reference_and_deferred(client: IssuanceClient, platform: Platform) -> None:
    """An application's offer defers; collecting after approval gives the credential."""
    application, created = platform.review.apply(
        "home-office",
        vct=RIGHT_TO_WORK_VCT,
        claims={"given_name": "A", "family_name": "O", "right_to_work": True, "share_code": "W1"},
        documents=[],
    )
    assert created is not None
    prepared = client.discover(client.resolve(created.uri))
    _, outcome = client.receive(
        prepared, tx_code=created.tx_code, sign=_signer(PrivateKey.generate(), platform)
    )
    assert isinstance(outcome, Deferred)
    assert Deferred.from_json(outcome.to_json()) == outcome
    assert isinstance(client.collect(outcome), Deferred)
    platform.review.approve("home-office", application.id, reviewer="officer")
    assert isinstance(client.collect(outcome), Issued)
    with pytest.raises(CivicError) as caught:
        client.collect(outcome)
    assert caught.value.code == "invalid_transaction_id"
    by_reference = platform.issuer.create_offer(
        "passport-office", vct=PID_VCT, claims=AMARA, by_reference=True
    )
    assert client.resolve(by_reference.uri) == by_reference.offer


def test_the_issuers_errors_keep_their_codes(client: IssuanceClient, platform: Platform) -> None:
    """A wrong tx_code reaches the wallet as invalid_grant; a missing one is caught first."""
    created = platform.issuer.create_offer("passport-office", vct=PID_VCT, claims=AMARA)
    prepared = client.discover(client.resolve(created.uri))
    sign = _signer(PrivateKey.generate(), platform)
    for entered, code in [
        (None, "invalid_request"),
        ("12345", "invalid_request"),
        ("000000", "invalid_grant"),
    ]:
        if entered == created.tx_code:
            continue
        with pytest.raises(CivicError) as caught:
            client.receive(prepared, tx_code=entered, sign=sign)
        assert caught.value.code == code


# --- hostile issuers ------------------------------------------------------------------------------

ISSUER = "https://issuer.example/issuers/x"
GOOD_METADATA = {
    "credential_issuer": ISSUER,
    "credential_endpoint": f"{ISSUER}/credential",
    "nonce_endpoint": f"{ISSUER}/nonce",
    "deferred_credential_endpoint": f"{ISSUER}/deferred",
    "credential_configurations_supported": {
        "pid": {
            "format": "dc+sd-jwt",
            "vct": PID_VCT,
            "cryptographic_binding_methods_supported": ["jwk"],
            "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}},
        }
    },
}
AS_METADATA = {
    "issuer": ISSUER,
    "token_endpoint": f"{ISSUER}/token",
    "grant_types_supported": ["urn:ietf:params:oauth:grant-type:pre-authorized_code"],
}
OFFER = CredentialOffer(ISSUER, ("pid",), "code", TxCode("numeric", 6))


def _hostile(routes: dict[str, Callable[[httpx.Request], httpx.Response]]) -> IssuanceClient:
    def handle(request: httpx.Request) -> httpx.Response:
        route = routes.get(f"{request.method} {request.url}")
        if route is None:
            return httpx.Response(404, json={"error": "not_found_at_all"})
        return route(request)

    return IssuanceClient(HttpTransport(httpx.Client(transport=httpx.MockTransport(handle))))


def _json(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(status, json=body)


def _metadata_routes(metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "GET https://issuer.example/.well-known/openid-credential-issuer/issuers/x": _json(
            metadata or GOOD_METADATA
        ),
        "GET https://issuer.example/.well-known/oauth-authorization-server/issuers/x": _json(
            AS_METADATA
        ),
    }


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as caught:
        fn()
    return caught.value.code


@pytest.mark.parametrize(
    "metadata",
    [
        {**GOOD_METADATA, "credential_issuer": "https://impostor.example"},
        {**GOOD_METADATA, "credential_endpoint": "http://issuer.example/credential"},
        {**GOOD_METADATA, "credential_configurations_supported": {}},
    ],
)
def test_lying_or_insecure_metadata_is_refused(metadata: dict[str, Any]) -> None:
    """Metadata for another issuer, plain-http endpoints off loopback, or not describing the
    offered configuration are refused before any secret is sent."""
    client = _hostile(_metadata_routes(metadata))
    assert _code(lambda: client.discover(OFFER)) == "invalid_offer"


def test_plain_http_is_refused_beyond_this_machine() -> None:
    """An http:// issuer on another host is refused; on loopback it is allowed."""
    client = IssuanceClient(
        HttpTransport(httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))))
    )
    remote = CredentialOffer("http://issuer.example/x", ("pid",), "code")
    assert _code(lambda: client.discover(remote)) == "invalid_offer"
    local = CredentialOffer("http://127.0.0.1:9/x", ("pid",), "code")
    assert _code(lambda: client.discover(local)) == "fetch_failed"


def test_huge_and_malformed_responses_are_refused() -> None:
    """A response over the cap, or one that is not JSON, never reaches the parser."""
    huge = _hostile(
        {
            "GET https://issuer.example/.well-known/openid-credential-issuer/issuers/x": lambda _: (
                httpx.Response(200, content=b"[" * (2 * 1024 * 1024))
            )
        }
    )
    assert _code(lambda: huge.discover(OFFER)) == "fetch_failed"
    text = _hostile(
        {
            "GET https://issuer.example/.well-known/openid-credential-issuer/issuers/x": lambda _: (
                httpx.Response(200, content=b"<html>")
            )
        }
    )
    assert _code(lambda: text.discover(OFFER)) == "invalid_offer"
    offer_uri = "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fissuer.example%2Fo"
    duplicated = _hostile(
        {"GET https://issuer.example/o": lambda _: httpx.Response(200, content=b'{"a":1,"a":2}')}
    )
    assert _code(lambda: duplicated.resolve(offer_uri)) == "invalid_offer"


def test_a_stale_nonce_is_retried_once() -> None:
    """invalid_nonce makes the wallet fetch a new c_nonce and try again, once."""
    calls: list[str] = []

    def credential(request: httpx.Request) -> httpx.Response:
        nonce = json.loads(request.read())["proofs"]["jwt"][0]
        calls.append(nonce)
        if len(calls) == 1:
            return httpx.Response(400, json={"error": "invalid_nonce"})
        return httpx.Response(200, json={"credentials": [{"credential": "a~"}]})

    nonces = iter(["n1", "n2", "n3"])
    routes = {
        **_metadata_routes(),
        f"POST {ISSUER}/token": _json({"access_token": "t", "token_type": "Bearer"}),
        f"POST {ISSUER}/nonce": lambda _: httpx.Response(200, json={"c_nonce": next(nonces)}),
        f"POST {ISSUER}/credential": credential,
    }
    client = _hostile(routes)
    prepared = client.discover(OFFER)
    _, outcome = client.receive(prepared, tx_code="123456", sign=lambda aud, nonce: f"{nonce}")
    assert outcome == Issued(("a~",), None)
    assert calls == ["n1", "n2"]


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (202, {"transaction_id": "t"}, "invalid_offer"),
        (202, {"transaction_id": "t", "interval": -1}, "invalid_offer"),
        (200, {"credentials": []}, "invalid_offer"),
        (200, {"credentials": [{"credential": 7}]}, "invalid_offer"),
        (400, {"error": "something_new"}, "fetch_failed"),
        (
            400,
            {"error": "credential_request_denied", "error_description": "no"},
            "credential_request_denied",
        ),
    ],
)
def test_malformed_credential_responses(status: int, body: dict[str, Any], code: str) -> None:
    """Credential responses that break §8.3, and unknown error codes, are named errors."""
    metadata = {**GOOD_METADATA}
    del metadata["deferred_credential_endpoint"]
    routes = {
        **_metadata_routes(metadata if status == 202 and "interval" not in body else None),
        f"POST {ISSUER}/token": _json({"access_token": "t", "token_type": "Bearer"}),
        f"POST {ISSUER}/nonce": _json({"c_nonce": "n"}),
        f"POST {ISSUER}/credential": _json(body, status),
    }
    client = _hostile(routes)
    prepared = client.discover(OFFER)
    assert _code(lambda: client.receive(prepared, tx_code="123456", sign=lambda a, n: "p")) == code
