"""The Wallet's side of OpenID4VCI 1.0: from a Credential Offer to credentials.

The steps of the Pre-Authorized Code Flow (§3.5, Figure 2), each a method of
:class:`IssuanceClient`, run in order by :meth:`IssuanceClient.receive`:

1. read the offer, fetching it when it comes by reference (§4.1.3);
2. fetch the Credential Issuer Metadata from the identifier's well-known URL (§12.2.2) and the
   Authorization Server Metadata (RFC 8414 §3; the issuer itself unless
   ``authorization_servers`` names another);
3. redeem the Pre-Authorized Code at the token endpoint, with the Transaction Code if the offer
   asks for one (§6.1);
4. get a ``c_nonce`` from the nonce endpoint when there is one (§7.1);
5. send the Credential Request with key proofs signed by the holder (§8.2 ``proofs.jwt``): one
   proof, or one per copy of a batch, each by its own key (no more than the issuer's
   ``batch_size``, §12.2.4); one fresh nonce and a retry if the issuer answers
   ``invalid_nonce``;
6. take the credentials (200), or the ``transaction_id`` and ``interval`` of a deferred issuance
   (202) to collect later at the deferred endpoint (§9).

HTTP goes through the wallet's :class:`~civicstack.wallet.transport.Transport`, as for
OpenID4VP. Everything the issuer sends is hostile: responses are read up to a size cap and
parsed strictly; offers and metadata are checked before use; URLs must be https, except as the
client's :class:`~civicstack.openid4vci.offers.HttpPolicy` allows (by default on the loopback
interface: a platform running on this machine; :class:`UnsafeAllowHttp` anywhere, with a
warning).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from civicstack._crypto import json_loads_strict
from civicstack.errors import CivicError, InputError
from civicstack.openid4vci.metadata import (
    AuthorizationServerMetadata,
    IssuerMetadata,
    IssuerTrustBundle,
)
from civicstack.openid4vci.offers import (
    LOOPBACK_HTTP,
    PRE_AUTHORIZED_GRANT,
    CredentialOffer,
    HttpPolicy,
    OfferReference,
    check_issuer_identifier,
    check_url,
    parse_offer_uri,
    well_known,
)
from civicstack.trust import RootAuthority
from civicstack.wallet.anchors import Anchoring, anchor
from civicstack.wallet.holder import StoredCredential, Wallet
from civicstack.wallet.limits import DEFAULT_LIMITS, Limits
from civicstack.wallet.transport import Method, Transport, error_from

#: Signs the key proofs for ``(audience, c_nonce)``: one proof, or a list of proofs (a batch:
#: one per key, §8.2), every one carrying that nonce.
SignProof = Callable[[str, str | None], str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class PreparedOffer:
    """An offer with the issuer's metadata, ready for the token request."""

    offer: CredentialOffer
    issuer: IssuerMetadata
    authorization_server: AuthorizationServerMetadata
    configuration_id: str

    @property
    def vct(self) -> str | None:
        """The offered credential type (SD-JWT VC ``vct``)."""
        vct = self.issuer.configuration(self.configuration_id).get("vct")
        return vct if isinstance(vct, str) else None


@dataclass(frozen=True, slots=True)
class Issued:
    """Credentials received (§8.3)."""

    credentials: tuple[str, ...]
    notification_id: str | None


@dataclass(frozen=True, slots=True)
class Deferred:
    """A deferred issuance to collect at ``endpoint`` with ``access_token`` (§9)."""

    credential_issuer: str
    endpoint: str
    access_token: str
    transaction_id: str
    interval: int
    notification_endpoint: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What a wallet keeps to come back later."""
        return {
            "credential_issuer": self.credential_issuer,
            "deferred_credential_endpoint": self.endpoint,
            "access_token": self.access_token,
            "transaction_id": self.transaction_id,
            "interval": self.interval,
            "notification_endpoint": self.notification_endpoint,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Deferred:
        """Read what :meth:`to_json` wrote."""
        try:
            return cls(
                str(value["credential_issuer"]),
                str(value["deferred_credential_endpoint"]),
                str(value["access_token"]),
                str(value["transaction_id"]),
                int(value["interval"]),
                value.get("notification_endpoint"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CivicError("wallet_corrupted", "a pending issuance record is damaged") from exc


IssuanceOutcome = Issued | Deferred


class IssuanceClient:
    """A Wallet's OpenID4VCI client over ``transport``; ``http`` decides where plain http
    is acceptable."""

    def __init__(
        self,
        transport: Transport,
        *,
        http: HttpPolicy = LOOPBACK_HTTP,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.transport = transport
        self.http = http
        self.limits = limits

    # --- plumbing ---------------------------------------------------------------------------

    def _url(self, value: object, what: str) -> str:
        return check_url(value, what, http=self.http)

    def _send(
        self,
        method: Method,
        url: str,
        *,
        what: str,
        accept: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        json: Any = None,
    ) -> tuple[int, Any]:
        """Send a request; return the status and the strictly parsed JSON body.

        A body over the cap is ``fetch_failed``, no answer at all ``server_unreachable``. An
        error response becomes the CivicError its ``code`` (civicstack) or OAuth ``error``
        names when that is a known code, else ``fetch_failed``.
        """
        try:
            status, body = self.transport.send(
                method,
                url,
                max_bytes=self.limits.issuer_response_bytes,
                headers=headers,
                form=form,
                json=json,
            )
        except CivicError as exc:
            raise CivicError(exc.code, f"{what}: {exc.detail}") from exc
        try:
            parsed = json_loads_strict(body) if body else None
        except CivicError:
            parsed = None
        if status not in accept:
            raise error_from(status, parsed, what)
        if parsed is None:
            raise InputError("invalid_offer", f"{what}: the response is not JSON")
        return status, parsed

    # --- 1. the offer ------------------------------------------------------------------------

    def resolve(self, text: str) -> CredentialOffer:
        """The Credential Offer in ``text`` (by value), or fetched from its URI (by reference)."""
        parsed = parse_offer_uri(text)
        if isinstance(parsed, OfferReference):
            url = self._url(parsed.url, "credential_offer_uri")
            _, body = self._send(
                "GET", url, what="the credential offer", headers={"Accept": "application/json"}
            )
            parsed = CredentialOffer.from_json(body)
        return parsed

    # --- 2. metadata -------------------------------------------------------------------------

    def discover(self, offer: CredentialOffer) -> PreparedOffer:
        """Fetch and check the issuer's and its Authorization Server's metadata."""
        identifier = offer.credential_issuer
        check_issuer_identifier(identifier, http=self.http)
        if offer.pre_authorized_code is None:
            raise InputError("unsupported", "the offer has no pre-authorized code grant")
        _, body = self._send(
            "GET",
            well_known(identifier, "openid-credential-issuer"),
            what="the credential issuer metadata",
            headers={"Accept": "application/json"},
        )
        issuer = IssuerMetadata.from_json(body, identifier=identifier, http=self.http)
        configuration_id = offer.credential_configuration_ids[0]
        issuer.configuration(configuration_id)
        # The Authorization Server: the issuer itself unless it names others (§12.2.4).
        server = issuer.authorization_servers[0] if issuer.authorization_servers else identifier
        check_issuer_identifier(server, http=self.http)
        _, body = self._send(
            "GET",
            well_known(server, "oauth-authorization-server"),
            what="the authorization server metadata",
            headers={"Accept": "application/json"},
        )
        authorization_server = AuthorizationServerMetadata.from_json(
            body, issuer=server, http=self.http
        )
        return PreparedOffer(offer, issuer, authorization_server, configuration_id)

    def issuer_trust(self, issuer: str) -> IssuerTrustBundle:
        """The JWT VC Issuer Metadata of a credential's ``iss`` (its keys and trust chain)."""
        check_issuer_identifier(issuer, http=self.http)
        _, body = self._send(
            "GET",
            well_known(issuer, "jwt-vc-issuer"),
            what="the JWT VC issuer metadata",
            headers={"Accept": "application/json"},
        )
        return IssuerTrustBundle.from_json(body, issuer=issuer)

    # --- 3. token ------------------------------------------------------------------------------

    def token(self, prepared: PreparedOffer, tx_code: str | None) -> str:
        """Redeem the Pre-Authorized Code (§6.1); return the access token."""
        code = prepared.offer.pre_authorized_code
        assert code is not None
        form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}
        if prepared.offer.tx_code is not None:
            if tx_code is None:
                raise InputError("invalid_request", "this offer needs its transaction code")
            form["tx_code"] = prepared.offer.tx_code.check(tx_code)
        _, body = self._send(
            "POST",
            prepared.authorization_server.token_endpoint,
            what="the token endpoint",
            form=form,
        )
        token = body.get("access_token") if isinstance(body, dict) else None
        token_type = body.get("token_type") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(token_type, str):
            raise InputError("invalid_offer", "the token response has no access_token")
        if token_type.lower() != "bearer":
            raise InputError("unsupported", f"token_type {token_type!r} is not supported")
        return token

    # --- 4. nonce ------------------------------------------------------------------------------

    def nonce(self, prepared: PreparedOffer) -> str | None:
        """A fresh ``c_nonce``, or None when the issuer has no nonce endpoint (§7)."""
        endpoint = prepared.issuer.nonce_endpoint
        if endpoint is None:
            return None
        _, body = self._send("POST", endpoint, what="the nonce endpoint")
        nonce = body.get("c_nonce") if isinstance(body, dict) else None
        if not isinstance(nonce, str) or not 0 < len(nonce) <= 512:
            raise InputError("invalid_offer", "the nonce response has no c_nonce")
        return nonce

    # --- 5.-6. credential ----------------------------------------------------------------------

    def credential(
        self, prepared: PreparedOffer, access_token: str, sign: SignProof
    ) -> IssuanceOutcome:
        """Send the Credential Request with the key proofs ``sign`` makes (§8.2: one, or one per
        copy of a batch, at most the issuer's ``batch_size``); retry once on a stale nonce."""
        identifier = prepared.issuer.credential_issuer
        for attempt in (1, 2):
            nonce = self.nonce(prepared)
            request: dict[str, Any] = {"credential_configuration_id": prepared.configuration_id}
            if prepared.issuer.proof_algorithms(prepared.configuration_id) is not None:
                signed = sign(identifier, nonce)
                proofs = [signed] if isinstance(signed, str) else list(signed)
                if not 1 <= len(proofs) <= prepared.issuer.batch_size:
                    raise InputError(
                        "invalid_request",
                        f"{identifier} takes 1 to {prepared.issuer.batch_size} key proofs",
                    )
                request["proofs"] = {"jwt": proofs}
            try:
                status, body = self._send(
                    "POST",
                    prepared.issuer.credential_endpoint,
                    what="the credential endpoint",
                    accept=(200, 202),
                    json=request,
                    headers={"Authorization": f"Bearer {access_token}"},
                )
            except CivicError as exc:
                if exc.code == "invalid_nonce" and attempt == 1:
                    continue  # §8.3.1: fetch a new c_nonce and try again
                raise
            return self._outcome(
                status, body, prepared.issuer, access_token, prepared.issuer.credential_issuer
            )
        raise CivicError("invalid_nonce", "the issuer refused two fresh nonces")

    def _outcome(
        self, status: int, body: Any, issuer: IssuerMetadata | None, token: str, iss: str
    ) -> IssuanceOutcome:
        if not isinstance(body, dict):
            raise InputError("invalid_offer", "the credential response is not a JSON object")
        if status == 202:
            transaction_id, interval = body.get("transaction_id"), body.get("interval")
            if not isinstance(transaction_id, str) or not transaction_id:
                raise InputError("invalid_offer", "a deferred response needs a transaction_id")
            if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
                raise InputError("invalid_offer", "a deferred response needs a positive interval")
            endpoint = issuer.deferred_credential_endpoint if issuer else None
            if endpoint is None:
                raise InputError("invalid_offer", "deferred, but the issuer has no endpoint for it")
            return Deferred(
                iss,
                endpoint,
                token,
                transaction_id,
                min(int(interval), self.limits.deferred_interval),
                issuer.notification_endpoint if issuer else None,
            )
        items = body.get("credentials")
        if not isinstance(items, list) or not items:
            raise InputError("invalid_offer", "the credential response has no credentials")
        if len(items) > self.limits.copies:
            raise InputError("invalid_offer", "the credential response has too many credentials")
        credentials = []
        for item in items:
            credential = item.get("credential") if isinstance(item, dict) else None
            if not isinstance(credential, str) or not credential:
                raise InputError("invalid_offer", "an SD-JWT VC credential is a string")
            credentials.append(credential)
        notification_id = body.get("notification_id")
        return Issued(
            tuple(credentials), notification_id if isinstance(notification_id, str) else None
        )

    def collect(self, deferred: Deferred) -> IssuanceOutcome:
        """Ask the Deferred Credential Endpoint once (§9.1)."""
        endpoint = self._url(deferred.endpoint, "deferred_credential_endpoint")
        status, body = self._send(
            "POST",
            endpoint,
            what="the deferred credential endpoint",
            accept=(200, 202),
            json={"transaction_id": deferred.transaction_id},
            headers={"Authorization": f"Bearer {deferred.access_token}"},
        )
        if status == 202:
            interval = body.get("interval") if isinstance(body, dict) else None
            if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
                raise InputError("invalid_offer", "a deferred response needs a positive interval")
            return Deferred(
                deferred.credential_issuer,
                deferred.endpoint,
                deferred.access_token,
                deferred.transaction_id,
                min(int(interval), self.limits.deferred_interval),
                deferred.notification_endpoint,
            )
        return self._outcome(status, body, None, deferred.access_token, deferred.credential_issuer)

    def notify(
        self, endpoint: str | None, access_token: str, notification_id: str | None, event: str
    ) -> None:
        """Tell the issuer what became of the credentials (§11); best effort, never raises."""
        if endpoint is None or notification_id is None:
            return
        try:
            self.transport.send(
                "POST",
                self._url(endpoint, "notification_endpoint"),
                max_bytes=self.limits.issuer_response_bytes,
                json={"notification_id": notification_id, "event": event},
                headers={"Authorization": f"Bearer {access_token}"},
                truncate=True,
            )
        except CivicError:
            return

    # --- the whole flow --------------------------------------------------------------------------

    def receive(
        self, prepared: PreparedOffer, *, tx_code: str | None, sign: SignProof
    ) -> tuple[str, IssuanceOutcome]:
        """Steps 3 to 6 for an offer already resolved and discovered (steps 1 and 2 come
        first, so the holder can be shown who offers what and asked for the Transaction Code):
        returns the access token (for notifications) and the outcome."""
        token = self.token(prepared, tx_code)
        return token, self.credential(prepared, token, sign)


