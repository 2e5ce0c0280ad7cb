"""What the issuer keeps, as the Protocols it needs: :mod:`civicstack.stores.issuance`
implements :class:`IssuanceRecords`, :mod:`civicstack.stores.applications`
:class:`ApplicationReader`; :mod:`civicstack.platform` wires them in.

A ``conn`` is the store's transaction handle, passed through so that the issuer's writes and the
authorities' (a credential recorded with its status-list entry) commit or roll back together.
Each consuming method applies the protocol's rules (:mod:`civicstack.openid4vci.tokens`,
:mod:`civicstack.openid4vci.deferred`) inside its transaction and raises what they raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from civicstack.openid4vci.applications import Application
from civicstack.openid4vci.deferred import DeferredRecord, DeferredState
from civicstack.openid4vci.offers import OfferRecord, TxCode
from civicstack.openid4vci.tokens import TokenGrant

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class IssuanceRecords(Protocol):
    """Offers, access tokens, nonces, deferred transactions and notifications of the hosted
    issuers."""

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction other stores can join."""
        ...

    def reading(self) -> AbstractContextManager[Connection]:
        """A read-only connection other stores can read through."""
        ...

    def create_offer(
        self,
        authority: str,
        *,
        offer_id: str,
        configuration_id: str,
        claims: Mapping[str, Any],
        code_hash: str,
        tx_code: TxCode | None,
        tx_code_hash: str | None,
        document: Mapping[str, Any] | None,
        now: int,
        expires_at: int,
        application_id: str | None = None,
        conn: Connection | None = None,
    ) -> OfferRecord:
        """Record a new offer (§4.1)."""
        ...

    def offer(self, authority: str, offer_id: str) -> OfferRecord:
        """One offer, without claims; ``not_found`` otherwise."""
        ...

    def offer_document(self, authority: str, offer_id: str, *, now: int) -> dict[str, Any]:
        """The offer object served by reference (§4.1.3) while it can be redeemed."""
        ...

    def offers(self, authority: str, *, limit: int = 200) -> tuple[OfferRecord, ...]:
        """An issuer's offers, newest first."""
        ...

    def redeem(
        self,
        authority: str,
        *,
        code_hash: str,
        tx_code_hash: Callable[[str], str] | None,
        token_hash: str,
        token_expires_at: int,
        identifiers: Sequence[str] | None,
        configuration_ids: Sequence[str] | None,
        now: int,
    ) -> OfferRecord:
        """Exchange a Pre-Authorized Code for an access token, once (§6)."""
        ...

    def add_nonce(self, authority: str, nonce_hash: str, *, now: int, expires_at: int) -> None:
        """Remember a fresh ``c_nonce`` (§7)."""
        ...

    def token(self, authority: str, token_hash: str, *, now: int) -> TokenGrant:
        """The grant of a valid, unspent token (read only)."""
        ...

    def spend(
        self,
        conn: Connection,
        authority: str,
        *,
        token_hash: str,
        nonce_hashes: Sequence[str],
        now: int,
    ) -> TokenGrant:
        """Use up the nonces and the token, once each (§8)."""
        ...

    def mark_issued(
        self, conn: Connection, offer_id: str, *, credential_ids: Sequence[str], now: int
    ) -> str:
        """Record what was issued under an offer, erase its claims; a notification id."""
        ...

    def create_deferred(
        self,
        conn: Connection,
        *,
        offer_id: str,
        token_hash: str,
        transaction_hash: str,
        holder_jwks: Sequence[Mapping[str, str]],
        now: int,
        expires_at: int,
    ) -> None:
        """Park a credential request until a decision (§9)."""
        ...

    def deferred(
        self,
        conn: Connection,
        authority: str,
        *,
        token_hash: str,
        transaction_hash: str,
        now: int,
        lock: bool,
    ) -> tuple[DeferredRecord, OfferRecord]:
        """A transaction the token may collect, and its offer with claims."""
        ...

    def finish_deferred(
        self, conn: Connection, transaction_hash: str, state: DeferredState, *, now: int
    ) -> None:
        """Close a pending transaction, once."""
        ...

    def notify(self, authority: str, *, token_hash: str, notification_id: str, event: str) -> None:
        """Record the Wallet's event about what an offer issued (§11)."""
        ...


class ApplicationReader(Protocol):
    """The applications an offer may answer: read inside the issuer's transaction."""

    def application(
        self, authority: str, application_id: str, *, conn: Connection | None = None
    ) -> Application:
        """One application of ``authority``; ``not_found`` otherwise."""
        ...
