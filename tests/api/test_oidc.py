"""One login over HTTP: an independent relying party (authlib) completes the code flow against
the provider, and the negative cases of the OpenID Foundation's Basic OP conformance plan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from civicstack.sso import ASSERTION_TYPE
from civicstack.testing import FixedClock
from tests.api.conftest import World
from tests.api.oidc_support import (
    ISSUER,
    RelyingParty,
    Sink,
    holder,
    oidc_world,
    query_of,
    register,
    sign_in,
)


@pytest.fixture
def op(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[tuple[World, Sink]]:
    """The demo world with a back-channel sink, on SQLite then PostgreSQL."""
    world, sink = oidc_world(database_url, tmp_path, clock)
    with world.client:
        yield world, sink
    world.platform.close()


def test_authlib_client_completes_the_code_flow(op: tuple[World, Sink], tmp_path: Path) -> None:
    """authlib's OAuth2Client (PKCE S256, client_secret_basic) gets a code after a wallet
    presentation, redeems it, and the ID token verifies against the JWKS with iss, aud, nonce;
    UserInfo gives the same pairwise sub and the profile claims, never the PID's number."""
    world, _ = op
    rp = RelyingParty(world, register(world, "hmrc"))
    location = sign_in(world, rp, holder(world, tmp_path))
    params = query_of(location)
    assert location.startswith("https://tax.example/callback?")
    assert params["state"] == rp.state
    assert params["iss"] == ISSUER
    token = rp.fetch_token(location)
    assert token["token_type"] == "Bearer"
    claims = rp.id_token_claims(token["id_token"])
    assert claims["acr"] == "urn:civicstack:acr:wallet-pid"
    assert claims["auth_time"] == world.clock.now()
    assert len(claims["sub"]) == 43
    info = rp.oauth.get(f"{ISSUER}/oidc/userinfo").json()
    assert info == {
        "sub": claims["sub"],
        "given_name": "Amara",
        "family_name": "Okafor",
        "birthdate": "1990-05-17",
    }
    assert claims["sub"] == world.platform.pairwise_id(
        "hmrc", __import__("civicstack.pairwise").pairwise.Subject("GB", "QQ123456C")
    )


# --- the negative cases of the Basic OP plan -------------------------------------------------


def test_wrong_redirect_uri_is_shown_not_redirected(op: tuple[World, Sink]) -> None:
    """A redirect_uri not registered for the client gets an error page, never a redirect."""
    world, _ = op
    reg = register(world)
    rp = RelyingParty(world, {**reg, "redirect_uris": ["https://evil.example/cb"]})
    r = world.client.get(rp.authorization_url(), follow_redirects=False)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "invalid_redirect_uri" in r.text


def test_unknown_client_is_shown_not_redirected(op: tuple[World, Sink]) -> None:
    """An unknown client_id gets an error page."""
    world, _ = op
    rp = RelyingParty(world, {**register(world), "client_id": "nobody"})
    r = world.client.get(rp.authorization_url(), follow_redirects=False)
    assert r.status_code == 401
    assert "invalid_client" in r.text


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_bad_requests_are_redirected_with_state(
    op: tuple[World, Sink], change: dict[str, str | None], error: str
) -> None:
    """After the client and redirect_uri check out, errors go back to the client with the
    request's state (RFC 6749 §4.1.2.1): plain PKCE, no challenge, implicit flow, no openid,
    prompt=none without a session."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    url = rp.authorization_url()
    parts = dict(query_of(url))
    for name, value in change.items():
        if value is None:
            parts.pop(name, None)
        else:
            parts[name] = value
    r = world.client.get("/oidc/authorize", params=parts, follow_redirects=False)
    assert r.status_code == 303, r.text
    back = query_of(r.headers["location"])
    assert back["error"] == error
    assert back["state"] == rp.state


def test_reused_code_fails_and_revokes_its_tokens(op: tuple[World, Sink], tmp_path: Path) -> None:
    """A code redeemed twice gets invalid_grant, and the access token of the first use stops
    working (RFC 6749 §4.1.2)."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    location = sign_in(world, rp, holder(world, tmp_path))
    token = rp.fetch_token(location)
    assert rp.oauth.get(f"{ISSUER}/oidc/userinfo").status_code == 200
    again = _token_request(world, rp, location)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    r = world.client.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


def _token_request(world: World, rp: RelyingParty, location: str, **form: str) -> Any:
    import base64

    basic = base64.b64encode(
        f"{rp.registration['client_id']}:{rp.registration['client_secret']}".encode()
    ).decode()
    body = {
        "grant_type": "authorization_code",
        "code": query_of(location)["code"],
        "redirect_uri": rp.registration["redirect_uris"][0],
        "code_verifier": rp.verifier,
        **form,
    }
    return world.client.post("/oidc/token", data=body, headers={"Authorization": f"Basic {basic}"})


