"""An ordinary OpenID Connect relying party over HTTP: what a government service runs to sign
citizens in with one login, written from the specs, talking to the provider only over HTTP.

* discovery (Discovery 1.0 §4) and the JWKS, fetched with httpx and cached for five minutes;
* the authorization request with ``state``, ``nonce`` and PKCE S256 (OIDC Core §3.1.2.1,
  RFC 7636 §4.1–§4.3);
* the callback (§3.1.2.5–§3.1.2.7, RFC 9207): ``state`` matched, ``iss`` checked, the code
  redeemed with ``client_secret_basic`` and the verifier (§3.1.3.1);
* the ID token validated as §3.1.3.7 lists: signature by the provider's key with the
  registered algorithm, ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``, ``at_hash``;
* UserInfo (§5.3) with the access token, its ``sub`` matched to the ID token's (§5.3.2);
* logout tokens (Back-Channel Logout 1.0 §2.6) validated for the back-channel endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from civicstack._crypto import PublicKey, b64url_encode, parse_compact
from civicstack.errors import CivicError

__all__ = ["LoginState", "RelyingParty", "SignIn"]

_SKEW = 60
_CACHE_SECONDS = 300
_BACKCHANNEL = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True, slots=True)
class LoginState:
    """What the browser keeps between the redirect and the callback."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True, slots=True)
class SignIn:
    """A completed sign-in: the ID token's claims, the raw ID token (the logout hint) and
    what UserInfo said."""

    claims: dict[str, Any]
    id_token: str
    userinfo: dict[str, Any]


def _fail(detail: str) -> CivicError:
    return CivicError("invalid_signature" if "signature" in detail else "unauthorized", detail)


class RelyingParty:
    """One registered client of the provider at ``issuer``."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        http: httpx.Client,
        alg: str = "ES256",
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.http = http
        self.alg = alg
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, dict[str, PublicKey]] | None = None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached)."""
        if self._metadata is None or time.monotonic() - self._metadata[0] > _CACHE_SECONDS:
            answer = self.http.get(f"{self.issuer}/.well-known/openid-configuration")
            if answer.status_code != 200:
                raise CivicError("fetch_failed", "the provider's discovery document")
            meta = answer.json()
            if meta.get("issuer") != self.issuer:  # Discovery 1.0 §4.3
                raise CivicError("fetch_failed", "the discovery document names another issuer")
            self._metadata = (time.monotonic(), meta)
        return self._metadata[1]

    def _key(self, kid: object) -> PublicKey:
        if (
            self._keys is None
            or time.monotonic() - self._keys[0] > _CACHE_SECONDS
            or (kid not in self._keys[1])
        ):
            answer = self.http.get(self.metadata()["jwks_uri"])
            keys = {
                str(jwk.get("kid")): PublicKey.from_jwk(jwk, rsa=True)
                for jwk in answer.json().get("keys", [])
            }
            self._keys = (time.monotonic(), keys)
        key = self._keys[1].get(str(kid))
        if key is None:
            raise _fail("the token's signature key is not the provider's")
        return key

    def start(self, scope: str = "openid profile") -> tuple[str, LoginState]:
        """The authorization URL to send the browser to, and the state to keep."""
        login = LoginState(
            state=secrets.token_urlsafe(16),
            nonce=secrets.token_urlsafe(16),
            verifier=secrets.token_urlsafe(48),
        )
        challenge = b64url_encode(hashlib.sha256(login.verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": scope,
                "state": login.state,
                "nonce": login.nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.metadata()['authorization_endpoint']}?{query}", login

    def finish(self, params: dict[str, str], login: LoginState, *, now: int) -> SignIn:
        """Complete the sign-in from the callback's query ``params``."""
        # 1. the answer is to our request, from our provider (RFC 9207 §2.4)
        if params.get("state") != login.state:
            raise _fail("the callback's state is not ours")
        if "iss" in params and params["iss"] != self.issuer:
            raise _fail("the callback comes from another issuer")
        if "error" in params:
            raise CivicError("unauthorized", f"sign-in refused: {params['error']}")
        # 2. the code redeemed (client_secret_basic, RFC 6749 §2.3.1)
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        answer = self.http.post(
            self.metadata()["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": params.get("code", ""),
                "redirect_uri": self.redirect_uri,
                "code_verifier": login.verifier,
            },
            headers={"Authorization": f"Basic {basic}"},
        )
        if answer.status_code != 200:
            raise _fail(f"the token endpoint refused the code ({answer.status_code})")
        tokens = answer.json()
        # 3. the ID token (§3.1.3.7)
        claims = self.verify(tokens["id_token"], now=now)
        if claims.get("nonce") != login.nonce:
            raise _fail("the ID token's nonce is not ours")
        digest = hashlib.sha256(tokens["access_token"].encode()).digest()[:16]
        if claims.get("at_hash") not in (None, b64url_encode(digest)):
            raise _fail("at_hash does not match the access token")
        # 4. UserInfo, about the same sub (§5.3.2)
        info = self.http.get(
            self.metadata()["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        ).json()
        if info.get("sub") != claims["sub"]:
            raise _fail("UserInfo is about someone else")
        return SignIn(claims, tokens["id_token"], info)

    def verify(self, token: str, *, now: int, typ: str | None = None) -> dict[str, Any]:
        """A JWT from the provider: signed with its key and our algorithm, for us, in date."""
        try:
            jws = parse_compact(token, max_bytes=16 * 1024)
            if jws.header.get("alg") != self.alg:
                raise _fail(f"the token is not signed with {self.alg}")
            if typ is not None and jws.header.get("typ") != typ:
                raise _fail(f"the token is not typed {typ}")
            jws.verify(self._key(jws.header.get("kid")), algorithms=(self.alg,))
            claims = jws.payload_json()
        except CivicError as exc:
            raise _fail(f"the token's signature does not verify: {exc.detail}") from exc
        aud = claims.get("aud")
        if claims.get("iss") != self.issuer or self.client_id not in (
            aud if isinstance(aud, list) else [aud]
        ):
            raise _fail("the token is for another audience or from another issuer")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int) or exp < now - _SKEW:
            raise _fail("the token has expired")
        if not isinstance(iat, int) or iat > now + _SKEW:
            raise _fail("the token was issued in the future")
        return claims

    def logout_token(self, token: str, *, now: int) -> str:
        """The ``sid`` of a valid logout token (Back-Channel Logout 1.0 §2.6)."""
        claims = self.verify(token, now=now, typ="logout+jwt")
        events = claims.get("events")
        if not isinstance(events, dict) or _BACKCHANNEL not in events or "nonce" in claims:
            raise _fail("not a back-channel logout token")
        sid = claims.get("sid")
        if not isinstance(sid, str):
            raise _fail("the logout token names no session")
        return sid

    def logout_url(self, id_token: str, post_logout_redirect_uri: str) -> str:
        """RP-Initiated Logout 1.0 §2: the end-session URL with our hint and return address."""
        query = urlencode(
            {"id_token_hint": id_token, "post_logout_redirect_uri": post_logout_redirect_uri}
        )
        return f"{self.metadata()['end_session_endpoint']}?{query}"
