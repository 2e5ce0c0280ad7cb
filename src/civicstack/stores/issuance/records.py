"""What the issuer's store hands back: offers, the grants of access tokens, deferred
transactions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from civicstack.openid4vci.offers import TxCode

OfferState = Literal["offered", "redeemed", "deferred", "issued", "locked"]
DeferredState = Literal["pending", "issued", "denied"]


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """An offer as stored (claims only when read for issuance)."""

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


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a spent access token authorised: its offer (with claims) and identifiers."""

    token_hash: str
    offer: OfferRecord
    identifiers: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class DeferredRecord:
    """A deferred transaction as stored."""

    transaction_hash: str
    offer_id: str
    token_hash: str
    holder_jwks: tuple[dict[str, str], ...]
    state: DeferredState
    created_at: int
    expires_at: int