def test_wrong_pkce_verifier_fails(op: tuple[World, Sink], tmp_path: Path) -> None:
    """A code_verifier that does not hash to the challenge gets invalid_grant."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    location = sign_in(world, rp, holder(world, tmp_path))
    r = _token_request(world, rp, location, code_verifier="x" * 64)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert r.headers["cache-control"] == "no-store"


def test_expired_code_fails(op: tuple[World, Sink], tmp_path: Path) -> None:
    """A code redeemed after its minute gets invalid_grant."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    location = sign_in(world, rp, holder(world, tmp_path))
    world.clock.advance(61)
    r = _token_request(world, rp, location)
    assert r.json()["error"] == "invalid_grant"


def test_wrong_redirect_uri_at_the_token_endpoint_fails(
    op: tuple[World, Sink], tmp_path: Path
) -> None:
    """The token request's redirect_uri must be the authorization request's."""
    world, _ = op
    reg = register(world, redirect_uris=["https://tax.example/callback", "https://tax.example/b"])
    rp = RelyingParty(world, reg)
    location = sign_in(world, rp, holder(world, tmp_path))
    r = _token_request(world, rp, location, redirect_uri="https://tax.example/b")
    assert r.json()["error"] == "invalid_grant"


def test_wrong_client_secret_fails(op: tuple[World, Sink], tmp_path: Path) -> None:
    """client_secret_basic with a wrong secret gets 401 invalid_client with a Basic challenge."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    location = sign_in(world, rp, holder(world, tmp_path))
    rp.registration["client_secret"] = "wrong"
    r = _token_request(world, rp, location)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic")


def test_code_of_another_client_fails(op: tuple[World, Sink], tmp_path: Path) -> None:
    """A code issued to one client cannot be redeemed by another of the same organisation."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    other = RelyingParty(world, register(world))
    location = sign_in(world, rp, holder(world, tmp_path))
    other.verifier = rp.verifier
    r = _token_request(world, other, location)
    assert r.json()["error"] == "invalid_grant"


# --- private_key_jwt and RS256 -----------------------------------------------------------------


def _assertion(key: Any, client_id: str, **claims: Any) -> str:
    from joserfc import jwt

    now = claims.pop("now")
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{ISSUER}/oidc/token",
        "exp": now + 60,
        "iat": now,
        "jti": claims.pop("jti", "jti-1"),
        **claims,
    }
    alg = "RS256" if key.key_type == "RSA" else "ES256"
    return jwt.encode({"alg": alg}, body, key)


def _key_jwt_token(world: World, rp: RelyingParty, location: str, assertion: str) -> Any:
    return world.client.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": rp.registration["redirect_uris"][0],
            "code_verifier": rp.verifier,
            "client_id": rp.registration["client_id"],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


@pytest.mark.parametrize("kty", ["EC", "RSA"])
def test_private_key_jwt_client(op: tuple[World, Sink], tmp_path: Path, kty: str) -> None:
    """A client authenticating with private_key_jwt (an ES256 or RS256 key) gets its tokens;
    with RS256 it asked for RS256 ID tokens, which verify against the JWKS; its jti is refused
    the second time, and an assertion signed by another key is invalid_client."""
    from joserfc.jwk import ECKey, RSAKey

    world, _ = op
    key = ECKey.generate_key("P-256") if kty == "EC" else RSAKey.generate_key(2048)
    alg = "ES256" if kty == "EC" else "RS256"
    reg = register(
        world,
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
        id_token_signed_response_alg=alg,
    )
    assert "client_secret" not in reg
    rp = RelyingParty(world, reg)
    wallet = holder(world, tmp_path)
    # a foreign key first: refused
    stranger = ECKey.generate_key("P-256")
    location = sign_in(world, rp, wallet)
    now = world.clock.now()
    r = _key_jwt_token(world, rp, location, _assertion(stranger, reg["client_id"], now=now))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    # the right key: tokens, and an ID token signed with the registered algorithm
    location = sign_in(world, rp, None)  # the SSO session signs in again without a wallet
    r = _key_jwt_token(world, rp, location, _assertion(key, reg["client_id"], now=now))
    assert r.status_code == 200, r.text
    claims = rp.id_token_claims(r.json()["id_token"], algorithms=(alg,))
    assert claims["aud"] == reg["client_id"]
    # the same jti again: a replay
    location = sign_in(world, rp, None)
    r = _key_jwt_token(world, rp, location, _assertion(key, reg["client_id"], now=now))
    assert r.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "change",
    [{"aud": "https://elsewhere.example"}, {"iss": "someone"}, {"exp_offset": -3600}],
)
def test_bad_client_assertions_fail(
    op: tuple[World, Sink], tmp_path: Path, change: dict[str, Any]
) -> None:
    """A client assertion for another audience, from another issuer, or expired, is
    invalid_client (RFC 7523 §3)."""
    from joserfc.jwk import ECKey

    world, _ = op
    key = ECKey.generate_key("P-256")
    reg = register(
        world, token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key.as_dict()]}
    )
    rp = RelyingParty(world, reg)
    location = sign_in(world, rp, holder(world, tmp_path))
    now = world.clock.now()
    extra = dict(change)
    if "exp_offset" in extra:
        extra["exp"] = now + extra.pop("exp_offset")
    r = _key_jwt_token(world, rp, location, _assertion(key, reg["client_id"], now=now, **extra))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


# --- pairwise subjects and single sign-on -------------------------------------------------------


def test_pairwise_subs_and_single_sign_on(op: tuple[World, Sink], tmp_path: Path) -> None:
    """Two clients of one organisation see the same sub, a client of another organisation a
    different one; after one presentation, clients asking for no more sign in without the
    wallet."""
    world, _ = op
    tax = RelyingParty(world, register(world, "hmrc"))
    tax2 = RelyingParty(world, register(world, "hmrc"))
    council = RelyingParty(world, register(world, "council"), scope="openid profile address")
    subs = {}
    # the council asks for the address too, so it signs the citizen in first
    for name, rp, wallet in (
        ("council", council, holder(world, tmp_path)),
        ("tax", tax, None),
        ("tax2", tax2, None),
    ):
        location = sign_in(world, rp, wallet)
        token = rp.fetch_token(location)
        subs[name] = rp.id_token_claims(token["id_token"])["sub"]
    assert subs["tax"] == subs["tax2"]
    assert subs["tax"] != subs["council"]
    address = council.oauth.get(f"{ISSUER}/oidc/userinfo").json()["address"]
    assert address["locality"] == "Leeds"


def test_prompt_login_asks_for_the_wallet_again(op: tuple[World, Sink], tmp_path: Path) -> None:
    """prompt=login sends the citizen to present again despite the session."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    sign_in(world, rp, holder(world, tmp_path))
    r = world.client.get(rp.authorization_url(prompt="login"), follow_redirects=False)
    assert "/oidc/login/" in r.headers["location"]


def test_continue_before_presenting_says_so(op: tuple[World, Sink]) -> None:
    """Continuing before the wallet has presented shows the page again with an error."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    r = world.client.get(rp.authorization_url(), follow_redirects=False)
    page = world.client.get(r.headers["location"])
    from tests.api.oidc_support import field_value

    again = world.client.post(
        r.headers["location"], data={"csrf": field_value(page.text, "csrf")}, follow_redirects=False
    )
    assert again.status_code == 409
    assert "has not shared your details yet" in again.text
    forged = world.client.post(r.headers["location"], data={"csrf": "x"}, follow_redirects=False)
    assert forged.status_code == 403


# --- discovery and registration -----------------------------------------------------------------


def test_discovery_document(op: tuple[World, Sink]) -> None:
    """The discovery document names the issuer, every endpoint, S256 only, ES256 and RS256,
    pairwise subjects and back-channel logout; the JWKS holds an ES256 and an RS256 key."""
    world, _ = op
    meta = world.client.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER
    assert meta["registration_endpoint"] == f"{ISSUER}/oidc/register"
    assert meta["end_session_endpoint"] == f"{ISSUER}/oidc/logout"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert meta["backchannel_logout_supported"] is True
    keys = world.client.get(meta["jwks_uri"].removeprefix(ISSUER)).json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
    assert all("d" not in k for k in keys)


