"""Deferred transactions (OpenID4VCI §9), as kept: a credential request parked while an
application is under review, collected once with the token that started it. What one is and
when it may be collected: :mod:`civicstack.openid4vci.deferred`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.errors import CivicError
from civicstack.openid4vci.deferred import (
    DeferredRecord,
    DeferredState,
    check_collectable,
    transaction_closed,
)
from civicstack.openid4vci.offers import OfferRecord
from civicstack.openid4vci.tokens import invalid_token
from civicstack.stores.issuance.offers import OfferStore
from civicstack.stores.issuance.tables import (
    issuance_deferred_table,
    issuance_offers_table,
    issuance_tokens_table,
)


class DeferredStore(OfferStore):
    """Deferred transactions, opened at the Credential Endpoint and closed once."""

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
        """Inside the caller's transaction: park a credential request until a decision."""
        conn.execute(
            insert(issuance_deferred_table).values(
                transaction_hash=transaction_hash,
                offer_id=offer_id,
                token_hash=token_hash,
                holder_jwks=json_dumps([dict(j) for j in holder_jwks]).decode(),
                state="pending",
                created_at=now,
                expires_at=expires_at,
                updated_at=now,
            )
        )
        conn.execute(
            update(issuance_offers_table)
            .where(issuance_offers_table.c.id == offer_id)
            .values(state="deferred")
        )

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
        """A pending transaction the token may collect, and its offer with claims.

        ``invalid_token`` when the token is unknown or belongs to another transaction;
        ``invalid_transaction_id`` when the transaction is unknown, collected or expired.
        """
        query = select(issuance_deferred_table).where(
            issuance_deferred_table.c.transaction_hash == transaction_hash
        )
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        token = conn.execute(
            select(issuance_tokens_table.c.offer_id).where(
                issuance_tokens_table.c.token_hash == token_hash
            )
        ).first()
        check_collectable(
            token_found=token is not None,
            state=None if row is None else row.state,
            expires_at=0 if row is None else int(row.expires_at),
            token_matches=row is not None and row.token_hash == token_hash,
            now=now,
        )
        assert row is not None
        try:
            offer = self._offer(conn, authority, row.offer_id, claims=True)
        except CivicError as exc:
            raise invalid_token("the access token is not valid") from exc
        jwks = tuple(json_loads_strict(row.holder_jwks))
        record = DeferredRecord(
            row.transaction_hash,
            row.offer_id,
            row.token_hash,
            jwks,
            cast(DeferredState, row.state),
            int(row.created_at),
            int(row.expires_at),
        )
        return record, offer

    def finish_deferred(
        self, conn: Connection, transaction_hash: str, state: DeferredState, *, now: int
    ) -> None:
        """Close a pending transaction (``issued`` or ``denied``), once."""
        done = conn.execute(
            update(issuance_deferred_table)
            .where(
                (issuance_deferred_table.c.transaction_hash == transaction_hash)
                & (issuance_deferred_table.c.state == "pending")
            )
            .values(state=state, updated_at=now)
        ).rowcount
        if done != 1:
            raise transaction_closed()
