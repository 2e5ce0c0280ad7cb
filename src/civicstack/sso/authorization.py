"""Authorization requests of the code flow (OpenID Connect Core 1.0 §3.1.2.1–§3.1.2.2) with
PKCE (RFC 7636).

Reading a request happens in two stages because the errors go to two places (RFC 6749
§4.1.2.1): until the client and its ``redirect_uri`` are known good, an error is shown to the
person (never redirected: an open redirector otherwise); after that, every error goes back to
the client at its ``redirect_uri`` with ``error`` and ``state``.

1. :func:`read_params`: each parameter once (RFC 6749 §3.1), names and values capped;
2. :func:`client_and_redirect`: ``client_id`` names a registered client and ``redirect_uri`` is
   one of its registered URIs, compared as exact strings (OIDC Core §3.1.2.1); errors direct;
3. :func:`read_authorization_request`: ``response_type=code``, ``scope`` with ``openid``, PKCE
   with ``S256`` (``plain`` and a missing challenge refused: RFC 7636 §4.2, §7.2 and the
   OAuth 2.0 Security BCP, RFC 9700 §2.1.1), ``prompt`` and ``max_age``; errors redirected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from civicstack._crypto import b64url_encode, constant_time_equal
from civicstack.errors import ProtocolError
from civicstack.sso.clients import Client

__all__ = [
    "AuthorizationError",
    "AuthorizationRequest",
    "client_and_redirect",
    "pkce_challenge",
    "read_authorization_request",
    "read_params",
    "verify_pkce",
]

MAX_PARAMS = 24
MAX_VALUE = 2048
_KNOWN_SCOPES = frozenset({"openid", "profile", "address"})
_PROMPTS = frozenset({"none", "login", "consent", "select_account"})
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
_STATE = re.compile(r"[\x20-\x7e]{1,512}")


class AuthorizationError(ProtocolError):
    """An error the client hears at its ``redirect_uri`` (RFC 6749 §4.1.2.1)."""

    def __init__(
        self, code: str, oauth_error: str, detail: str, *, redirect_uri: str, state: str | None
    ) -> None:
        super().__init__(code, oauth_error, detail)
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A valid authorization request: who asks, where the answer goes, what is bound to it."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None

    def to_json(self) -> dict[str, object]:
        """The stored form."""
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": list(self.scope),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "prompt": sorted(self.prompt),
            "max_age": self.max_age,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> AuthorizationRequest:
        """Read :meth:`to_json` back (from our own store)."""
        scope, prompt, max_age = data["scope"], data["prompt"], data["max_age"]
        assert isinstance(scope, list)
        assert isinstance(prompt, list)
        return cls(
            client_id=str(data["client_id"]),
            redirect_uri=str(data["redirect_uri"]),
            scope=tuple(str(s) for s in scope),
            state=None if data["state"] is None else str(data["state"]),
            nonce=None if data["nonce"] is None else str(data["nonce"]),
            code_challenge=str(data["code_challenge"]),
            prompt=frozenset(str(p) for p in prompt),
            max_age=None if max_age is None else int(str(max_age)),
        )


def read_params(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Step 1: the parameters, each at most once and capped (``invalid_request`` otherwise).

    Empty values count as absent (RFC 6749 §3.1)."""
    params: dict[str, str] = {}
    for count, (name, value) in enumerate(items):
        if count >= MAX_PARAMS:
            raise ProtocolError("invalid_request", "invalid_request", "too many parameters")
        if len(name) > 64 or len(value) > MAX_VALUE:
            raise ProtocolError("invalid_request", "invalid_request", f"{name[:64]} is too long")
        if name in params:
            raise ProtocolError("invalid_request", "invalid_request", f"{name} given twice")
        if value != "":
            params[name] = value
    return params


def client_and_redirect(params: dict[str, str], client: Client | None) -> str:
    """Step 2: the ``redirect_uri`` to answer at; raises a direct (not redirected) error."""
    if client is None:
        raise ProtocolError("invalid_client", "invalid_client", "unknown client_id")
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None:
        raise ProtocolError("invalid_redirect_uri", "invalid_request", "redirect_uri is required")
    # OIDC Core §3.1.2.1: "MUST exactly match one of the Redirection URI values ... registered"
    if redirect_uri not in client.metadata.redirect_uris:
        raise ProtocolError(
            "invalid_redirect_uri", "invalid_request", "redirect_uri is not registered"
        )
    return redirect_uri


def read_authorization_request(  # noqa: PLR0912 -- the spec's checks, in its order, in one place
    params: dict[str, str], client: Client, redirect_uri: str
) -> AuthorizationRequest:
    """Step 3: the rest of the request; errors are :class:`AuthorizationError` (redirected)."""
    state = params.get("state")
    if state is not None and not _STATE.fullmatch(state):
        state = None  # never echo what could break the redirect

    def fail(code: str, oauth_error: str, detail: str) -> AuthorizationError:
        return AuthorizationError(code, oauth_error, detail, redirect_uri=redirect_uri, state=state)

    # 3.1 the code flow only (§3.1.2.1 response_type; §3.1.2.6 unsupported_response_type)
    if "request" in params or "request_uri" in params:
        raise fail("unsupported", "request_not_supported", "request objects are not supported")
    response_type = params.get("response_type")
    if response_type is None:
        raise fail("invalid_request", "invalid_request", "response_type is required")
    if response_type != "code":
        raise fail("unsupported_response_type", "unsupported_response_type", "only code")
    if params.get("response_mode", "query") != "query":
        raise fail("invalid_request", "invalid_request", "only response_mode=query")
    # 3.2 scope holds openid (§3.1.2.1); unknown scopes are ignored (RFC 6749 §3.3 lets the
    # server fulfil a narrower scope)
    scope = params.get("scope", "").split(" ")
    if "openid" not in scope:
        raise fail("invalid_scope", "invalid_scope", "scope must include openid")
    granted = tuple(sorted(_KNOWN_SCOPES.intersection(scope)))
    # 3.3 PKCE with S256 (RFC 7636 §4.3), nothing weaker
    method = params.get("code_challenge_method")
    challenge = params.get("code_challenge")
    if challenge is None:
        raise fail("invalid_request", "invalid_request", "code_challenge (PKCE, S256) is required")
    if method != "S256":
        raise fail("invalid_request", "invalid_request", "code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise fail("invalid_request", "invalid_request", "code_challenge is not a S256 challenge")
    # 3.4 nonce (§3.1.2.1: optional in the code flow), prompt and max_age
    nonce = params.get("nonce")
    if nonce is not None and len(nonce) > 512:
        raise fail("invalid_request", "invalid_request", "nonce too long")
    prompt = frozenset(params.get("prompt", "").split()) if "prompt" in params else frozenset()
    if not prompt <= _PROMPTS or ("none" in prompt and len(prompt) > 1):
        raise fail("invalid_request", "invalid_request", "prompt is not valid")
    max_age: int | None = None
    if "max_age" in params:
        if not params["max_age"].isdigit() or len(params["max_age"]) > 9:
            raise fail("invalid_request", "invalid_request", "max_age is not a number")
        max_age = int(params["max_age"])
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=granted,
        state=state,
        nonce=nonce,
        code_challenge=challenge,
        prompt=prompt,
        max_age=max_age,
    )


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge of ``verifier``: BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 §4.2)."""
    return b64url_encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest())


def verify_pkce(verifier: object, challenge: str) -> None:
    """RFC 7636 §4.6: the verifier's S256 challenge equals the stored one (``invalid_grant``)."""
    if not isinstance(verifier, str) or not _VERIFIER.fullmatch(verifier):
        raise ProtocolError("invalid_grant", "invalid_grant", "code_verifier is malformed")
    if not constant_time_equal(pkce_challenge(verifier).encode(), challenge.encode()):
        raise ProtocolError("invalid_grant", "invalid_grant", "code_verifier does not match")
