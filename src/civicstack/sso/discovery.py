"""The provider's metadata (OpenID Connect Discovery 1.0 §3), served at
``/.well-known/openid-configuration`` (§4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from civicstack.sso.clients import AUTH_METHODS, ID_TOKEN_ALGS
from civicstack.sso.sessions import SCOPE_CLAIMS

__all__ = ["Endpoints", "provider_metadata"]


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the provider answers: the issuer and its endpoints under ``base`` (``/oidc``)."""

    issuer: str
    base: str

    @property
    def authorization(self) -> str:
        """The authorization endpoint (§3.1.2)."""
        return f"{self.base}/authorize"

    @property
    def token(self) -> str:
        """The token endpoint (§3.1.3)."""
        return f"{self.base}/token"

    @property
    def userinfo(self) -> str:
        """The UserInfo endpoint (§5.3)."""
        return f"{self.base}/userinfo"

    @property
    def jwks(self) -> str:
        """The provider's keys."""
        return f"{self.base}/jwks"

    @property
    def registration(self) -> str:
        """Dynamic client registration (RFC 7591 §3)."""
        return f"{self.base}/register"

    @property
    def end_session(self) -> str:
        """RP-Initiated Logout 1.0 §2."""
        return f"{self.base}/logout"


def provider_metadata(endpoints: Endpoints) -> dict[str, Any]:
    """Discovery 1.0 §3, with what this provider supports and nothing more."""
    claims = sorted({c for cs in SCOPE_CLAIMS.values() for c in cs})
    return {
        "issuer": endpoints.issuer,
        "authorization_endpoint": endpoints.authorization,
        "token_endpoint": endpoints.token,
        "userinfo_endpoint": endpoints.userinfo,
        "jwks_uri": endpoints.jwks,
        "registration_endpoint": endpoints.registration,
        "end_session_endpoint": endpoints.end_session,
        "scopes_supported": ["openid", *SCOPE_CLAIMS],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "sid",
            "at_hash",
            *claims,
        ],
        "prompt_values_supported": ["none", "login"],
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }
