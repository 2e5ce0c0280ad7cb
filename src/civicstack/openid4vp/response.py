"""OpenID4VP 1.0 Authorization Responses sent with ``response_mode=direct_post`` (§8).

* §8.1: ``vp_token`` is a JSON-encoded object whose keys are the ids of the DCQL Credential
  Queries and whose values are non-empty arrays of presentations (for ``dc+sd-jwt``, each an
  SD-JWT+KB string, Appendix B.3);
* §8.2: the wallet POSTs the response to ``response_uri`` as
  ``application/x-www-form-urlencoded`` (UTF-8): ``vp_token`` and ``state``, or an error
  response (``error``, ``error_description``, ``state``; §8.5 and RFC 6749 §4.1.2.1);
* §8.5: the error codes a wallet may send.

:func:`read_authorization_response` reads the form strictly (hostile input: sizes, types, one
value per name); :func:`vp_token_form` is the wallet's side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.errors import CivicError, InputError
from civicstack.openid4vp.limits import DEFAULT_LIMITS, Limits
from civicstack.openid4vp.request import url_safe

#: §8.5 and RFC 6749 §4.1.2.1: what a wallet may answer instead of presentations.
WALLET_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "invalid_client",
        "vp_formats_not_supported",
        "invalid_request_uri_method",
        "invalid_transaction_data",
        "wallet_unavailable",
    }
)


@dataclass(frozen=True, slots=True)
class AuthorizationResponse:
    """A parsed direct_post body: presentations by query id, or the wallet's error."""

    state: str
    vp_token: Mapping[str, tuple[str, ...]] | None
    error: str | None = None
    error_description: str | None = None


def _bad(detail: str) -> InputError:
    return InputError("invalid_request", detail)


def read_vp_token(text: str, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, tuple[str, ...]]:
    """§8.1: ``{"<query id>": ["<presentation>", ...]}``, strictly."""
    if len(text) > limits.vp_token_bytes:
        raise InputError("too_large", f"vp_token larger than {limits.vp_token_bytes} bytes")
    try:
        value = json_loads_strict(text)
    except CivicError as exc:
        raise _bad(f"vp_token is not JSON: {exc.detail}") from exc
    if not isinstance(value, dict) or not 1 <= len(value) <= limits.presentations:
        raise _bad("vp_token is a JSON object mapping credential query ids to presentations")
    out: dict[str, tuple[str, ...]] = {}
    total = 0
    for query_id, items in value.items():
        if not isinstance(items, list) or not items:
            raise _bad(f"vp_token[{query_id!r}] must be a non-empty array of presentations")
        total += len(items)
        if total > limits.presentations:
            raise _bad(f"vp_token holds at most {limits.presentations} presentations")
        if not all(isinstance(item, str) and item for item in items):
            raise _bad(f"vp_token[{query_id!r}] holds SD-JWT+KB strings")
        out[query_id] = tuple(items)
    return out


def read_authorization_response(
    form: Mapping[str, str | None], *, limits: Limits = DEFAULT_LIMITS
) -> AuthorizationResponse:
    """Read a direct_post Authorization Response (or Error Response) from its form fields."""
    # The state ties the response to its request (§8.2, §14.3.2); this verifier always sends
    # one, so a response without it answers nothing.
    state = url_safe(form.get("state"), "state", code="invalid_request")
    error, vp_token = form.get("error"), form.get("vp_token")
    if error is not None:
        if vp_token is not None:
            raise _bad("a response carries vp_token or error, not both")
        if error not in WALLET_ERRORS:
            raise _bad(f"unknown error {error[:64]!r}")
        description = form.get("error_description")
        if description is not None and len(description) > limits.error_chars:
            raise _bad("error_description is too long")
        return AuthorizationResponse(state, None, error, description)
    if vp_token is None:
        raise _bad("the response carries neither vp_token nor error")
    return AuthorizationResponse(state, read_vp_token(vp_token, limits=limits))


def vp_token_form(tokens: Mapping[str, Sequence[str]], state: str | None) -> dict[str, str]:
    """The wallet's direct_post body for presentations (query id -> SD-JWT+KB strings)."""
    body = {"vp_token": json_dumps({k: list(v) for k, v in tokens.items()}).decode()}
    if state is not None:
        body["state"] = state
    return body


def error_form(error: str, state: str | None, description: str | None = None) -> dict[str, str]:
    """The wallet's direct_post body for an Authorization Error Response (§8.5)."""
    if error not in WALLET_ERRORS:
        raise ValueError(f"{error} is not an OpenID4VP error code")
    body = {"error": error}
    if description:
        body["error_description"] = description
    if state is not None:
        body["state"] = state
    return body
