"""The platform's Credential Issuers at work: OpenID4VCI 1.0 over the hosted authorities.

This is the issuance service, like :mod:`civicstack.services.authorities`: it owns the
issuer's use cases, deciding by the protocol's pure parts (:mod:`civicstack.openid4vci`) over
the state kept by the stores it declares (:mod:`.storage`), with the authorities who sign.
:mod:`civicstack.api.issuers` serves it over HTTP; nothing here knows about HTTP.

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
:class:`civicstack.services.review.ApplicationDesk`.

The package, one concept a module: :mod:`~civicstack.services.issuer.lifetimes` (how long
codes, tokens, nonces and transactions live), :mod:`~civicstack.services.issuer.storage` (the
store Protocols the issuer needs, which :mod:`civicstack.stores.issuance` and
:mod:`civicstack.stores.applications` implement), :mod:`~civicstack.services.issuer.hosted` (who
issues, metadata, issued credentials and their revocation),
:mod:`~civicstack.services.issuer.offers` (offers made and the Token Endpoint) and
:mod:`~civicstack.services.issuer.service` (the :class:`CredentialIssuer` and its other
endpoints). The protocol's rules it decides by are the core's: reading the Wallet's requests
(:mod:`civicstack.openid4vci.requests`), redeeming codes and spending tokens
(:mod:`civicstack.openid4vci.tokens`), deferred transactions
(:mod:`civicstack.openid4vci.deferred`).
"""

from civicstack.openid4vci.offers import derive_issuance_key
from civicstack.openid4vci.requests import MAX_REQUEST_BYTES, NOTIFICATION_EVENTS
from civicstack.services.issuer.lifetimes import (
    ACCESS_TOKEN_TTL,
    APPLICATION_OFFER_TTL,
    DAY,
    DEFAULT_INTERVAL,
    DEFAULT_OFFER_TTL,
    DEFERRED_TTL,
    MAX_OFFER_TTL,
    MINUTE,
    NONCE_TTL,
)
from civicstack.services.issuer.offers import CreatedOffer
from civicstack.services.issuer.service import CredentialIssuer, IssuerResponse

__all__ = [
    "ACCESS_TOKEN_TTL",
    "APPLICATION_OFFER_TTL",
    "DAY",
    "DEFAULT_INTERVAL",
    "DEFAULT_OFFER_TTL",
    "DEFERRED_TTL",
    "MAX_OFFER_TTL",
    "MAX_REQUEST_BYTES",
    "MINUTE",
    "NONCE_TTL",
    "NOTIFICATION_EVENTS",
    "CreatedOffer",
    "CredentialIssuer",
    "IssuerResponse",
    "derive_issuance_key",
]
