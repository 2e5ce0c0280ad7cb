"""The Credential Issuer's state, as kept: offers, access tokens, nonces, deferred issuance.

The tables are in :mod:`~civicstack.stores.issuance.tables` (Alembic branch ``issuance``; the
applications' tables are in :mod:`civicstack.stores.applications`). :class:`IssuanceStore`
joins the store's parts, one module each:

* :mod:`~civicstack.stores.issuance.offers`: offers made, read, listed, served by reference;
* :mod:`~civicstack.stores.issuance.tokens`: codes redeemed for access tokens (§6), ``c_nonce``
  values (§7), tokens spent at the Credential Endpoint (§8), the Wallet's notifications (§11);
* :mod:`~civicstack.stores.issuance.deferred`: deferred transactions (§9).

What they hand back and the rules they decide by are the protocol's, in the core:
:class:`~civicstack.openid4vci.offers.OfferRecord`, :mod:`civicstack.openid4vci.tokens`
(:class:`~civicstack.openid4vci.tokens.TokenGrant`) and :mod:`civicstack.openid4vci.deferred`
(:class:`~civicstack.openid4vci.deferred.DeferredRecord`). The store implements the
:class:`civicstack.services.issuer.storage.IssuanceRecords` Protocol.

Personal data at rest: claims and by-reference offer documents are sealed with AES-256-GCM under
a key derived from the platform's master key, bound to their row (associated data), and an
offer's claims are erased once its credentials are issued (OpenID4VCI §15.3: issuers should not
keep what they issued).

Single use under concurrency. Every consuming step is a conditional write inside one
:func:`civicstack.stores.db.write_transaction` (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the
row is locked ``FOR UPDATE`` and the update re-checks the state), so of any number of parallel
redemptions of a code, spends of a token or uses of a nonce, exactly one succeeds.
"""

from civicstack.stores.issuance.deferred import DeferredStore
from civicstack.stores.issuance.sealing import RowSealer
from civicstack.stores.issuance.tables import (
    check_row_id,
    issuance_deferred_table,
    issuance_nonces_table,
    issuance_offers_table,
    issuance_tokens_table,
    issuer_id,
)
from civicstack.stores.issuance.tokens import TokenStore


class IssuanceStore(TokenStore, DeferredStore):
    """Offers, tokens, nonces, deferred transactions and notifications of hosted issuers."""


__all__ = [
    "IssuanceStore",
    "RowSealer",
    "check_row_id",
    "issuance_deferred_table",
    "issuance_nonces_table",
    "issuance_offers_table",
    "issuance_tokens_table",
    "issuer_id",
]
