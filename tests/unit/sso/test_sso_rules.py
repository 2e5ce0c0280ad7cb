"""The OpenID Provider's rules (civicstack.sso), without HTTP or storage."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack._crypto import PrivateKey, sign_jwt
from civicstack.errors import CivicError, ProtocolError
from civicstack.sso import (
    AuthorizationError,
    Client,
    CodeGrant,
    check_redemption,
    client_and_redirect,
    hash_secret,
    open_code,
    pkce_challenge,
    read_authorization_request,
    read_basic,
    read_client_metadata,
    read_params,
    redirect_uri_hash,
    released_claims,
    seal_code,
    verify_client_assertion,
    verify_client_secret,
    verify_pkce,
)

T = 1_767_225_600
VERIFIER_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def _client(**metadata: Any) -> Client:
    meta = read_client_metadata({"redirect_uris": ["https://rp.example/cb"], **metadata})
    return Client("c1", "hmrc", hash_secret("s3cret"), meta, T)


def test_pkce_matches_rfc_7636_appendix_b() -> None:
    """The S256 challenge of RFC 7636 Appendix B's verifier is the appendix's challenge."""
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    verify_pkce(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


@given(st.text(alphabet=VERIFIER_CHARS, min_size=43, max_size=128), st.data())
def test_pkce_round_trips_and_refuses_any_other_verifier(verifier: str, data: Any) -> None:
    """Every valid verifier passes against its own challenge; a different one never does."""
    challenge = pkce_challenge(verifier)
    verify_pkce(verifier, challenge)
    other = data.draw(st.text(alphabet=VERIFIER_CHARS, min_size=43, max_size=128))
    if other != verifier:
        with pytest.raises(ProtocolError, match="invalid_grant"):
            verify_pkce(other, challenge)


def _request(**params: str) -> dict[str, str]:
    base = {
        "client_id": "c1",
        "redirect_uri": "https://rp.example/cb",
        "response_type": "code",
        "scope": "openid profile unknown",
        "state": "st",
        "code_challenge": pkce_challenge("v" * 43),
        "code_challenge_method": "S256",
    }
    base.update(params)
    return {k: v for k, v in base.items() if v}


def test_a_good_request_reads_with_known_scopes_only() -> None:
    """Unknown scopes are dropped; state, nonce and the challenge are kept."""
    client = _client()
    params = _request(nonce="n")
    request = read_authorization_request(params, client, client_and_redirect(params, client))
    assert request.scope == ("openid", "profile")
    assert (request.state, request.nonce) == ("st", "n")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"response_type": ""}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"request": "eyJ..."}, "request_not_supported"),
    ],
)
def test_bad_requests_are_redirected_errors(params: dict[str, str], error: str) -> None:
    """Errors after the redirect URI checks out carry it and the state."""
    client = _client()
    full = _request(**params)
    with pytest.raises(AuthorizationError) as caught:
        read_authorization_request(full, client, client_and_redirect(full, client))
    assert caught.value.oauth_error == error
    assert caught.value.redirect_uri == "https://rp.example/cb"
    assert caught.value.state == "st"


def test_redirect_uri_must_match_exactly() -> None:
    """A prefix, a different port or an added path is not the registered URI."""
    client = _client()
    for uri in ("https://rp.example/cb/", "https://rp.example:444/cb", "https://rp.example/c"):
        with pytest.raises(ProtocolError) as caught:
            client_and_redirect(_request(redirect_uri=uri), client)
        assert not isinstance(caught.value, AuthorizationError)
    with pytest.raises(ProtocolError, match="invalid_client"):
        client_and_redirect(_request(), None)


def test_parameters_are_capped_and_single() -> None:
    """A parameter given twice, too long, or too many parameters is invalid_request."""
    with pytest.raises(ProtocolError, match="twice"):
        read_params([("a", "1"), ("a", "2")])
    with pytest.raises(ProtocolError, match="too long"):
        read_params([("a", "x" * 3000)])
    with pytest.raises(ProtocolError, match="too many"):
        read_params([(f"p{i}", "v") for i in range(30)])
    assert read_params([("a", ""), ("b", "1")]) == {"b": "1"}


def _grant(**changes: Any) -> CodeGrant:
    values: dict[str, Any] = {
        "client_id": "c1",
        "redirect_uri_hash": redirect_uri_hash("https://rp.example/cb"),
        "code_challenge": pkce_challenge("v" * 43),
        "nonce": "n",
        "scope": ("openid",),
        "sub": "s",
        "sid": "sid",
        "auth_time": T,
        "claims": {},
        "expires_at": T + 60,
    }
    values.update(changes)
    return CodeGrant(**values)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_id": "c2"},
        {"redirect_uri": "https://rp.example/other"},
        {"code_verifier": "w" * 43},
        {"code_verifier": None},
        {"now": T + 60},
    ],
)
def test_a_code_is_bound_to_client_redirect_verifier_and_time(kwargs: dict[str, Any]) -> None:
    """Another client, redirect URI or verifier, or a late redemption, is invalid_grant."""
    args: dict[str, Any] = {
        "client_id": "c1",
        "redirect_uri": "https://rp.example/cb",
        "code_verifier": "v" * 43,
        "now": T,
    }
    check_redemption(_grant(), **args)
    args.update(kwargs)
    with pytest.raises(ProtocolError, match="invalid_grant"):
        check_redemption(_grant(), **args)


KEY = bytes(range(32))


def test_a_sealed_code_opens_to_its_grant_and_hides_it() -> None:
    """seal_code and open_code round-trip; the code shows none of the grant in clear."""
    grant = _grant(claims={"given_name": "Amara"}, nonce="n-123")
    code = seal_code(KEY, grant, salt=b"s" * 16)
    assert open_code(KEY, code) == grant
    assert "Amara" not in code
    assert "n-123" not in code
    assert seal_code(KEY, grant, salt=b"t" * 16) != code


def test_the_longest_code_fits_a_parameter() -> None:
    """With a 512-character nonce and a 512-character redirect_uri, the code stays within
    the 2,048 characters a parameter may have."""
    grant = _grant(
        nonce="n" * 512,
        redirect_uri_hash=redirect_uri_hash("https://rp.example/" + "x" * 493),
        claims={"given_name": "A" * 100, "family_name": "B" * 100, "birthdate": "1990-05-17"},
    )
    assert len(seal_code(KEY, grant, salt=b"s" * 16)) < 2048


@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_a_tampered_code_is_unknown(position: int, flip: int) -> None:
    """Any byte of a code changed, or another key: invalid_grant, never another grant."""
    code = seal_code(KEY, _grant(), salt=b"s" * 16)
    raw = bytearray(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4)))
    raw[position % len(raw)] ^= flip
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(ProtocolError, match="invalid_grant"):
        open_code(KEY, tampered)
    with pytest.raises(ProtocolError, match="invalid_grant"):
        open_code(bytes(32), code)


@pytest.mark.parametrize("code", [None, "", "x", "x" * 3000, "~~~~", 7])
def test_what_is_not_a_code_is_unknown(code: object) -> None:
    """Missing, empty, oversize, non-base64url or non-string codes: invalid_grant."""
    with pytest.raises(ProtocolError, match="invalid_grant"):
        open_code(KEY, code)


@pytest.mark.parametrize(
    "metadata",
    [
        {"redirect_uris": ["http://rp.example/cb"]},
        {"redirect_uris": ["https://rp.example/cb#x"]},
        {"redirect_uris": ["https://user@rp.example/cb"]},
        {"redirect_uris": ["javascript:alert(1)"]},
        {"redirect_uris": ["https://rp.example/" + "x" * 600]},
        {"redirect_uris": "https://rp.example/cb"},
        {"jwks_uri": "https://rp.example/jwks"},
        {"token_endpoint_auth_method": "none"},
        {"grant_types": ["implicit"]},
        {"response_types": ["code id_token"]},
        {"backchannel_logout_session_required": "yes"},
        {"client_name": ""},
    ],
)
def test_metadata_outside_the_rules_is_refused(metadata: dict[str, Any]) -> None:
    """Each rule of read_client_metadata refuses with an RFC 7591 error."""
    with pytest.raises(ProtocolError) as caught:
        read_client_metadata({"redirect_uris": ["https://rp.example/cb"], **metadata})
    assert caught.value.oauth_error in ("invalid_redirect_uri", "invalid_client_metadata")


def test_basic_credentials_are_form_decoded() -> None:
    """RFC 6749 §2.3.1: client id and secret are form-urlencoded inside Basic."""
    header = "Basic " + base64.b64encode(b"c%3A1:s+p%25").decode()
    assert read_basic(header) == ("c:1", "s p%")
    assert read_basic("Bearer x") is None
    with pytest.raises(ProtocolError, match="invalid_client"):
        read_basic("Basic !!!")
    verify_client_secret(_client(), "s3cret")
    with pytest.raises(ProtocolError, match="invalid_client"):
        verify_client_secret(_client(), "wrong")


def test_client_assertions_follow_rfc_7523() -> None:
    """A good assertion yields its jti; an EdDSA key, wrong iss/sub, aud or a far exp do not."""
    key = PrivateKey.generate("ES256")
    client = _client(
        token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key.public_key.to_jwk()]}
    )
    aud = ("https://op.example/oidc/token", "https://op.example")

    def assertion(**changes: Any) -> str:
        claims = {"iss": "c1", "sub": "c1", "aud": aud[0], "exp": T + 60, "jti": "j1"}
        claims.update(changes)
        return sign_jwt(key, claims)

    assert verify_client_assertion(client, assertion(), audiences=aud, now=T).jti == "j1"
    assert verify_client_assertion(client, assertion(aud=aud[1]), audiences=aud, now=T)
    for bad in (
        assertion(iss="c2"),
        assertion(sub="c2"),
        assertion(aud="https://elsewhere"),
        assertion(exp=T + 3600),
        assertion(exp=T - 3600),
        assertion(jti=None),
        sign_jwt(PrivateKey.generate("ES256"), {"iss": "c1"}),
        "not-a-jwt",
        "a" * 10_000,
    ):
        with pytest.raises(ProtocolError, match="invalid_client"):
            verify_client_assertion(client, bad, audiences=aud, now=T)
    with pytest.raises(ProtocolError, match="jwks"):
        _client(jwks={"keys": [PrivateKey.generate("EdDSA").public_key.to_jwk()]})


@given(
    st.lists(st.sampled_from(["openid", "profile", "address", "email"]), max_size=4),
    st.sets(
        st.sampled_from(
            [
                "given_name",
                "family_name",
                "birthdate",
                "address",
                "personal_administrative_number",
                "issuing_country",
                "document_number",
            ]
        )
    ),
)
def test_released_claims_never_carry_the_pid_numbers(scope: list[str], allowed: set[str]) -> None:
    """Whatever the scope and registration, a client never learns the PID's identifiers, and
    only claims both allowed and presented."""
    presented = {
        "given_name": "A",
        "family_name": "O",
        "birthdate": "1990-05-17",
        "address": {"locality": "Leeds"},
        "personal_administrative_number": "QQ123456C",
        "issuing_country": "GB",
        "document_number": "1",
    }
    out = released_claims(scope, presented, allowed)
    assert not {"personal_administrative_number", "issuing_country", "document_number"} & set(out)
    assert set(out) <= allowed


def test_errors_are_registered() -> None:
    """Every code the provider raises is in the one list."""
    for code in ("invalid_client", "invalid_client_metadata", "login_required", "login_pending"):
        CivicError(code)
