"""Request Objects by reference and Verifier Attestation JWTs: what a wallet accepts and refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from civicstack._crypto import (
    PrivateKey,
    PublicKey,
    b64url_decode,
    b64url_encode,
    json_dumps,
    sign_jwt,
)
from civicstack.errors import CivicError, VerificationError
from civicstack.openid4vp import (
    DcqlQuery,
    authorization_request_uri,
    client_id_for,
    parse_authorization_request,
    query_for,
    sign_request_object,
    sign_verifier_attestation,
    verify_request_object,
)
from civicstack.openid4vp.request import REQUEST_TYP, STATIC_AUD

NOW = 1_767_225_600
ROOT_ID = "https://gov.example/trust/root"
RP = "https://gov.example/verifiers/shop"
CLIENT_ID = client_id_for(RP)
RESPONSE_URI = "https://gov.example/verifier/responses"
NONCE = "n-0S6_WzA2Mj-0123456789"
QUERY = query_for([("pid", "urn:eudi:pid:1", ("age_over_18",))])

ROOT = PrivateKey.generate("EdDSA")
RP_KEY = PrivateKey.generate("ES256")


def trusted(iss: str, kid: str | None, now: int) -> PublicKey:
    """Only the root attests verifiers."""
    if iss != ROOT_ID:
        raise VerificationError("untrusted_issuer", f"{iss} is not trusted")
    return ROOT.public_key


def attestation(**change: Any) -> str:
    """A Verifier Attestation JWT for the shop (fields overridable)."""
    fields: dict[str, Any] = {
        "iss": ROOT_ID,
        "sub": RP,
        "key": RP_KEY.public_key,
        "now": NOW,
        "exp": NOW + 600,
        "redirect_uris": [RESPONSE_URI],
        "name": "Corner Shop",
    }
    signer = change.pop("signer", ROOT)
    fields.update(change)
    return sign_verifier_attestation(signer, **fields)


def request_object(*, key: PrivateKey = RP_KEY, att: str | None = None, **change: Any) -> str:
    """A Request Object signed by ``key`` (fields overridable)."""
    fields: dict[str, Any] = {
        "attestation": att or attestation(),
        "client_id": CLIENT_ID,
        "response_uri": RESPONSE_URI,
        "nonce": NONCE,
        "state": "state-123",
        "dcql": QUERY,
        "now": NOW,
        "exp": NOW + 600,
        "purpose": "age_check",
        "registration": None,
    }
    fields.update(change)
    return sign_request_object(key, **fields)


def with_claims(
    token: str, change: Callable[[dict[str, Any]], None], key: PrivateKey = RP_KEY
) -> str:
    """The same request re-signed after ``change`` edits its claims."""
    h, p, _ = token.split(".")
    header = json_loads(b64url_decode(h))
    claims = json_loads(b64url_decode(p))
    change(claims)
    return sign_jwt(key, claims, {k: v for k, v in header.items() if k != "alg"})


def json_loads(raw: bytes) -> Any:
    from civicstack._crypto import json_loads_strict

    return json_loads_strict(raw)


def verify(token: object, client_id: str = CLIENT_ID, now: int = NOW) -> Any:
    return verify_request_object(token, client_id=client_id, issuer_key=trusted, now=now)


def test_a_signed_request_verifies() -> None:
    """A request signed with the attested key, from the trusted root, reads back whole."""
    request = verify(request_object())
    assert request.relying_party == RP
    assert request.response_uri == RESPONSE_URI
    assert request.nonce == NONCE
    assert request.state == "state-123"
    assert request.purpose == "age_check"
    assert request.dcql == QUERY
    assert request.attestation.name == "Corner Shop"
    assert request.attestation.key == RP_KEY.public_key
    assert request.client_metadata["vp_formats_supported"]["dc+sd-jwt"]


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


OTHER = PrivateKey.generate("ES256")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (lambda: 42, "invalid_request_object"),
        (lambda: "not a jws", "invalid_request_object"),
        (
            lambda: with_claims(request_object(), lambda c: None, key=OTHER),
            "invalid_request_object",
        ),
        (lambda: request_object(key=OTHER), "invalid_request_object"),
        (lambda: request_object(att=attestation(signer=OTHER)), "invalid_request_object"),
        (lambda: request_object(att=attestation(iss="https://evil.example")), "untrusted_issuer"),
        (lambda: request_object(att=attestation(exp=NOW - 120)), "expired"),
        (
            lambda: request_object(att=attestation(sub="https://gov.example/verifiers/bank")),
            "invalid_request_object",
        ),
        (lambda: request_object(att=attestation(key=OTHER.public_key)), "invalid_request_object"),
        (
            lambda: request_object(att=attestation(redirect_uris=["https://evil.example/cb"])),
            "invalid_request_object",
        ),
        (
            lambda: request_object(client_id=client_id_for("https://gov.example/verifiers/bank")),
            "invalid_request_object",
        ),
        (lambda: request_object(nonce="short"), "invalid_request_object"),
        (lambda: request_object(nonce="has spaces in it 0123"), "invalid_request_object"),
        (lambda: request_object(state="bad state"), "invalid_request_object"),
        (lambda: request_object(exp=NOW - 120), "expired"),
        (lambda: request_object(now=NOW + 3600), "invalid_request_object"),
        (lambda: request_object(response_uri="ftp://x/y"), "invalid_request_object"),
        (
            lambda: with_claims(request_object(), lambda c: c.update(response_mode="fragment")),
            "invalid_request_object",
        ),
        (
            lambda: with_claims(request_object(), lambda c: c.update(response_type="code")),
            "invalid_request_object",
        ),
        (
            lambda: with_claims(request_object(), lambda c: c.update(redirect_uri=RESPONSE_URI)),
            "invalid_request_object",
        ),
        (
            lambda: with_claims(request_object(), lambda c: c.update(transaction_data=["e30"])),
            "invalid_request_object",
        ),
        (
            lambda: with_claims(request_object(), lambda c: c.update(scope="openid")),
            "invalid_request_object",
        ),
        (
            lambda: with_claims(request_object(), lambda c: c.update(aud="https://other")),
            "invalid_request_object",
        ),
        (
            lambda: with_claims(request_object(), lambda c: c.pop("dcql_query")),
            "invalid_request_object",
        ),
        (
            lambda: with_claims(request_object(), lambda c: c.update(verifier_info="x")),
            "invalid_request_object",
        ),
    ],
)
def test_refusals(token: Callable[[], object], code: str) -> None:
    """Every failed check of §5, §5.9.3 and §12 refuses the request with its code."""
    assert _code(lambda: verify(token())) == code


def test_untyped_or_mistyped_request_objects_are_refused() -> None:
    """§5: a Request Object without typ oauth-authz-req+jwt is not processed."""
    token = request_object()
    h, p, _ = token.split(".")
    header = json_loads(b64url_decode(h))
    for typ in (None, "JWT"):
        changed = {k: v for k, v in header.items() if k not in ("alg", "typ")}
        if typ is not None:
            changed["typ"] = typ
        resigned = sign_jwt(RP_KEY, json_loads(b64url_decode(p)), changed)
        assert _code(lambda t=resigned: verify(t)) == "invalid_request_object"
    assert header["typ"] == REQUEST_TYP


def test_other_client_identifier_prefixes_are_refused() -> None:
    """Only verifier_attestation is supported; a pre-registered or other prefix is refused."""
    for client_id in ("x509_san_dns:shop.example", "shop", "redirect_uri:https://x/cb"):
        token = with_claims(request_object(), lambda c, cid=client_id: c.update(client_id=cid))
        assert _code(lambda t=token, cid=client_id: verify(t, client_id=cid)) == (
            "invalid_request_object"
        )


def test_attestation_must_be_typed() -> None:
    """§12: the attestation's typ is verifier-attestation+jwt."""
    att = sign_jwt(
        ROOT,
        {"iss": ROOT_ID, "sub": RP, "exp": NOW + 60, "cnf": {"jwk": RP_KEY.public_key.to_jwk()}},
        {"typ": "JWT"},
    )
    assert _code(lambda: verify(request_object(att=att))) == "invalid_request_object"
    no_cnf = sign_jwt(
        ROOT, {"iss": ROOT_ID, "sub": RP, "exp": NOW + 60}, {"typ": "verifier-attestation+jwt"}
    )
    assert _code(lambda: verify(request_object(att=no_cnf))) == "invalid_request_object"
    no_exp = sign_jwt(
        ROOT,
        {"iss": ROOT_ID, "sub": RP, "cnf": {"jwk": RP_KEY.public_key.to_jwk()}},
        {"typ": "verifier-attestation+jwt"},
    )
    assert _code(lambda: verify(request_object(att=no_exp))) == "invalid_request_object"


