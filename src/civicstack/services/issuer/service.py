"""The :class:`CredentialIssuer`: the Nonce (§7), Credential (§8), Deferred Credential (§9)
and Notification (§11) Endpoints over the offers and tokens of
:mod:`civicstack.services.issuer.offers`.

Each endpoint's steps are numbered as comments in its method; :mod:`civicstack.services.issuer`
describes the issuer as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from civicstack._crypto import PublicKey, json_object_strict
from civicstack.errors import CivicError, ProtocolError
from civicstack.openid4vci.applications import Status
from civicstack.openid4vci.offers import OfferRecord, digest, new_secret
from civicstack.openid4vci.proofs import PROOF_TYPE, verify_key_proof
from civicstack.openid4vci.requests import (
    MAX_REQUEST_BYTES,
    NOTIFICATION_EVENTS,
    bearer,
    invalid_request,
    json_request,
    request_denied,
)
from civicstack.services.issuer.lifetimes import DEFERRED_TTL, NONCE_TTL
from civicstack.services.issuer.offers import OfferEndpoints
from civicstack.trust.parties import HostedAuthority

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

_ASCII_TEXT = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


@dataclass(frozen=True, slots=True)
class IssuerResponse:
    """A protocol response: the HTTP status (200 or 202) and the JSON body."""

    status: int
    body: dict[str, Any]


class CredentialIssuer(OfferEndpoints):
    """Every hosted authority as an OpenID4VCI Credential Issuer."""

    # --- nonce endpoint (§7) --------------------------------------------------------------

    def nonce(self, name: str) -> str:
        """A fresh ``c_nonce`` for ``name``'s key proofs, usable once within five minutes."""
        self.issuer(name)
        nonce = new_secret()
        now = self.clock.now()
        self.store.add_nonce(name, digest(nonce), now=now, expires_at=now + NONCE_TTL)
        return nonce

    # --- credential endpoint (§8) ---------------------------------------------------------

    def credential(self, name: str, access_token: str | None, body: bytes) -> IssuerResponse:
        """Answer a Credential Request (§8.2): credentials (200) or a transaction (202)."""
        hosted = self.issuer(name)
        now = self.clock.now()
        # 1. the access token (RFC 6750 §3.1 errors come first)
        token_hash = digest(bearer(access_token))
        grant = self.store.token(name, token_hash, now=now)
        # 2. the request: JSON, no encryption asked for
        request = json_request(body, "credential request")
        if "credential_response_encryption" in request:
            raise ProtocolError(
                "invalid_encryption_parameters",
                "invalid_encryption_parameters",
                "this issuer does not encrypt credential responses",
            )
        # 3. which credential: credential_identifier iff authorization_details were returned
        identifier = request.get("credential_identifier")
        configuration = request.get("credential_configuration_id")
        if (identifier is None) == (configuration is None):
            raise invalid_request(
                "give exactly one of credential_identifier, credential_configuration_id"
            )
        if grant.identifiers is not None:
            if identifier is None:
                raise invalid_request("use credential_identifier from the token response")
            if identifier not in grant.identifiers:
                raise ProtocolError(
                    "unknown_credential_identifier",
                    "unknown_credential_identifier",
                    "the credential_identifier is not one this token was issued for",
                )
        else:
            if configuration is None:
                raise invalid_request("use credential_configuration_id")
            if configuration != grant.offer.configuration_id:
                raise ProtocolError(
                    "unknown_credential_configuration",
                    "unknown_credential_configuration",
                    "the credential_configuration_id is not the one offered",
                )
        # 4. the key proofs: only the jwt type, as many as the batch size allows
        keys = self._proofs(hosted, request.get("proofs"), now)
        # 5. use up nonces and token, then issue or defer, all in one transaction
        with self.store.transaction() as conn:
            spent = self.store.spend(
                conn, name, token_hash=token_hash, nonce_hashes=[n for _, n in keys], now=now
            )
            offer = spent.offer
            status = self._application_status(name, offer, conn)
            if status == "rejected":
                raise request_denied("the application for this credential was rejected")
            if status == "pending":
                transaction_id = new_secret()
                self.store.create_deferred(
                    conn,
                    offer_id=offer.id,
                    token_hash=token_hash,
                    transaction_hash=digest(transaction_id),
                    holder_jwks=[key.to_jwk() for key, _ in keys],
                    now=now,
                    expires_at=now + DEFERRED_TTL,
                )
                return IssuerResponse(
                    202, {"transaction_id": transaction_id, "interval": self.interval}
                )
            credentials, notification_id = self._issue(conn, offer, [k for k, _ in keys], now)
        return IssuerResponse(
            200,
            {
                "credentials": [{"credential": c} for c in credentials],
                "notification_id": notification_id,
            },
        )

    def _proofs(
        self, hosted: HostedAuthority, proofs: object, now: int
    ) -> list[tuple[PublicKey, str]]:
        def invalid(detail: str) -> ProtocolError:
            return ProtocolError("invalid_proof", "invalid_proof", detail)

        # §8.2: proofs is required here, since the metadata lists proof_types_supported
        if proofs is None:
            raise invalid("proofs is required")
        if not isinstance(proofs, dict) or len(proofs) != 1:
            raise invalid("proofs is an object with exactly one proof type")
        ((kind, items),) = proofs.items()
        if kind != PROOF_TYPE:
            raise invalid(f"proof type {kind!r} is not supported; use jwt")
        if not isinstance(items, list) or not items:
            raise invalid("proofs.jwt is a non-empty array")
        if len(items) > self.batch_size:
            raise invalid_request(f"at most {self.batch_size} proofs (batch_size)")
        out: list[tuple[PublicKey, str]] = []
        seen: set[str] = set()
        for item in items:
            proof = verify_key_proof(item, audience=hosted.identifier, now=now)
            thumbprint = proof.key.thumbprint()
            # each key binds at most one credential (§8.3)
            if thumbprint in seen:
                raise invalid("two proofs are for the same key")
            seen.add(thumbprint)
            assert proof.nonce is not None  # require_nonce
            out.append((proof.key, digest(proof.nonce)))
        return out

    def _application_status(self, name: str, offer: OfferRecord, conn: Connection) -> Status | None:
        if offer.application_id is None:
            return None
        return self.applications.application(name, offer.application_id, conn=conn).status

    def _issue(
        self, conn: Connection, offer: OfferRecord, keys: Sequence[PublicKey], now: int
    ) -> tuple[list[str], str]:
        if offer.claims is None:
            raise request_denied("the credentials of this offer were issued already")
        try:
            # One credential, one copy per proved key (§8.2 batch): each its own status index,
            # all under one credential id, so that a revocation reaches every copy.
            issued = self.authorities.issue_copies(
                offer.authority,
                vct=offer.configuration_id,
                claims=offer.claims,
                holders=list(keys),
                conn=conn,
            )
        except ProtocolError:
            raise
        except CivicError as exc:
            # the authority may no longer issue this (accreditation revoked...): the
            # Wallet learns it as §8.3.1 says, the operator reads the code
            raise request_denied(f"{exc.code}: {exc.detail}") from exc
        credentials = [i.credential for i in issued]
        ids = [issued[0].record.id]
        notification_id = self.store.mark_issued(conn, offer.id, credential_ids=ids, now=now)
        return credentials, notification_id

    # --- deferred credential endpoint (§9) ------------------------------------------------

    def deferred_credential(
        self, name: str, access_token: str | None, body: bytes
    ) -> IssuerResponse:
        """Answer a Deferred Credential Request (§9.1): credentials (200) once approved, the
        same ``transaction_id`` (202) while under review, ``credential_request_denied`` after
        a rejection, ``invalid_transaction_id`` for an unknown or collected one."""
        self.issuer(name)
        now = self.clock.now()
        # 1. the token, and the transaction it may collect
        token_hash = digest(bearer(access_token))
        request = json_request(body, "deferred credential request")
        if "credential_response_encryption" in request:
            raise ProtocolError(
                "invalid_encryption_parameters",
                "invalid_encryption_parameters",
                "this issuer does not encrypt credential responses",
            )
        transaction_id = request.get("transaction_id")
        if not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= 256:
            raise invalid_request("transaction_id is required")
        transaction_hash = digest(transaction_id)
        # 2. a read first: while the review goes on, polling takes no write lock
        with self.store.reading() as conn:
            record, offer = self.store.deferred(
                conn,
                name,
                token_hash=token_hash,
                transaction_hash=transaction_hash,
                now=now,
                lock=False,
            )
            status = self._application_status(name, offer, conn)
        if record.state == "denied":
            raise request_denied("the application for this credential was rejected")
        if status == "pending":
            return IssuerResponse(
                202, {"transaction_id": transaction_id, "interval": self.interval}
            )
        # 3. decided: issue (or deny) once, under the row lock
        denied = False
        with self.store.transaction() as conn:
            record, offer = self.store.deferred(
                conn,
                name,
                token_hash=token_hash,
                transaction_hash=transaction_hash,
                now=now,
                lock=True,
            )
            status = self._application_status(name, offer, conn)
            if record.state == "denied" or status == "rejected":
                if record.state == "pending":
                    self.store.finish_deferred(conn, transaction_hash, "denied", now=now)
                denied = True
            else:
                keys = [PublicKey.from_jwk(jwk) for jwk in record.holder_jwks]
                credentials, notification_id = self._issue(conn, offer, keys, now)
                self.store.finish_deferred(conn, transaction_hash, "issued", now=now)
        if denied:
            raise request_denied("the application for this credential was rejected")
        return IssuerResponse(
            200,
            {
                "credentials": [{"credential": c} for c in credentials],
                "notification_id": notification_id,
            },
        )

    # --- notification endpoint (§11) ------------------------------------------------------

    def notification(self, name: str, access_token: str | None, body: bytes) -> None:
        """Record a Notification Request (§11.1)."""
        self.issuer(name)
        token_hash = digest(bearer(access_token))

        def bad(detail: str) -> ProtocolError:
            return ProtocolError(
                "invalid_notification_request", "invalid_notification_request", detail
            )

        if len(body) > MAX_REQUEST_BYTES:
            raise bad("the notification is too large")
        try:
            request = json_object_strict(body)
        except CivicError as exc:
            raise bad(f"the notification is not a JSON object: {exc.detail}") from exc
        notification_id, event = request.get("notification_id"), request.get("event")
        description = request.get("event_description")
        if not isinstance(notification_id, str) or not 0 < len(notification_id) <= 64:
            raise bad("notification_id is required")
        if event not in NOTIFICATION_EVENTS:
            raise bad(f"event is one of {', '.join(NOTIFICATION_EVENTS)}")
        if description is not None and (
            not isinstance(description, str)
            or len(description) > 1000
            or not set(description) <= _ASCII_TEXT
        ):
            raise bad("event_description is ASCII text without quotes or backslashes")
        self.store.notify(
            name, token_hash=token_hash, notification_id=notification_id, event=str(event)
        )
