"""The Wallet's notifications (OpenID4VCI §11) about the credentials issued under an offer."""

from __future__ import annotations

from sqlalchemy import select, update

from civicstack.errors import ProtocolError
from civicstack.stores.authorities import authorities_table
from civicstack.stores.db import write_transaction
from civicstack.stores.issuance.offers import OfferStore
from civicstack.stores.issuance.tables import issuance_offers_table, issuance_tokens_table
from civicstack.stores.issuance.tokens import invalid_token


class NotificationStore(OfferStore):
    """Events the Wallet reports for what it received."""

    def notify(self, authority: str, *, token_hash: str, notification_id: str, event: str) -> None:
        """Record the Wallet's event for the credentials issued under ``notification_id``.

        The token must be one issued for that offer (it may have been spent).
        """
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                select(issuance_offers_table.c.id, issuance_tokens_table.c.offer_id)
                .select_from(
                    issuance_tokens_table.join(
                        issuance_offers_table,
                        issuance_tokens_table.c.offer_id == issuance_offers_table.c.id,
                    ).join(authorities_table)
                )
                .where(
                    (issuance_tokens_table.c.token_hash == token_hash)
                    & (authorities_table.c.name == authority)
                )
            ).first()
            if row is None:
                raise invalid_token("the access token is not valid")
            done = conn.execute(
                update(issuance_offers_table)
                .where(
                    (issuance_offers_table.c.id == row.id)
                    & (issuance_offers_table.c.notification_id == notification_id)
                )
                .values(notification_event=event)
            ).rowcount
            if done != 1:
                raise ProtocolError(
                    "invalid_notification_id",
                    "invalid_notification_id",
                    "no credentials were issued under this notification_id",
                )
