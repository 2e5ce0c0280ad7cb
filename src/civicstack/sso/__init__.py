"""One login: the rules of civicstack's OpenID Provider, without HTTP or storage.

OpenID Connect Core 1.0 (code flow, §3.1), Discovery 1.0, Dynamic Client Registration 1.0 with
RFC 7591, RP-Initiated Logout 1.0 and Back-Channel Logout 1.0, PKCE (RFC 7636, S256 only),
client authentication by ``client_secret_basic`` or ``private_key_jwt`` (RFC 7523), and pairwise
subject identifiers (§8.1, :mod:`civicstack.pairwise`: the sector is the client's registered
organisation, so every client of one organisation sees one ``sub`` for a citizen and two
organisations cannot link theirs).

* :mod:`.authorization` — authorization requests and PKCE;
* :mod:`.clients` — registration metadata and registered clients;
* :mod:`.client_auth` — client authentication at the token endpoint;
* :mod:`.tokens` — codes, access tokens, ID tokens and logout tokens;
* :mod:`.sessions` — SSO sessions, the claims a sign-in asks for and releases;
* :mod:`.discovery` — the provider's metadata (Discovery 1.0 §3).

The service (:mod:`civicstack.services.sso`) joins these to the wallet sign-in (the verifier's
OpenID4VP requests), storage and keys; :mod:`civicstack.api.oidc` serves it.
"""

from civicstack.sso.authorization import (
    AuthorizationError,
    AuthorizationRequest,
    client_and_redirect,
    pkce_challenge,
    read_authorization_request,
    read_params,
    verify_pkce,
)
from civicstack.sso.client_auth import (
    ASSERTION_TYPE,
    AssertionUse,
    hash_secret,
    read_basic,
    verify_client_assertion,
    verify_client_secret,
)
from civicstack.sso.clients import (
    Client,
    ClientMetadata,
    InitialAccessToken,
    check_redirect_uri,
    read_client_metadata,
)
from civicstack.sso.discovery import Endpoints, provider_metadata
from civicstack.sso.sessions import (
    LOGIN_PURPOSE,
    SESSION_LIFETIME,
    SSO_SECTOR,
    Login,
    SsoSession,
    login_claims,
    released_claims,
)
from civicstack.sso.tokens import (
    CODE_LIFETIME,
    LOGOUT_TYP,
    AccessGrant,
    CodeGrant,
    Redemption,
    at_hash,
    check_redemption,
    id_token_claims,
    logout_token_claims,
    new_secret,
    open_code,
    redirect_uri_hash,
    seal_code,
    secret_hash,
)

__all__ = [
    "ASSERTION_TYPE",
    "CODE_LIFETIME",
    "LOGIN_PURPOSE",
    "LOGOUT_TYP",
    "SESSION_LIFETIME",
    "SSO_SECTOR",
    "AccessGrant",
    "AssertionUse",
    "AuthorizationError",
    "AuthorizationRequest",
    "Client",
    "ClientMetadata",
    "CodeGrant",
    "Endpoints",
    "InitialAccessToken",
    "Login",
    "Redemption",
    "SsoSession",
    "at_hash",
    "check_redemption",
    "check_redirect_uri",
    "client_and_redirect",
    "hash_secret",
    "id_token_claims",
    "login_claims",
    "logout_token_claims",
    "new_secret",
    "open_code",
    "pkce_challenge",
    "provider_metadata",
    "read_authorization_request",
    "read_basic",
    "read_client_metadata",
    "read_params",
    "redirect_uri_hash",
    "released_claims",
    "seal_code",
    "secret_hash",
    "verify_client_assertion",
    "verify_client_secret",
    "verify_pkce",
]
