"""Single use of the issuer's secrets, as kept: the Pre-Authorized Code redeemed for an access
token (OpenID4VCI §6), ``c_nonce`` values (§7), the access token spent at the Credential Endpoint
(§8) with what was issued under its offer, and the Wallet's notifications about it (§11).

The rules are :mod:`civicstack.openid4vci.tokens`'; each consuming step reads the rows, lets a
rule decide, and writes in one conditional write in one write transaction, so of parallel
attempts exactly one succeeds (the package docstring, :mod:`civicstack.stores.issuance`, says
how).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.errors import CivicError, ProtocolError
from civicstack.openid4vci.offers import OfferRecord, same_digest
from civicstack.openid4vci.tokens import (
    TokenGrant,
    check_nonce_used,
    check_notified,
    check_redeemable,
    check_token_usable,
    code_already_used,
    invalid_grant,
    token_already_spent,
    wrong_tx_code,
)
from civicstack.stores.authorities import authorities_table
from civicstack.stores.db import write_transaction
from civicstack.stores.issuance.offers import OfferStore
from civicstack.stores.issuance.tables import (
    issuance_nonces_table,
    issuance_offers_table,
    issuance_tokens_table,
    issuer_id,
)

_PURGE_EVERY = 64


class TokenStore(OfferStore):
    """Codes redeemed, nonces used, tokens spent: each once."""

    # --- token endpoint (§6) ------------------------------------------------------------

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
        """Exchange a Pre-Authorized Code for an access token, once.

        ``tx_code_hash`` hashes the Transaction Code the Wallet sent for the offer found (None
        when it sent none). Raises ``invalid_grant`` (unknown, used, expired, locked code, wrong
        Transaction Code) or ``invalid_request`` (a Transaction Code missing or unexpected,
        §6.3). A wrong code is counted even though the request fails; the offer locks after
        :data:`~civicstack.openid4vci.tokens.MAX_TX_FAILURES`.
        """
        failure: ProtocolError | None = None
        offer: OfferRecord | None = None
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                select(issuance_offers_table, authorities_table.c.name.label("authority"))
                .select_from(issuance_offers_table.join(authorities_table))
                .where(issuance_offers_table.c.code_hash == code_hash)
                .with_for_update(of=issuance_offers_table)
            ).first()
            # 1.-3. the code, the Transaction Code's presence, authorization_details
            check_redeemable(
                state=None if row is None or row.authority != authority else row.state,
                expires_at=0 if row is None else int(row.expires_at),
                expects_tx_code=row is not None and row.tx_code_hash is not None,
                tx_code_given=tx_code_hash is not None,
                offered="" if row is None else row.configuration_id,
                asked=configuration_ids,
                now=now,
            )
            assert row is not None
            if tx_code_hash is not None and not same_digest(tx_code_hash(row.id), row.tx_code_hash):
                wrong = wrong_tx_code(int(row.tx_failures))
                conn.execute(
                    update(issuance_offers_table)
                    .where(issuance_offers_table.c.id == row.id)
                    .values(
                        tx_failures=wrong.failures, state="locked" if wrong.locked else "offered"
                    )
                )
                failure = wrong.error()
            else:
                # 4. the code is spent and the token issued in the same transaction
                done = conn.execute(
                    update(issuance_offers_table)
                    .where(
                        (issuance_offers_table.c.id == row.id)
                        & (issuance_offers_table.c.state == "offered")
                    )
                    .values(state="redeemed", redeemed_at=now, document=None)
                ).rowcount
                if done != 1:
                    raise code_already_used()
                conn.execute(
                    insert(issuance_tokens_table).values(
                        token_hash=token_hash,
                        offer_id=row.id,
                        identifiers=None
                        if identifiers is None
                        else json_dumps(list(identifiers)).decode(),
                        created_at=now,
                        expires_at=token_expires_at,
                    )
                )
                offer = self._offer(conn, authority, row.id)
        if failure is not None or offer is None:
            raise failure or invalid_grant("the pre-authorized code is not valid")
        return offer

    # --- nonces (§7) --------------------------------------------------------------------

    def add_nonce(self, authority: str, nonce_hash: str, *, now: int, expires_at: int) -> None:
        """Remember a fresh ``c_nonce``; now and then, forget expired ones."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(issuance_nonces_table).values(
                    nonce_hash=nonce_hash,
                    authority_id=issuer_id(conn, authority),
                    expires_at=expires_at,
                )
            )
            if secrets.randbelow(_PURGE_EVERY) == 0:
                conn.execute(
                    delete(issuance_nonces_table).where(issuance_nonces_table.c.expires_at <= now)
                )

    # --- credential endpoint (§8) ---------------------------------------------------------

    def token(self, authority: str, token_hash: str, *, now: int) -> TokenGrant:
        """The grant of a valid, unspent token (read only); ``invalid_token`` otherwise."""
        with self.engine.connect() as conn:
            return self._token_grant(conn, authority, token_hash, now=now, lock=False)

    def _token_grant(
        self, conn: Connection, authority: str, token_hash: str, *, now: int, lock: bool
    ) -> TokenGrant:
        query = select(issuance_tokens_table).where(
            issuance_tokens_table.c.token_hash == token_hash
        )
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        offer: OfferRecord | None = None
        if row is not None:
            try:
                offer = self._offer(conn, authority, row.offer_id, claims=lock)
            except CivicError:  # a token of another issuer is no token here
                offer = None
        check_token_usable(
            found=offer is not None,
            spent_at=None if row is None or row.spent_at is None else int(row.spent_at),
            expires_at=0 if row is None else int(row.expires_at),
            now=now,
        )
        assert row is not None
        assert offer is not None
        identifiers = tuple(json_loads_strict(row.identifiers)) if row.identifiers else None
        return TokenGrant(token_hash, offer, identifiers)

    def spend(
        self,
        conn: Connection,
        authority: str,
        *,
        token_hash: str,
        nonce_hashes: Sequence[str],
        now: int,
    ) -> TokenGrant:
        """Inside the caller's transaction: use up the nonces and the token, once each.

        Raises ``invalid_nonce`` (an unknown, used or expired nonce) or ``invalid_token``;
        the caller's rollback restores everything.
        """
        # 1. every c_nonce the proofs carry, used once: a row deleted by one transaction is
        #    gone for every other
        authority_id = issuer_id(conn, authority)
        for nonce_hash in sorted(set(nonce_hashes)):
            gone = conn.execute(
                delete(issuance_nonces_table).where(
                    (issuance_nonces_table.c.nonce_hash == nonce_hash)
                    & (issuance_nonces_table.c.authority_id == authority_id)
                    & (issuance_nonces_table.c.expires_at > now)
                )
            ).rowcount
            check_nonce_used(gone)
        # 2. the token, spent by a conditional update
        grant = self._token_grant(conn, authority, token_hash, now=now, lock=True)
        done = conn.execute(
            update(issuance_tokens_table)
            .where(
                (issuance_tokens_table.c.token_hash == token_hash)
                & issuance_tokens_table.c.spent_at.is_(None)
            )
            .values(spent_at=now)
        ).rowcount
        if done != 1:
            raise token_already_spent()
        return grant

    def mark_issued(
        self, conn: Connection, offer_id: str, *, credential_ids: Sequence[str], now: int
    ) -> str:
        """Record what was issued under an offer, erase its claims; return a notification id."""
        notification_id = secrets.token_urlsafe(16)
        conn.execute(
            update(issuance_offers_table)
            .where(issuance_offers_table.c.id == offer_id)
            .values(
                state="issued",
                issued_at=now,
                claims=None,
                credential_ids=json_dumps(list(credential_ids)).decode(),
                notification_id=notification_id,
            )
        )
        return notification_id

    # --- notification endpoint (§11) ---------------------------------------------------------

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
            done = 0
            if row is not None:
                done = conn.execute(
                    update(issuance_offers_table)
                    .where(
                        (issuance_offers_table.c.id == row.id)
                        & (issuance_offers_table.c.notification_id == notification_id)
                    )
                    .values(notification_event=event)
                ).rowcount
            check_notified(token_found=row is not None, recorded=done)