# --- keeping what was issued -------------------------------------------------------------------


def issuer_trust(
    client: IssuanceClient, wallet: Wallet, issuer: str, *, pin: Sequence[RootAuthority] = ()
) -> Anchoring:
    """The trust registry a credential from ``issuer`` is checked against: the wallet's roots
    (pinning ``pin``, or the issuer's on first use: :func:`civicstack.wallet.anchors.anchor`)
    and the accreditation statements the issuer publishes, each re-verified."""
    bundle = client.issuer_trust(issuer)
    return anchor(
        wallet, offered=bundle.roots, statements=bundle.statements, source=issuer, pin=pin
    )


def store_issued(
    client: IssuanceClient,
    wallet: Wallet,
    issued: Issued,
    *,
    key_ids: tuple[str, ...],
    issuer: str,
    access_token: str,
    notification_endpoint: str | None,
    pin: Sequence[RootAuthority] = (),
) -> tuple[StoredCredential, Anchoring]:
    """Keep the copies of one issued credential as one stored credential once its chain checks
    out under the wallet's roots, and tell the issuer (§11 ``credential_accepted``). On any
    failure nothing is kept, the copies' keys are discarded and the issuer is told
    ``credential_failure``."""
    try:
        anchoring = issuer_trust(client, wallet, issuer, pin=pin)
        held = wallet.add_copies(issued.credentials, trust=anchoring.registry)
        if held.iss != issuer:
            wallet.remove_credential(held.id)
            raise CivicError("untrusted_issuer", f"the credential names {held.iss} as issuer")
    except CivicError:
        wallet.discard_copy_keys(key_ids)
        client.notify(
            notification_endpoint, access_token, issued.notification_id, "credential_failure"
        )
        raise
    client.notify(
        notification_endpoint, access_token, issued.notification_id, "credential_accepted"
    )
    return held, anchoring


def keep_pending(wallet: Wallet, deferred: Deferred, key_ids: tuple[str, ...], *, now: int) -> str:
    """Keep a deferred issuance (encrypted) with the keys its credentials will be bound to;
    its id (``civic wallet deferred`` collects it)."""
    record = {**deferred.to_json(), "created_at": now, "copy_keys": list(key_ids)}
    return wallet.save_pending(record)