def test_authorization_request_uri_round_trip() -> None:
    """openid4vp:// carries client_id and request_uri, and reads back."""
    uri = authorization_request_uri(CLIENT_ID, "https://gov.example/verifier/request-objects/abc")
    assert uri.startswith("openid4vp://?client_id=verifier_attestation%3A")
    assert parse_authorization_request(uri) == (
        CLIENT_ID,
        "https://gov.example/verifier/request-objects/abc",
    )


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("", "invalid_request"),
        ("openid4vp://?client_id=a", "invalid_request"),
        ("openid4vp://?request_uri=https://x/y", "invalid_request"),
        ("openid4vp://?client_id=a&client_id=b&request_uri=https://x/y", "invalid_request"),
        ("openid4vp://?client_id=a&request=eyJ", "unsupported"),
        ("openid4vp://?client_id=a&request_uri=https://x/y&request_uri_method=post", "unsupported"),
        ("openid4vp://?client_id=a&request_uri=file:///etc/passwd", "invalid_request_object"),
        ("openid4vp://?client_id=a&request_uri=https://x/y%23frag", "invalid_request_object"),
        ("x" * 5000, "invalid_request"),
    ],
)
def test_bad_authorization_requests(uri: str, code: str) -> None:
    """Malformed requests are refused before anything is fetched."""
    assert _code(lambda: parse_authorization_request(uri)) == code


def test_attestation_header_fits_the_jws_header_cap() -> None:
    """The request's header, attestation included, stays well under the 4 KiB header cap."""
    header = request_object().split(".")[0]
    assert len(header) < 2500
    assert json_dumps({"x": b64url_encode(b"")})
    assert isinstance(DcqlQuery.parse(QUERY.to_json()), DcqlQuery)
    assert STATIC_AUD == "https://self-issued.me/v2"
