"""Credential Offers (OpenID4VCI 1.0 §4.1) and the secrets of the Pre-Authorized Code grant.

A Credential Offer names the Credential Issuer, the offered Credential Configurations and the
grants the Wallet may use (§4.1.1). civicstack offers only the Pre-Authorized Code grant
(``urn:ietf:params:oauth:grant-type:pre-authorized_code``, §3.5) with an optional Transaction
Code (``tx_code``: ``input_mode``, ``length``, ``description`` of at most 300 characters). The
offer travels by value (``credential_offer=<JSON>``, §4.1.2) or by reference
(``credential_offer_uri=<URL>``, §4.1.3), inside the ``openid-credential-offer://`` URI (§12.1).

Everything parsed here comes from outside (a QR code, a link, an issuer's response): sizes are
capped, JSON is parsed strictly, query parameters may not repeat, and every failure is one
``invalid_offer`` error. The secrets are made here too: pre-authorized codes, access tokens,
nonces and transaction ids are 256-bit random strings; transaction codes are short digit strings
meant for people, so the store keeps them only under a keyed hash (see
:func:`keyed_digest`), and the issuer locks an offer after a few wrong guesses.

An offer as the issuer keeps it, through its life from ``offered`` to ``issued``, is an
:class:`OfferRecord` (end of the module); the Token Endpoint's rules over it are in
:mod:`civicstack.openid4vci.tokens`, the deferred ones in :mod:`civicstack.openid4vci.deferred`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, quote, urlsplit

from civicstack._crypto import json_dumps, json_loads_strict, sha256_digest
from civicstack.errors import CivicError, InputError

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_SCHEME = "openid-credential-offer"
TX_CODE_LENGTHS = range(4, 13)
_SECRET_BYTES = 32
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and count caps of the OpenID4VCI recipes, each refused with the error its check
    names.

    ``offer_bytes``       largest offer URI or offer document (default 16 KiB; QR codes hold
                          far less; ``invalid_offer``)
    ``tx_description``    characters of a ``tx_code.description`` (default 300, §4.1.1)
    ``configurations``    credential configurations one offer names (default 16)
    ``id_chars``          characters of one credential configuration id (default 256)
    ``request_bytes``     largest Credential, Deferred Credential or Notification Request body
                          read (default 64 KiB; ``invalid_credential_request``)
    ``tx_failures``       wrong Transaction Codes an offer survives; the last locks it (default
                          5, RFC 6749 §10.10; ``invalid_grant``)
    """

    offer_bytes: int = 16 * 1024
    tx_description: int = 300
    configurations: int = 16
    id_chars: int = 256
    request_bytes: int = 64 * 1024
    tx_failures: int = 5


DEFAULT_LIMITS = Limits()


def _bad(detail: str) -> InputError:
    return InputError("invalid_offer", detail)


# --- secrets -------------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh 256-bit secret, base64url without padding (43 characters)."""
    return secrets.token_urlsafe(_SECRET_BYTES)


def new_id() -> str:
    """A fresh 128-bit public identifier: 32 hex digits (never starting with ``-``, which a
    command line would take for an option)."""
    return secrets.token_hex(16)


