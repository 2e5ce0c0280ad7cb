"""The platform's Credential Issuers at work: OpenID4VCI 1.0 over the hosted authorities.

This is the composition layer of issuance, like :mod:`civicstack.authorities`: it joins the
protocol's pure parts (:mod:`civicstack.issuance`), the issuer's state
(:mod:`civicstack.stores.issuance`), the content-addressed documents and the authorities who
sign. :mod:`civicstack.api.issuers` serves it over HTTP; nothing here knows about HTTP.

Each accredited authority ``NAME`` is a Credential Issuer whose identifier is its hosted
identifier (``{base_url}/issuers/NAME`` by default) and whose endpoints live under
``{base_url}/issuers/NAME``. It acts as its own Authorization Server and supports:

* Credential Offers by value and by reference (§4.1) with the Pre-Authorized Code grant and an
  optional Transaction Code;
* the Token Endpoint (§6) for ``urn:ietf:params:oauth:grant-type:pre-authorized_code``, with
  ``authorization_details`` (RFC 9396) optional;
* the Nonce Endpoint (§7);
* the Credential Endpoint (§8) with ``jwt`` key proofs, batches up to ``batch_size``;
* the Deferred Credential Endpoint (§9) for offers answering an application under review;
* the Notification Endpoint (§11).

Citizens' applications, whose offers end in deferred issuance, are taken by
:class:`civicstack.review.ApplicationDesk`.

Lifetimes: a Pre-Authorized Code lives 15 minutes by default ("short lived", §4.1.1; offers for
an application a week, since the citizen may scan the QR code later), an access token and a
``c_nonce`` 5 minutes (§13.6: longer-lived tokens count as long lived). A deferred transaction
stays collectable for 30 days with the token that started it: the credentials it yields are
bound to the keys proved at the Credential Endpoint, so a stolen token gains nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from civicstack._crypto import PublicKey, json_loads_strict, json_object_strict
from civicstack.authorities import Authorities
from civicstack.credential_types import CREDENTIAL_TYPES
from civicstack.errors import CivicError, InputError, ProtocolError
from civicstack.issuance.applications import (
    Status,
)
from civicstack.issuance.metadata import (
    DEFAULT_BATCH_SIZE,
    CredentialConfiguration,
    authorization_server_metadata,
    credential_issuer_metadata,
    jwt_vc_issuer_metadata,
)
from civicstack.issuance.offers import (
    MAX_TX_DESCRIPTION,
    PRE_AUTHORIZED_GRANT,
    CredentialOffer,
    TxCode,
    digest,
    keyed_digest,
    new_id,
    new_secret,
    new_tx_code,
    reference_uri,
)
from civicstack.issuance.proofs import PROOF_TYPE, verify_key_proof
from civicstack.stores.applications import ApplicationStore
from civicstack.stores.authorities import HostedAuthority
from civicstack.stores.issuance import IssuanceStore, OfferRecord
from civicstack.stores.status_lists import IssuedRecord, State
from civicstack.types import Clock

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

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
_ASCII_TEXT = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


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


def _invalid_request(detail: str) -> ProtocolError:
    return ProtocolError("invalid_credential_request", "invalid_credential_request", detail)


def _denied(detail: str) -> ProtocolError:
    return ProtocolError("credential_request_denied", "credential_request_denied", detail)


def _bearer(token: str | None) -> str:
    # RFC 6750 §3.1: a request without a token gets invalid_token-free 401s in principle;
    # we name the error so every client reads the same code.
    if not token or len(token) > 512:
        raise ProtocolError("invalid_token", "invalid_token", "an access token is required")
    return token


def _json_request(body: bytes, what: str) -> dict[str, Any]:
    if len(body) > MAX_REQUEST_BYTES:
        raise _invalid_request(f"the {what} is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        return json_object_strict(body)
    except CivicError as exc:
        raise _invalid_request(f"the {what} is not a JSON object: {exc.detail}") from exc


class CredentialIssuer:
    """Every hosted authority as an OpenID4VCI Credential Issuer."""

    def __init__(
        self,
        *,
        authorities: Authorities,
        store: IssuanceStore,
        applications: ApplicationStore,
        key: Callable[[], bytes],
        base_url: str,
        clock: Clock,
        interval: int = DEFAULT_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.authorities = authorities
        self.store = store
        self.applications = applications
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.interval = interval
        self.batch_size = batch_size

    # --- who issues ---------------------------------------------------------------------

    def issuer(self, name: str) -> HostedAuthority:
        """The hosted authority ``name``; ``unknown_authority`` unless it is one (not the root,
        not a relying party)."""
        hosted = self.authorities.get(name)
        if hosted.role != "authority":
            raise CivicError("unknown_authority", f"{name} is not a credential issuer")
        return hosted

    def by_identifier(self, identifier: str) -> HostedAuthority:
        """The issuer whose Credential Issuer Identifier is ``identifier``."""
        hosted = self.authorities.store.by_identifier(identifier)
        if hosted is None or hosted.role != "authority":
            raise CivicError("not_found", f"no credential issuer {identifier!r} here")
        return hosted

    def endpoints(self, hosted: HostedAuthority) -> str:
        """Where ``hosted``'s endpoints live."""
        return f"{self.base_url}/issuers/{hosted.name}"

    def configurations(self, hosted: HostedAuthority) -> list[CredentialConfiguration]:
        """One configuration per ``vct`` the authority is accredited for now (none if its
        accreditation lapsed: it then offers nothing)."""
        now = self.clock.now()
        try:
            accreditations = self.authorities.registry().valid_accreditations(
                hosted.identifier, now
            )
        except CivicError:
            return []
        scopes: dict[str, set[str]] = {}
        for acc in accreditations:
            for vct, claims in acc.scope.items():
                scopes.setdefault(vct, set()).update(claims)
        algs = (hosted.active_key.alg,)
        out = []
        for vct in sorted(scopes):
            known = CREDENTIAL_TYPES.get(vct)
            out.append(
                CredentialConfiguration(
                    id=vct,
                    vct=vct,
                    name=known.name if known else vct,
                    claims=tuple(sorted(scopes[vct])),
                    signing_algs=algs,
                )
            )
        return out

    # --- metadata -----------------------------------------------------------------------

    def issuer_metadata(self, hosted: HostedAuthority) -> dict[str, Any]:
        """Credential Issuer Metadata (§12.2)."""
        return credential_issuer_metadata(
            hosted.identifier,
            endpoints=self.endpoints(hosted),
            display_name=hosted.display_name,
            configurations=self.configurations(hosted),
            batch_size=self.batch_size,
        )

    def authorization_server_metadata(self, hosted: HostedAuthority) -> dict[str, Any]:
        """RFC 8414 metadata (the issuer is its own Authorization Server)."""
        return authorization_server_metadata(hosted.identifier, endpoints=self.endpoints(hosted))

    def jwt_vc_issuer_metadata(self, hosted: HostedAuthority) -> dict[str, Any]:
        """JWT VC Issuer Metadata: the signing keys, and the statements that accredit them."""
        keys = [{**k.public_jwk, "kid": k.kid, "alg": k.alg, "use": "sig"} for k in hosted.keys]
        return jwt_vc_issuer_metadata(hosted.identifier, keys, trust=self.authorities.export())

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
            or not 0 < len(tx_code_description) <= MAX_TX_DESCRIPTION
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
        configuration_ids = _authorization_details(details) if details is not None else None
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
        token_hash = digest(_bearer(access_token))
        grant = self.store.token(name, token_hash, now=now)
        # 2. the request: JSON, no encryption asked for
        request = _json_request(body, "credential request")
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
            raise _invalid_request(
                "give exactly one of credential_identifier, credential_configuration_id"
            )
        if grant.identifiers is not None:
            if identifier is None:
                raise _invalid_request("use credential_identifier from the token response")
            if identifier not in grant.identifiers:
                raise ProtocolError(
                    "unknown_credential_identifier",
                    "unknown_credential_identifier",
                    "the credential_identifier is not one this token was issued for",
                )
        else:
            if configuration is None:
                raise _invalid_request("use credential_configuration_id")
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
                raise _denied("the application for this credential was rejected")
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
            raise _invalid_request(f"at most {self.batch_size} proofs (batch_size)")
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
            raise _denied("the credentials of this offer were issued already")
        credentials: list[str] = []
        ids: list[str] = []
        for key in keys:
            try:
                issued = self.authorities.issue(
                    offer.authority,
                    vct=offer.configuration_id,
                    claims=offer.claims,
                    holder=key,
                    conn=conn,
                )
            except ProtocolError:
                raise
            except CivicError as exc:
                # the authority may no longer issue this (accreditation revoked...): the
                # Wallet learns it as §8.3.1 says, the operator reads the code
                raise _denied(f"{exc.code}: {exc.detail}") from exc
            credentials.append(issued.credential)
            ids.append(issued.record.id)
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
        token_hash = digest(_bearer(access_token))
        request = _json_request(body, "deferred credential request")
        if "credential_response_encryption" in request:
            raise ProtocolError(
                "invalid_encryption_parameters",
                "invalid_encryption_parameters",
                "this issuer does not encrypt credential responses",
            )
        transaction_id = request.get("transaction_id")
        if not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= 256:
            raise _invalid_request("transaction_id is required")
        transaction_hash = digest(transaction_id)
        # 2. a read first: while the review goes on, polling takes no write lock
        with self.store.engine.connect() as conn:
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
            raise _denied("the application for this credential was rejected")
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
            raise _denied("the application for this credential was rejected")
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
        token_hash = digest(_bearer(access_token))

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

    # --- issued credentials -----------------------------------------------------------------

    def credentials(self, name: str) -> tuple[IssuedRecord, ...]:
        """What ``name`` issued (never the claims)."""
        self.issuer(name)
        return self.authorities.credentials(name)

    def set_status(self, name: str, credential_id: str, state: State) -> IssuedRecord:
        """Revoke, suspend or reinstate one of ``name``'s credentials (a status bit flip)."""
        self.issuer(name)
        record = self.authorities.credential(credential_id)
        if record.authority != name:
            raise CivicError("not_found", f"{name} issued no credential {credential_id!r}")
        return self.authorities.set_status(credential_id, state)


def _authorization_details(text: str) -> list[str]:
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


def derive_issuance_key(master_key: bytes) -> bytes:
    """The issuance store's key (sealing claims, keying Transaction Code hashes), derived from
    the platform's master key so that the master key itself seals nothing but signing keys."""
    return hmac.new(master_key, b"civicstack/issuance/v1", "sha256").digest()


__all__ = [
    "ACCESS_TOKEN_TTL",
    "DEFERRED_TTL",
    "NONCE_TTL",
    "CreatedOffer",
    "CredentialIssuer",
    "IssuerResponse",
    "derive_issuance_key",
]
