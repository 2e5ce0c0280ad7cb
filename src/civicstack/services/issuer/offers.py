"""Credential Offers (§4.1) and the Token Endpoint (§6) that redeems their Pre-Authorized
Codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from civicstack.errors import CivicError, InputError, ProtocolError
from civicstack.openid4vci.offers import (
    DEFAULT_LIMITS,
    PRE_AUTHORIZED_GRANT,
    CredentialOffer,
    OfferRecord,
    TxCode,
    digest,
    keyed_digest,
    new_id,
    new_secret,
    new_tx_code,
    reference_uri,
)
from civicstack.openid4vci.requests import authorization_details
from civicstack.services.issuer.hosted import HostedIssuers
from civicstack.services.issuer.lifetimes import (
    ACCESS_TOKEN_TTL,
    DEFAULT_OFFER_TTL,
    MAX_OFFER_TTL,
    MINUTE,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


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
            "page": f"{self.offer_url}/page" if self.offer_url else None,
        }


@dataclass(frozen=True, slots=True)
class OfferView:
    """An offer as its page at the desk shows it: who offers, the offer's state, and the
    ``openid-credential-offer://`` link while it can be redeemed (by reference only: a
    by-value offer's code is not kept, so its link cannot be shown again)."""

    issuer_name: str
    record: OfferRecord
    link: str | None


class OfferEndpoints(HostedIssuers):
    """Offers made and listed, and their codes redeemed for access tokens."""

    # --- offers -------------------------------------------------------------------------

    def create_offer(
        self,
        name: str,
        *,
        vct: str,
        claims: Mapping[str, Any],
        tx_code: bool = True,
        tx_code_length: int = 6,
        tx_code_description: str | None = None,
        by_reference: bool = False,
        expires_in: int = DEFAULT_OFFER_TTL,
        application_id: str | None = None,
        conn: Connection | None = None,
    ) -> CreatedOffer:
        """Offer a credential of type ``vct`` with ``claims`` (refused up front when the
        authority could not issue it)."""
        hosted = self.issuer(name)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int):
            raise InputError("invalid_request", "expires_in is a number of seconds")
        if not MINUTE <= expires_in <= MAX_OFFER_TTL:
            raise InputError("invalid_request", f"expires_in is {MINUTE} to {MAX_OFFER_TTL} s")
        if tx_code_description is not None and (
            not isinstance(tx_code_description, str)
            or not 0 < len(tx_code_description) <= DEFAULT_LIMITS.tx_description
            or not tx_code_description.isprintable()
        ):
            raise InputError("invalid_request", "the tx_code description is 1-300 characters")
        self.authorities.check_issuable(name, vct=vct, claims=claims)
        now = self.clock.now()
        offer_id, code = new_id(), new_secret()
        entered = new_tx_code(tx_code_length) if tx_code else None
        shape = (
            TxCode(
                "numeric",
                tx_code_length,
                tx_code_description
                or f"The {tx_code_length}-digit code {hosted.display_name} sent you separately",
            )
            if entered is not None
            else None
        )
        offer = CredentialOffer(hosted.identifier, (vct,), code, shape)
        offer_url = f"{self.endpoints(hosted)}/offers/{offer_id}" if by_reference else None
        record = self.store.create_offer(
            name,
            offer_id=offer_id,
            configuration_id=vct,
            claims=claims,
            code_hash=digest(code),
            tx_code=shape,
            tx_code_hash=self._tx_digest(offer_id, entered) if entered is not None else None,
            document=offer.to_json() if by_reference else None,
            now=now,
            expires_at=now + expires_in,
            application_id=application_id,
            conn=conn,
        )
        uri = reference_uri(offer_url) if offer_url is not None else offer.by_value()
        return CreatedOffer(record, offer, uri, entered, offer_url)

    def _tx_digest(self, offer_id: str, entered: str) -> str:
        return keyed_digest(self._key(), f"tx-code/{offer_id}", entered)

    def offer_document(self, name: str, offer_id: str) -> dict[str, Any]:
        """The offer object behind a ``credential_offer_uri`` (§4.1.3)."""
        self.issuer(name)
        return self.store.offer_document(name, offer_id, now=self.clock.now())

    def offer_view(self, name: str, offer_id: str) -> OfferView:
        """What the page of offer ``offer_id`` shows (``not_found`` for an unknown offer)."""
        hosted = self.issuer(name)
        record = self.store.offer(name, offer_id)
        offer_url = f"{self.endpoints(hosted)}/offers/{offer_id}"
        try:
            self.store.offer_document(name, offer_id, now=self.clock.now())
        except CivicError:  # used, expired, locked or made by value: nothing to show
            return OfferView(hosted.display_name, record, None)
        return OfferView(hosted.display_name, record, reference_uri(offer_url))

    def offers(self, name: str) -> tuple[OfferRecord, ...]:
        """``name``'s offers, newest first (no claims)."""
        self.issuer(name)
        return self.store.offers(name)

    # --- token endpoint (§6) --------------------------------------------------------------

    def token(self, name: str, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer a Token Request (§6.1) of the Pre-Authorized Code grant."""
        self.issuer(name)
        # 1. the grant type (RFC 6749 §5.2: unsupported_grant_type for any other)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise ProtocolError("invalid_request", "invalid_request", "grant_type is required")
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise ProtocolError(
                "unsupported_grant_type",
                "unsupported_grant_type",
                f"only {PRE_AUTHORIZED_GRANT} is supported",
            )
        # 2. the Pre-Authorized Code, and the Transaction Code if one came
        code = form.get("pre-authorized_code")
        if not code or len(code) > 1024:
            raise ProtocolError(
                "invalid_request", "invalid_request", "pre-authorized_code is required"
            )
        entered = form.get("tx_code")
        if entered is not None and not 0 < len(entered) <= 64:
            raise ProtocolError("invalid_request", "invalid_request", "tx_code is 1-64 characters")
        # 3. authorization_details (RFC 9396 §6.1), if used, ask for offered configurations
        details = form.get("authorization_details")
        configuration_ids = authorization_details(details) if details is not None else None
        # 4. redeem the code once, and issue the token bound to its offer
        token = new_secret()
        now = self.clock.now()
        self.store.redeem(
            name,
            code_hash=digest(code),
            tx_code_hash=None
            if entered is None
            else (lambda offer_id: self._tx_digest(offer_id, entered)),
            token_hash=digest(token),
            token_expires_at=now + ACCESS_TOKEN_TTL,
            identifiers=configuration_ids,
            configuration_ids=configuration_ids,
            now=now,
        )
        response: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL,
        }
        if configuration_ids is not None:
            # §6.2: one Credential Dataset per configuration: its identifier is the config id
            response["authorization_details"] = [
                {
                    "type": "openid_credential",
                    "credential_configuration_id": c,
                    "credential_identifiers": [c],
                }
                for c in dict.fromkeys(configuration_ids)
            ]
        return response