def new_tx_code(length: int = 6) -> str:
    """A numeric Transaction Code of ``length`` digits, drawn uniformly."""
    if length not in TX_CODE_LENGTHS:
        raise InputError("invalid_request", "a transaction code has 4 to 12 digits")
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (codes, tokens, nonces), hex: what the store keeps."""
    return sha256_digest(secret.encode("utf-8", "surrogatepass")).hex()


def keyed_digest(key: bytes, context: str, secret: str) -> str:
    """HMAC-SHA-256 of a low-entropy secret (a transaction code) bound to ``context``.

    A plain hash of six digits falls to a million guesses; keyed with a platform secret, a
    stolen database alone reveals nothing.
    """
    message = context.encode() + b"\x00" + secret.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, "sha256").hexdigest()


def derive_issuance_key(master_key: bytes) -> bytes:
    """The issuer's key for :func:`keyed_digest` (Transaction Code hashes) and for sealing what
    its store keeps, derived from the platform's master key so that the master key itself seals
    nothing but signing keys."""
    return hmac.new(master_key, b"civicstack/issuance/v1", "sha256").digest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


# --- the offer -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TxCode:
    """What the Wallet tells the End-User about the Transaction Code it must type (§4.1.1)."""

    input_mode: str = "numeric"
    length: int | None = None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``tx_code`` object."""
        out: dict[str, Any] = {"input_mode": self.input_mode}
        if self.length is not None:
            out["length"] = self.length
        if self.description is not None:
            out["description"] = self.description
        return out

    @classmethod
    def from_json(cls, value: object, *, limits: Limits = DEFAULT_LIMITS) -> TxCode:
        """Read a ``tx_code`` object (an empty object is allowed)."""
        if not isinstance(value, dict):
            raise _bad("tx_code must be an object")
        mode = value.get("input_mode", "numeric")
        if mode not in ("numeric", "text"):
            raise _bad("tx_code.input_mode is numeric or text")
        length = value.get("length")
        if length is not None and (
            isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 64
        ):
            raise _bad("tx_code.length must be a small positive integer")
        description = value.get("description")
        if description is not None and (
            not isinstance(description, str) or len(description) > limits.tx_description
        ):
            raise _bad(f"tx_code.description is a string of at most {limits.tx_description}")
        return cls(mode, length, description)

    def check(self, entered: str) -> str:
        """Check what the End-User typed against the announced shape; return it."""
        if not isinstance(entered, str) or not entered or len(entered) > 64:
            raise InputError("invalid_request", "the transaction code is 1-64 characters")
        if not entered.isprintable():
            raise InputError("invalid_request", "the transaction code has unexpected characters")
        if self.input_mode == "numeric" and not (entered.isascii() and entered.isdigit()):
            raise InputError("invalid_request", "the transaction code is made of digits")
        if self.length is not None and len(entered) != self.length:
            raise InputError("invalid_request", f"the transaction code has {self.length} digits")
        return entered


@dataclass(frozen=True, slots=True)
class CredentialOffer:
    """A Credential Offer object with the Pre-Authorized Code grant (§4.1.1)."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    pre_authorized_code: str | None = None
    tx_code: TxCode | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of §4.1.1."""
        out: dict[str, Any] = {
            "credential_issuer": self.credential_issuer,
            "credential_configuration_ids": list(self.credential_configuration_ids),
        }
        if self.pre_authorized_code is not None:
            grant: dict[str, Any] = {"pre-authorized_code": self.pre_authorized_code}
            if self.tx_code is not None:
                grant["tx_code"] = self.tx_code.to_json()
            out["grants"] = {PRE_AUTHORIZED_GRANT: grant}
        return out

    def by_value(self) -> str:
        """``openid-credential-offer://?credential_offer=<JSON>`` (§4.1.2)."""
        return f"{OFFER_SCHEME}://?credential_offer={quote(json_dumps(self.to_json()), safe='')}"

    @classmethod
    def from_json(cls, value: object, *, limits: Limits = DEFAULT_LIMITS) -> CredentialOffer:
        """Read an offer object; unknown members and other grants are ignored (§4.1.1).

        The issuer's scheme is the Wallet's to judge, with its :class:`HttpPolicy`, before
        anything is fetched from it.
        """
        if not isinstance(value, dict):
            raise _bad("a credential offer is a JSON object")
        issuer = value.get("credential_issuer")
        check_issuer_identifier(issuer, http=_SCHEME_JUDGED_LATER)
        assert isinstance(issuer, str)
        ids = value.get("credential_configuration_ids")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= limits.configurations
            or not all(isinstance(i, str) and 0 < len(i) <= limits.id_chars for i in ids)
            or len(set(ids)) != len(ids)
        ):
            raise _bad("credential_configuration_ids is a non-empty array of unique strings")
        grants = value.get("grants", {})
        if not isinstance(grants, dict):
            raise _bad("grants must be an object")
        code: str | None = None
        tx_code: TxCode | None = None
        grant = grants.get(PRE_AUTHORIZED_GRANT)
        if grant is not None:
            if not isinstance(grant, dict):
                raise _bad("the pre-authorized_code grant must be an object")
            code = grant.get("pre-authorized_code")
            if not isinstance(code, str) or not 0 < len(code) <= 1024:
                raise _bad("the pre-authorized_code grant needs its pre-authorized_code")
            if "tx_code" in grant:
                tx_code = TxCode.from_json(grant["tx_code"], limits=limits)
        return cls(issuer, tuple(ids), code, tx_code)


