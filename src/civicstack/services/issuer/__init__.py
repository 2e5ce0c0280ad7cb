"""The platform's Credential Issuers at work: OpenID4VCI 1.0 over the hosted authorities.

This is the composition layer of issuance, like :mod:`civicstack.services.authorities`: it joins the
protocol's pure parts (:mod:`civicstack.openid4vci`), the issuer's state
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
:class:`civicstack.services.review.ApplicationDesk`.

The package, one concept a module: :mod:`~civicstack.services.issuer.values` (lifetimes, limits,
offers made, responses), :mod:`~civicstack.services.issuer.messages`
(reading the Wallet's requests),
:mod:`~civicstack.services.issuer.hosted` (who issues, metadata, issued credentials),
:mod:`~civicstack.services.issuer.offers` (offers and the Token Endpoint) and
:mod:`~civicstack.services.issuer.service` (the :class:`CredentialIssuer` and its other endpoints).
"""

from civicstack.services.issuer.service import CredentialIssuer
from civicstack.services.issuer.values import (
    ACCESS_TOKEN_TTL,
    APPLICATION_OFFER_TTL,
    DAY,
    DEFAULT_INTERVAL,
    DEFAULT_OFFER_TTL,
    DEFERRED_TTL,
    MAX_OFFER_TTL,
    MAX_REQUEST_BYTES,
    MINUTE,
    NONCE_TTL,
    NOTIFICATION_EVENTS,
    CreatedOffer,
    IssuerResponse,
    derive_issuance_key,
)

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
