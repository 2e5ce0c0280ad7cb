"""Reading what the Wallet sends the Credential Issuer (OpenID4VCI 1.0): the bearer token
(RFC 6750), JSON request bodies (§8.2, §9.1, §11.1) within ``Limits.request_bytes``, the Token
Request's ``authorization_details`` (RFC 9396 §2), the notification events (§11.1), and the
protocol errors they earn (§8.3.1)."""

from __future__ import annotations

from typing import Any

from civicstack._crypto import json_loads_strict, json_object_strict
from civicstack.errors import CivicError, ProtocolError
from civicstack.openid4vci.offers import DEFAULT_LIMITS, Limits

#: The default of :attr:`Limits.request_bytes`, by its former name.
MAX_REQUEST_BYTES = DEFAULT_LIMITS.request_bytes
#: The events a Notification Request may report (§11.1).
NOTIFICATION_EVENTS = ("credential_accepted", "credential_failure", "credential_deleted")


def invalid_request(detail: str) -> ProtocolError:
    """A Credential Request this issuer cannot read (§8.3.1)."""
    return ProtocolError("invalid_credential_request", "invalid_credential_request", detail)


def request_denied(detail: str) -> ProtocolError:
    """A Credential Request this issuer will not answer with credentials (§8.3.1)."""
    return ProtocolError("credential_request_denied", "credential_request_denied", detail)


def bearer(token: str | None) -> str:
    """The access token the request carries; ``invalid_token`` without one."""
    # RFC 6750 §3.1: a request without a token gets invalid_token-free 401s in principle;
    # we name the error so every client reads the same code.
    if not token or len(token) > 512:
        raise ProtocolError("invalid_token", "invalid_token", "an access token is required")
    return token


def json_request(body: bytes, what: str, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The JSON object of a request body (``what`` names it in errors), within
    ``limits.request_bytes``."""
    if len(body) > limits.request_bytes:
        raise invalid_request(f"the {what} is larger than {limits.request_bytes} bytes")
    try:
        return json_object_strict(body)
    except CivicError as exc:
        raise invalid_request(f"the {what} is not a JSON object: {exc.detail}") from exc


def authorization_details(text: str) -> list[str]:
    """The configuration ids asked for in ``authorization_details`` (RFC 9396 §2)."""

    def bad(detail: str) -> ProtocolError:
        return ProtocolError("invalid_request", "invalid_authorization_details", detail)

    if len(text) > 8192:
        raise bad("authorization_details is too large")
    try:
        details = json_loads_strict(text)
    except CivicError as exc:
        raise bad("authorization_details is not JSON") from exc
    if not isinstance(details, list) or not 0 < len(details) <= 16:
        raise bad("authorization_details is a non-empty array")
    out: list[str] = []
    for detail in details:
        if not isinstance(detail, dict) or detail.get("type") != "openid_credential":
            raise bad("only authorization details of type openid_credential are supported")
        configuration = detail.get("credential_configuration_id")
        if not isinstance(configuration, str) or not 0 < len(configuration) <= 256:
            raise bad("openid_credential details need a credential_configuration_id")
        out.append(configuration)
    return out