def reference_uri(offer_url: str) -> str:
    """``openid-credential-offer://?credential_offer_uri=<URL>`` (§4.1.3)."""
    return f"{OFFER_SCHEME}://?credential_offer_uri={quote(offer_url, safe='')}"


@dataclass(frozen=True, slots=True)
class OfferReference:
    """An offer passed by reference: the Wallet must GET ``url`` for the offer object."""

    url: str


def parse_offer_uri(
    text: str, *, limits: Limits = DEFAULT_LIMITS
) -> CredentialOffer | OfferReference:
    """Read a Credential Offer as a Wallet receives it (a link, a QR code's text).

    Accepts ``openid-credential-offer://`` and any https link to a Wallet's offer endpoint
    (§4.1) carrying exactly one of ``credential_offer`` or ``credential_offer_uri``; a bare
    offer JSON object is accepted too. The schemes of the URLs inside are the Wallet's to
    judge (with its :class:`HttpPolicy`) before it fetches them.
    """
    if not isinstance(text, str) or len(text.encode()) > limits.offer_bytes:
        raise _bad(f"an offer is a string of at most {limits.offer_bytes} bytes")
    text = text.strip()
    if text.startswith("{"):
        return CredentialOffer.from_json(_json(text), limits=limits)
    try:
        parts = urlsplit(text)
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise _bad("the offer is not a URI with a query") from exc
    if parts.scheme not in (OFFER_SCHEME, "https", "http", "haip"):
        raise _bad(f"unexpected offer URI scheme {parts.scheme!r}")
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise _bad("an offer URI repeats a parameter")
    params = dict(pairs)
    by_value, by_reference = params.get("credential_offer"), params.get("credential_offer_uri")
    # §4.1: exactly one of the two parameters.
    if (by_value is None) == (by_reference is None):
        raise _bad("an offer carries exactly one of credential_offer, credential_offer_uri")
    if by_value is not None:
        return CredentialOffer.from_json(_json(by_value), limits=limits)
    assert by_reference is not None
    check_url(by_reference, "credential_offer_uri", http=_SCHEME_JUDGED_LATER)
    return OfferReference(by_reference)


def _json(text: str) -> Any:
    try:
        return json_loads_strict(text)
    except CivicError as exc:
        raise _bad(f"the offer is not valid JSON: {exc.detail}") from exc


# --- URLs ----------------------------------------------------------------------------------------

_HOST = re.compile(r"[A-Za-z0-9.\-\[\]:]+")


class HttpPolicy(Protocol):
    """Decides whether a plain-http URL may be used (https always may)."""

    def allows_http(self, url: str) -> bool:
        """Whether ``url``, an http URL, is acceptable."""
        ...


class HttpsOnly:
    """https only: what a Wallet on the Internet accepts."""

    def allows_http(self, url: str) -> bool:
        """Never."""
        return False


