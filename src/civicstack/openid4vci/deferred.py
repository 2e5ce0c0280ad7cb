"""Deferred issuance (OpenID4VCI 1.0 §9): a credential request parked while an application is
under review, collected once with the access token that started it.

The issuer keeps a :class:`DeferredRecord` per transaction (by the SHA-256 of its
``transaction_id``); :func:`check_collectable` is the rule a store applies, inside its
transaction, before it hands one back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from civicstack.errors import ProtocolError
from civicstack.openid4vci.tokens import invalid_token

#: ``pending`` until the review ends; then ``issued`` (collected, once) or ``denied``.
DeferredState = Literal["pending", "issued", "denied"]


@dataclass(frozen=True, slots=True)
class DeferredRecord:
    """A deferred transaction as the issuer keeps it."""

    transaction_hash: str
    offer_id: str
    token_hash: str
    holder_jwks: tuple[dict[str, str], ...]
    state: DeferredState
    created_at: int
    expires_at: int


def invalid_transaction_id(detail: str) -> ProtocolError:
    """The refusal of a ``transaction_id`` (§9.3)."""
    return ProtocolError("invalid_transaction_id", "invalid_transaction_id", detail)


def check_collectable(
    *,
    token_found: bool,
    state: str | None,
    expires_at: int,
    token_matches: bool,
    now: int,
) -> None:
    """Raise unless the token may collect the transaction now.

    ``invalid_token`` when the token is unknown (``token_found``) or belongs to another
    transaction (``token_matches``); ``invalid_transaction_id`` when the transaction is unknown
    (``state`` None), collected or expired.
    """
    if not token_found:
        raise invalid_token("the access token is not valid")
    if state is None or state == "issued" or now >= expires_at:
        raise invalid_transaction_id("the transaction_id is unknown, already collected or expired")
    if not token_matches:
        raise invalid_token("the access token does not belong to this transaction")


def transaction_closed() -> ProtocolError:
    """A transaction another request closed first (the conditional write found it closed)."""
    return invalid_transaction_id("the transaction was closed")
