"""The Pre-Authorized Code redeemed for an access token (OpenID4VCI 1.0 §6), the ``c_nonce``
values of key proofs (§7) and the access token spent at the Credential Endpoint (§8): the rules
the issuer applies to what it keeps of each.

Every function here decides from values a store read inside its write transaction and either
returns or raises the protocol error the Wallet gets (RFC 6749 §5.2 ``invalid_grant``, RFC 6750
§3.1 ``invalid_token``, §8.3.1 ``invalid_nonce``, §11.3 ``invalid_notification_id``); the store
then writes what the decision says, in the same transaction, so single use holds under
concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from civicstack.errors import ProtocolError
from civicstack.openid4vci.offers import DEFAULT_LIMITS, Limits, OfferRecord

#: The default of :attr:`Limits.tx_failures`, by its former name.
MAX_TX_FAILURES = DEFAULT_LIMITS.tx_failures


def invalid_grant(detail: str) -> ProtocolError:
    """The Token Endpoint's refusal of a code (RFC 6749 §5.2)."""
    return ProtocolError("invalid_grant", "invalid_grant", detail)


def invalid_token(detail: str) -> ProtocolError:
    """The refusal of an access token (RFC 6750 §3.1)."""
    return ProtocolError("invalid_token", "invalid_token", detail)


# --- token endpoint (§6) -------------------------------------------------------------------------


def check_redeemable(
    *,
    state: str | None,
    expires_at: int,
    expects_tx_code: bool,
    tx_code_given: bool,
    offered: str,
    asked: Sequence[str] | None,
    now: int,
) -> None:
    """Raise unless a Pre-Authorized Code may be redeemed now, before its Transaction Code is
    compared.

    ``state`` is the offer's (None when no offer of this issuer has the code), ``offered`` its
    Credential Configuration and ``asked`` the configurations ``authorization_details`` named
    (None without them).
    """
    # 1. a code this issuer made, still offered and not expired
    if state is None:
        raise invalid_grant("the pre-authorized code is not valid")
    if state == "locked":
        raise invalid_grant("the offer is locked after too many wrong transaction codes")
    if state != "offered":
        raise invalid_grant("the pre-authorized code has already been used")
    if now >= expires_at:
        raise invalid_grant("the pre-authorized code has expired")
    # 2. the Transaction Code: present exactly when the offer asked for one (§6.3)
    if not expects_tx_code and tx_code_given:
        raise ProtocolError("invalid_request", "invalid_request", "this offer expects no tx_code")
    if expects_tx_code and not tx_code_given:
        raise ProtocolError("invalid_request", "invalid_request", "tx_code is required")
    # 3. authorization_details name only what was offered (RFC 9396 §6.1)
    if asked is not None and any(c != offered for c in asked):
        raise ProtocolError(
            "invalid_request",
            "invalid_authorization_details",
            "authorization_details ask for a credential that was not offered",
        )


@dataclass(frozen=True, slots=True)
class WrongTxCode:
    """A wrong Transaction Code, counted: the offer's failures so far and whether it locks."""

    failures: int
    locked: bool

    def error(self) -> ProtocolError:
        """What the Wallet is told (after the count is committed)."""
        return invalid_grant(
            "wrong transaction code; the offer is now locked"
            if self.locked
            else "wrong transaction code"
        )


def wrong_tx_code(failures_before: int, *, limits: Limits = DEFAULT_LIMITS) -> WrongTxCode:
    """Count one more wrong Transaction Code; the offer locks at ``limits.tx_failures``."""
    failures = failures_before + 1
    return WrongTxCode(failures, failures >= limits.tx_failures)


def code_already_used() -> ProtocolError:
    """A code another request redeemed first (the conditional write found it gone)."""
    return invalid_grant("the pre-authorized code has already been used")


# --- nonces (§7) and the credential endpoint (§8) -------------------------------------------------


def check_nonce_used(deleted: int) -> None:
    """``invalid_nonce`` unless exactly one unexpired ``c_nonce`` of this issuer was used up."""
    if deleted != 1:
        raise ProtocolError("invalid_nonce", "invalid_nonce", "a key proof's c_nonce is not valid")


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What an access token authorises: its offer (with claims when spent) and the
    ``credential_identifiers`` returned with it (§6.2; None without ``authorization_details``)."""

    token_hash: str
    offer: OfferRecord
    identifiers: tuple[str, ...] | None


def check_token_usable(*, found: bool, spent_at: int | None, expires_at: int, now: int) -> None:
    """``invalid_token`` unless the token is this issuer's (``found``), unspent and unexpired."""
    if not found:
        raise invalid_token("the access token is not valid")
    if spent_at is not None:
        raise invalid_token("the access token has been used")
    if now >= expires_at:
        raise invalid_token("the access token has expired")


def token_already_spent() -> ProtocolError:
    """A token another request spent first (the conditional write found it spent)."""
    return invalid_token("the access token has been used")


# --- notification endpoint (§11) -----------------------------------------------------------------


def check_notified(*, token_found: bool, recorded: int) -> None:
    """A Notification Request counts when its token was issued for an offer of this issuer
    (spent or not: ``invalid_token``) and that offer's credentials carry its
    ``notification_id`` (``invalid_notification_id``, §11.3); ``recorded`` is how many offers
    took the event."""
    if not token_found:
        raise invalid_token("the access token is not valid")
    if recorded != 1:
        raise ProtocolError(
            "invalid_notification_id",
            "invalid_notification_id",
            "no credentials were issued under this notification_id",
        )