def test_registration_needs_a_token(op: tuple[World, Sink]) -> None:
    """Without a bearer token, or with a wrong one, registration is refused with 401."""
    world, _ = op
    body = {"redirect_uris": ["https://a.example/cb"]}
    assert world.client.post("/oidc/register", json=body).status_code == 401
    r = world.client.post("/oidc/register", json=body, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


def test_initial_access_token_registers_for_its_organisation(op: tuple[World, Sink]) -> None:
    """An initial access token minted for the council registers council clients only."""
    world, _ = op
    token = world.platform.sso.mint_initial_access_token("council")
    reg = register(world, token=token, client_name="Council tax")
    assert reg["organisation"] == "council"
    assert reg["subject_type"] == "pairwise"
    r = world.client.post(
        "/oidc/register",
        json={"redirect_uris": ["https://a.example/cb"], "organisation": "hmrc"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403


def test_initial_access_token_for_an_organisation_that_cannot_sign_in(
    op: tuple[World, Sink],
) -> None:
    """An organisation not registered for sign_in gets no registration token."""
    world, _ = op
    with pytest.raises(Exception, match="sign_in"):
        world.platform.sso.mint_initial_access_token("shop")


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": ["http://tax.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://tax.example/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_client_metadata"),
        ({}, "invalid_redirect_uri"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "invalid_client_metadata"),
        ({"id_token_signed_response_alg": "HS256"}, "invalid_client_metadata"),
        ({"id_token_signed_response_alg": "none"}, "invalid_client_metadata"),
        ({"subject_type": "public"}, "invalid_client_metadata"),
        ({"jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "http://rp.example/logout"}, "invalid_redirect_uri"),
        ({"organisation": "shop"}, "invalid_client_metadata"),
        ({"organisation": "nobody-here"}, "invalid_client_metadata"),
    ],
)
def test_bad_metadata_is_refused(
    op: tuple[World, Sink], metadata: dict[str, Any], error: str
) -> None:
    """Metadata outside what the provider allows is refused with RFC 7591's error codes."""
    world, _ = op
    body = {"redirect_uris": ["https://a.example/cb"], "organisation": "hmrc", **metadata}
    if metadata == {}:
        body.pop("redirect_uris")
    r = world.client.post(
        "/oidc/register",
        json=body,
        headers={"Authorization": f"Bearer {world.platform.admin_token}"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == error


def test_loopback_redirect_uris_are_allowed(op: tuple[World, Sink]) -> None:
    """http is allowed on 127.0.0.1 and localhost (RFC 8252 §7.3)."""
    world, _ = op
    reg = register(world, redirect_uris=["http://127.0.0.1:8765/cb", "http://localhost/cb"])
    assert reg["redirect_uris"] == ["http://127.0.0.1:8765/cb", "http://localhost/cb"]


# --- logout -------------------------------------------------------------------------------------


def test_logout_tells_every_client_by_back_channel(op: tuple[World, Sink], tmp_path: Path) -> None:
    """RP-initiated logout with an id_token_hint ends the session, posts a signed logout token
    (typ logout+jwt, the backchannel event, the sid, no nonce) to each client of the session,
    and sends the browser to the registered post_logout_redirect_uri with its state."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    world, sink = op
    extra = {
        "post_logout_redirect_uris": ["https://tax.example/bye"],
    }
    tax = RelyingParty(
        world, register(world, backchannel_logout_uri="https://tax.example/bclogout", **extra)
    )
    gp = RelyingParty(
        world,
        register(
            world,
            "gp-newtown",
            backchannel_logout_uri="https://gp.example/bclogout",
            redirect_uris=["https://gp.example/cb"],
        ),
    )
    id_tokens = {}
    for rp, wallet in ((tax, holder(world, tmp_path)), (gp, None)):
        token = rp.fetch_token(sign_in(world, rp, wallet))
        id_tokens[rp.registration["client_id"]] = rp.id_token_claims(token["id_token"]), token
    hint = id_tokens[tax.registration["client_id"]][1]["id_token"]
    r = world.client.get(
        "/oidc/logout",
        params={
            "id_token_hint": hint,
            "post_logout_redirect_uri": "https://tax.example/bye",
            "state": "s123",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "https://tax.example/bye?state=s123"
    assert sorted(u for u, _ in sink.received) == [
        "https://gp.example/bclogout",
        "https://tax.example/bclogout",
    ]
    keys = KeySet.import_key_set(world.client.get("/oidc/jwks").json())
    for uri, logout_token in sink.received:
        decoded = jwt.decode(logout_token, keys, algorithms=["ES256"])
        assert decoded.header["typ"] == "logout+jwt"
        claims = decoded.claims
        rp = tax if "tax" in uri else gp
        id_claims = id_tokens[rp.registration["client_id"]][0]
        assert claims["aud"] == rp.registration["client_id"]
        assert claims["sub"] == id_claims["sub"]
        assert claims["sid"] == id_claims["sid"]
        assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
        assert "nonce" not in claims
    # the session is over: the next sign-in asks for the wallet
    again = world.client.get(tax.authorization_url(), follow_redirects=False)
    assert "/oidc/login/" in again.headers["location"]


def test_unregistered_post_logout_redirect_is_refused(
    op: tuple[World, Sink], tmp_path: Path
) -> None:
    """A post_logout_redirect_uri the client did not register is refused, not followed."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    token = rp.fetch_token(sign_in(world, rp, holder(world, tmp_path)))
    r = world.client.get(
        "/oidc/logout",
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "location" not in r.headers


def test_logout_without_hint_asks_first(op: tuple[World, Sink], tmp_path: Path) -> None:
    """Without an id_token_hint the provider asks the citizen, and a confirmed form signs out."""
    from tests.api.oidc_support import field_value

    world, _ = op
    rp = RelyingParty(world, register(world))
    sign_in(world, rp, holder(world, tmp_path))
    page = world.client.get("/oidc/logout")
    assert "Do you want to sign out?" in page.text
    done = world.client.post("/oidc/logout", data={"csrf": field_value(page.text, "csrf")})
    assert "You are signed out" in done.text


def test_sessions_page_lists_and_ends_sessions(op: tuple[World, Sink], tmp_path: Path) -> None:
    """The citizen sees the session and its services, and ending it logs the services out."""
    from tests.api.oidc_support import field_value

    world, sink = op
    rp = RelyingParty(
        world,
        register(world, client_name="Your tax", backchannel_logout_uri="https://tax.example/bc"),
    )
    sign_in(world, rp, holder(world, tmp_path))
    page = world.client.get("/oidc/sessions")
    assert page.status_code == 200
    assert "Your tax" in page.text
    import re

    sid = re.search(r'action="sessions/([^/]+)/end"', page.text)
    assert sid
    done = world.client.post(
        f"/oidc/sessions/{sid.group(1)}/end", data={"csrf": field_value(page.text, "csrf")}
    )
    assert "You are signed out" in done.text
    assert [u for u, _ in sink.received] == ["https://tax.example/bc"]
    assert world.client.get("/oidc/sessions").status_code == 401


# --- hostile input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/oidc/authorize", {"params": {"client_id": "x" * 5000}}, 400),
        ("GET", "/oidc/authorize", {"params": [("client_id", "a"), ("client_id", "b")]}, 400),
        ("GET", "/oidc/authorize?%ff=%fe", {}, 400),
        ("GET", "/oidc/authorize", {"params": {f"p{i}": "v" for i in range(40)}}, 400),
        (
            "POST",
            "/oidc/token",
            {
                "content": b"\xff\xfe",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            400,
        ),
        ("POST", "/oidc/token", {"json": {"grant_type": "authorization_code"}}, 400),
        ("POST", "/oidc/token", {"data": {"grant_type": "authorization_code"}}, 401),
        ("POST", "/oidc/token", {"data": {"code": "x" * 30000}}, 400),
        (
            "POST",
            "/oidc/token",
            {
                "data": {
                    "client_id": "x",
                    "client_assertion": "a.b.c",
                    "client_assertion_type": ASSERTION_TYPE,
                }
            },
            401,
        ),
        (
            "POST",
            "/oidc/token",
            {"headers": {"authorization": "Basic !!!"}, "data": {"a": "b"}},
            401,
        ),
        (
            "POST",
            "/oidc/token",
            {
                "content": b"a=" + b"x" * 40000,
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            413,
        ),
        ("GET", "/oidc/userinfo", {"headers": {"authorization": "Bearer " + "x" * 500}}, 401),
        (
            "POST",
            "/oidc/register",
            {"content": b"[1,2", "headers": {"authorization": "Bearer x"}},
            400,
        ),
        ("GET", "/oidc/login/" + "x" * 300, {}, 404),
        ("POST", "/oidc/login/abc", {"data": {"csrf": "x"}}, 403),
        ("GET", "/oidc/logout", {"params": {"id_token_hint": "not.a.jwt"}}, 400),
        ("POST", "/oidc/sessions/abc/end", {"data": {"a": "b"}}, 403),
    ],
)
def test_hostile_input_gets_stable_errors(
    op: tuple[World, Sink], method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    """Oversize, duplicated, undecodable and malformed parameters get a stable 4xx, never 500."""
    world, _ = op
    r = world.client.request(method, path, follow_redirects=False, **kwargs)
    assert r.status_code == status, r.text


def test_a_refused_redemption_writes_nothing(op: tuple[World, Sink], tmp_path: Path) -> None:
    """A redemption refused for its verifier leaves the code to its client (nothing is
    written), which then redeems it once."""
    world, _ = op
    rp = RelyingParty(world, register(world))
    location = sign_in(world, rp, holder(world, tmp_path))
    assert _token_request(world, rp, location, code_verifier="w" * 50).status_code == 400
    assert _token_request(world, rp, location).status_code == 200
    assert _token_request(world, rp, location).json()["error"] == "invalid_grant"
