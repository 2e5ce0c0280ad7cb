"""What the issuer deals in: lifetimes and limits, offers made, protocol responses, the key
its store seals with.

Lifetimes: a Pre-Authorized Code lives 15 minutes by default ("short lived", §4.1.1; offers for
an application a week, since the citizen may scan the QR code later), an access token and a
``c_nonce`` 5 minutes (§13.6: longer-lived tokens count as long lived). A deferred transaction
stays collectable for 30 days with the token that started it: the credentials it yields are
bound to the keys proved at the Credential Endpoint, so a stolen token gains nothing.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from civicstack.openid4vci.offers import CredentialOffer
from civicstack.stores.issuance import OfferRecord

MINUTE = 60
DAY = 86_400
ACCESS_TOKEN_TTL = 5 * MINUTE
NONCE_TTL = 5 * MINUTE
DEFAULT_OFFER_TTL = 15 * MINUTE
APPLICATION_OFFER_TTL = 7 * DAY
MAX_OFFER_TTL = 7 * DAY
DEFERRED_TTL = 30 * DAY
DEFAULT_INTERVAL = 60
#: Largest Credential, Deferred Credential or Notification Request body read.
MAX_REQUEST_BYTES = 64 * 1024
NOTIFICATION_EVENTS = ("credential_accepted", "credential_failure", "credential_deleted")


@dataclass(frozen=True, slots=True)
class CreatedOffer:
    """An offer just made: the URI to hand to the Wallet and the Transaction Code to send
    through another channel."""

    record: OfferRecord
    offer: CredentialOffer
    uri: str
    tx_code: str | None
    offer_url: str | None

    def to_json(self) -> dict[str, Any]:
        """What the admin API returns."""
        return {
            "id": self.record.id,
            "offer": self.uri,
            "tx_code": self.tx_code,
            "credential_offer": self.offer.to_json(),
            "credential_offer_uri": self.offer_url,
            "expires_at": self.record.expires_at,
        }


@dataclass(frozen=True, slots=True)
class IssuerResponse:
    """A protocol response: the HTTP status (200 or 202) and the JSON body."""

    status: int
    body: dict[str, Any]


def derive_issuance_key(master_key: bytes) -> bytes:
    """The issuance store's key (sealing claims, keying Transaction Code hashes), derived from
    the platform's master key so that the master key itself seals nothing but signing keys."""
    return hmac.new(master_key, b"civicstack/issuance/v1", "sha256").digest()
