"""The issuer's store: offers, tokens, nonces, deferred transactions and notifications in one."""

from __future__ import annotations

from civicstack.stores.issuance.deferred import DeferredStore
from civicstack.stores.issuance.notifications import NotificationStore
from civicstack.stores.issuance.tokens import TokenStore


class IssuanceStore(TokenStore, DeferredStore, NotificationStore):
    """Offers, tokens, nonces, deferred transactions and notifications of hosted issuers."""