class LoopbackHttp:
    """https, or http on the loopback interface (a platform running on this machine)."""

    def allows_http(self, url: str) -> bool:
        """When ``url``'s host is ``localhost`` or a loopback address."""
        host = urlsplit(url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


class UnsafeAllowHttp:
    """Plain http anywhere: requests and tokens travel unprotected. For closed test networks
    only; every http URL it lets through is logged as a warning."""

    def allows_http(self, url: str) -> bool:
        """Always, with a warning."""
        _log.warning("UnsafeAllowHttp: accepting the plain-http URL %s", url)
        return True


class _SchemeJudgedLater:
    """For parsing only: the Wallet judges the scheme with its own policy before any fetch."""

    def allows_http(self, url: str) -> bool:
        return True


HTTPS_ONLY = HttpsOnly()
LOOPBACK_HTTP = LoopbackHttp()
_SCHEME_JUDGED_LATER = _SchemeJudgedLater()


def check_url(
    value: object, what: str, *, http: HttpPolicy = HTTPS_ONLY, origin: str | None = None
) -> str:
    """An absolute https URL (or http, if ``http`` allows it) with a host; else
    ``invalid_offer``. ``http`` judges ``origin`` (by default the URL itself; a metadata
    document's endpoints are judged by the identifier it was fetched for)."""
    if not isinstance(value, str) or not 0 < len(value) <= 2048:
        raise _bad(f"{what} must be a URL")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise _bad(f"{what} is not a valid URL") from exc
    allowed = parts.scheme == "http" and http.allows_http(value if origin is None else origin)
    schemes = ("https", "http") if allowed else ("https",)
    if parts.scheme not in schemes or not parts.hostname or not _HOST.fullmatch(parts.netloc):
        raise _bad(f"{what} must be an {' or '.join(schemes)} URL with a host")
    if port == 0 or any(c.isspace() for c in value):
        raise _bad(f"{what} is not a valid URL")
    return value


def check_issuer_identifier(value: object, *, http: HttpPolicy = HTTPS_ONLY) -> str:
    """A Credential Issuer Identifier (§12.2.1): scheme, host, optional port and path, and no
    query or fragment."""
    url = check_url(value, "credential_issuer", http=http)
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise _bad("credential_issuer has no query or fragment")
    return url


def well_known(identifier: str, suffix: str) -> str:
    """Insert ``/.well-known/<suffix>`` between the host and the path of ``identifier``
    (OpenID4VCI §12.2.2, RFC 8414 §3.1, SD-JWT VC's JWT VC Issuer Metadata)."""
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{suffix}{path}"


def form_fields(body: bytes, *, max_fields: int = 32) -> Mapping[str, str]:
    """Parse an ``application/x-www-form-urlencoded`` body strictly (RFC 6749 §3.2: no
    parameter may repeat); ``invalid_request`` otherwise."""
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=max_fields
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError("invalid_request", "the body is not a URL-encoded form") from exc
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise InputError("invalid_request", "a parameter is repeated")
    return dict(pairs)


# --- offers as the issuer keeps them -------------------------------------------------------------

#: An offer's life: ``offered`` until its code is redeemed (§6), then ``issued``, or ``deferred``
#: first when it answers an application under review (§9); ``locked`` after too many wrong
#: Transaction Codes.
OfferState = Literal["offered", "redeemed", "deferred", "issued", "locked"]


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """An offer as the issuer keeps it (claims only when read for issuance)."""

    id: str
    authority: str
    configuration_id: str
    state: OfferState
    tx_code: TxCode | None
    tx_failures: int
    created_at: int
    expires_at: int
    redeemed_at: int | None
    issued_at: int | None
    credential_ids: tuple[str, ...]
    application_id: str | None
    notification_event: str | None
    claims: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain description without the claims."""
        return {
            "id": self.id,
            "issuer": self.authority,
            "credential_configuration_id": self.configuration_id,
            "state": self.state,
            "tx_code_required": self.tx_code is not None,
            "tx_failures": self.tx_failures,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "redeemed_at": self.redeemed_at,
            "issued_at": self.issued_at,
            "credential_ids": list(self.credential_ids),
            "application_id": self.application_id,
            "notification_event": self.notification_event,
        }


def check_offer_servable(
    *, state: str | None, has_document: bool, expires_at: int, now: int
) -> None:
    """The offer object behind a ``credential_offer_uri`` (§4.1.3) is served only while its code
    can still be redeemed: ``not_found`` for an unknown (``state`` None), used or expired offer,
    or one made by value."""
    if state is None or not has_document or state != "offered" or now >= expires_at:
        raise CivicError("not_found", "no such offer, or it was used or has expired")


def check_tx_code_shape(tx_code: TxCode | None, tx_code_hash: str | None) -> None:
    """An offer keeps a Transaction Code's shape exactly when it keeps its hash."""
    if (tx_code is None) != (tx_code_hash is None):
        raise InputError("invalid_request", "a transaction code needs its hash and shape")
