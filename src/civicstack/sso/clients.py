"""Client registration metadata: RFC 7591 §2 with OpenID Connect Dynamic Client Registration
1.0 §2, as this provider allows it.

:func:`read_client_metadata` validates what a client sends (``invalid_client_metadata`` or
``invalid_redirect_uri``, RFC 7591 §3.2.2) and fills the defaults:

1. ``redirect_uris`` (required): ``https`` URLs, or ``http`` on the loopback host
   (``127.0.0.1``, ``localhost``: RFC 8252 §7.3 for native apps and developers); no fragment
   (RFC 6749 §3.1.2);
2. ``response_types`` ``["code"]`` and ``grant_types`` ``["authorization_code"]`` only;
3. ``token_endpoint_auth_method`` ``client_secret_basic`` (default) or ``private_key_jwt``;
   the latter needs ``jwks`` by value (ES256 or RSA keys; ``jwks_uri`` is not fetched);
4. ``id_token_signed_response_alg`` ``ES256`` (default) or ``RS256``;
5. ``subject_type`` ``pairwise`` only (OIDC Core §8: this provider never issues public subs);
6. ``backchannel_logout_uri`` (Back-Channel Logout 1.0 §2.2) and ``post_logout_redirect_uris``
   (RP-Initiated Logout 1.0 §3.1) under the rules of step 1.

A :class:`Client` is a registered client: its id, the organisation it belongs to (the sector
of its pairwise subs), the hash of its secret, and its metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from civicstack._crypto import PublicKey
from civicstack.errors import CivicError, ProtocolError

__all__ = [
    "AUTH_METHODS",
    "ID_TOKEN_ALGS",
    "Client",
    "ClientMetadata",
    "InitialAccessToken",
    "check_redirect_uri",
    "read_client_metadata",
]

AUTH_METHODS = ("client_secret_basic", "private_key_jwt")
ID_TOKEN_ALGS = ("ES256", "RS256")
MAX_URIS = 10
MAX_URI = 512
MAX_KEYS = 8
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})


def _bad(detail: str) -> ProtocolError:
    return ProtocolError("invalid_client_metadata", "invalid_client_metadata", detail)


def check_redirect_uri(uri: object, what: str = "redirect_uri") -> str:
    """``uri`` if it is an https URL or an http URL on the loopback host, with no fragment."""
    if not isinstance(uri, str) or not 0 < len(uri) <= MAX_URI or not uri.isprintable():
        raise ProtocolError("invalid_redirect_uri", "invalid_redirect_uri", f"{what}: bad URI")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError as exc:
        raise ProtocolError("invalid_redirect_uri", "invalid_redirect_uri", f"{what}") from exc
    ok_scheme = parts.scheme == "https" or (
        parts.scheme == "http" and parts.netloc.rsplit(":", 1)[0].lower() in _LOOPBACK
    )
    if not ok_scheme or not host or parts.fragment or "#" in uri or parts.username:
        raise ProtocolError(
            "invalid_redirect_uri",
            "invalid_redirect_uri",
            f"{what} must be https (or http on 127.0.0.1/localhost), without a fragment",
        )
    return uri


def _uris(metadata: Mapping[str, Any], name: str, *, required: bool) -> tuple[str, ...]:
    value = metadata.get(name)
    if value is None:
        if required:
            raise ProtocolError("invalid_redirect_uri", "invalid_redirect_uri", f"{name} needed")
        return ()
    if not isinstance(value, list) or not 0 < len(value) <= MAX_URIS:
        raise _bad(f"{name} must be a list of 1 to {MAX_URIS} URIs")
    return tuple(dict.fromkeys(check_redirect_uri(u, name) for u in value))


def _one_of(metadata: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = metadata.get(name, allowed[0])
    if value not in allowed:
        raise _bad(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def _keys(jwks: object) -> tuple[PublicKey, ...]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise _bad("jwks must be a JWK Set {'keys': [...]}")
    listed = jwks["keys"]
    if not 0 < len(listed) <= MAX_KEYS:
        raise _bad(f"jwks must hold 1 to {MAX_KEYS} keys")
    keys = []
    for jwk in listed:
        try:
            key = PublicKey.from_jwk(jwk, rsa=True)
        except CivicError as exc:
            raise _bad(f"jwks: {exc.detail}") from exc
        if key.alg == "EdDSA":
            raise _bad("jwks: only ES256 (P-256) and RS256 (RSA) keys sign client assertions")
        keys.append(key)
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    """Validated client metadata with defaults filled in."""

    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    id_token_signed_response_alg: str
    client_name: str | None
    jwks: tuple[PublicKey, ...]
    backchannel_logout_uri: str | None
    backchannel_logout_session_required: bool
    post_logout_redirect_uris: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The registered metadata as returned to the client (RFC 7591 §3.2.1)."""
        out: dict[str, Any] = {
            "redirect_uris": list(self.redirect_uris),
            "response_types": ["code"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "subject_type": "pairwise",
            "backchannel_logout_session_required": self.backchannel_logout_session_required,
        }
        if self.client_name is not None:
            out["client_name"] = self.client_name
        if self.jwks:
            out["jwks"] = {"keys": [k.to_jwk() for k in self.jwks]}
        if self.backchannel_logout_uri is not None:
            out["backchannel_logout_uri"] = self.backchannel_logout_uri
        if self.post_logout_redirect_uris:
            out["post_logout_redirect_uris"] = list(self.post_logout_redirect_uris)
        return out


def read_client_metadata(metadata: object) -> ClientMetadata:
    """Validate a registration request's metadata (steps 1–6 of the module docstring)."""
    if not isinstance(metadata, dict):
        raise _bad("the metadata must be a JSON object")
    # 1. redirect URIs
    redirect_uris = _uris(metadata, "redirect_uris", required=True)
    # 2. the code flow only
    if metadata.get("response_types", ["code"]) != ["code"]:
        raise _bad("response_types must be ['code']")
    if metadata.get("grant_types", ["authorization_code"]) != ["authorization_code"]:
        raise _bad("grant_types must be ['authorization_code']")
    # 3. client authentication, with keys by value for private_key_jwt
    method = _one_of(metadata, "token_endpoint_auth_method", AUTH_METHODS)
    if "jwks_uri" in metadata:
        raise _bad("jwks_uri is not supported: give jwks by value")
    jwks = _keys(metadata["jwks"]) if "jwks" in metadata else ()
    if method == "private_key_jwt" and not jwks:
        raise _bad("private_key_jwt needs jwks")
    # 4. ID token algorithm; 5. pairwise subjects only
    alg = _one_of(metadata, "id_token_signed_response_alg", ID_TOKEN_ALGS)
    if metadata.get("subject_type", "pairwise") != "pairwise":
        raise _bad("subject_type must be pairwise")
    for unsupported in ("id_token_encrypted_response_alg", "userinfo_signed_response_alg"):
        if unsupported in metadata:
            raise _bad(f"{unsupported} is not supported")
    # 6. logout
    logout = metadata.get("backchannel_logout_uri")
    if logout is not None:
        logout = check_redirect_uri(logout, "backchannel_logout_uri")
    session_required = metadata.get("backchannel_logout_session_required", True)
    if not isinstance(session_required, bool):
        raise _bad("backchannel_logout_session_required must be a boolean")
    name = metadata.get("client_name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 200):
        raise _bad("client_name must be 1 to 200 characters")
    return ClientMetadata(
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=method,
        id_token_signed_response_alg=alg,
        client_name=name,
        jwks=jwks,
        backchannel_logout_uri=logout,
        backchannel_logout_session_required=session_required,
        post_logout_redirect_uris=_uris(metadata, "post_logout_redirect_uris", required=False),
    )


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client: its id, its organisation (the sector of its subs), the SHA-256 of
    its secret (client_secret_basic), its metadata and when it was registered."""

    client_id: str
    organisation: str
    secret_hash: str | None
    metadata: ClientMetadata
    created_at: int


@dataclass(frozen=True, slots=True)
class InitialAccessToken:
    """A registration token (RFC 7591 §3) minted for one organisation."""

    token_hash: str
    organisation: str
    expires_at: int
