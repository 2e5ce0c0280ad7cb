"""Single use of the issuer's secrets: the Pre-Authorized Code redeemed for an access token
(OpenID4VCI §6), ``c_nonce`` values (§7), and the access token spent at the Credential Endpoint
(§8) with what was issued under its offer.

Each consuming step is one conditional write in one write transaction, so of parallel attempts
exactly one succeeds (the package docstring, :mod:`civicstack.stores.issuance`, says how).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.errors import CivicError, ProtocolError
from civicstack.openid4vci.offers import same_digest
from civicstack.stores.authorities import authorities_table
from civicstack.stores.db import write_transaction
from civicstack.stores.issuance.offers import OfferStore
from civicstack.stores.issuance.records import OfferRecord, TokenGrant
from civicstack.stores.issuance.tables import (
    issuance_nonces_table,
    issuance_offers_table,
    issuance_tokens_table,
    issuer_id,
)

#: Wrong Transaction Codes an offer survives; the next one locks it (RFC 6749 §10.10).
MAX_TX_FAILURES = 5
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
        :data:`MAX_TX_FAILURES`.
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
            # 1. a code this issuer made, still offered and not expired
            if row is None or row.authority != authority:
                raise invalid_grant("the pre-authorized code is not valid")
            if row.state == "locked":
                raise invalid_grant("the offer is locked after too many wrong transaction codes")
            if row.state != "offered":
                raise invalid_grant("the pre-authorized code has already been used")
            if now >= row.expires_at:
                raise invalid_grant("the pre-authorized code has expired")
            # 2. the Transaction Code: present exactly when the offer asked for one
            if row.tx_code_hash is None and tx_code_hash is not None:
                raise ProtocolError(
                    "invalid_request", "invalid_request", "this offer expects no tx_code"
                )
            if row.tx_code_hash is not None and tx_code_hash is None:
                raise ProtocolError("invalid_request", "invalid_request", "tx_code is required")
            # 3. authorization_details name only what was offered
            if configuration_ids is not None and any(
                c != row.configuration_id for c in configuration_ids
            ):
                raise ProtocolError(
                    "invalid_request",
                    "invalid_authorization_details",
                    "authorization_details ask for a credential that was not offered",
                )
            if tx_code_hash is not None and not same_digest(tx_code_hash(row.id), row.tx_code_hash):
                failures = int(row.tx_failures) + 1
                locked = failures >= MAX_TX_FAILURES
                conn.execute(
                    update(issuance_offers_table)
                    .where(issuance_offers_table.c.id == row.id)
                    .values(tx_failures=failures, state="locked" if locked else "offered")
                )
                failure = invalid_grant(
                    "wrong transaction code; the offer is now locked"
                    if locked
                    else "wrong transaction code"
                )
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
                    raise invalid_grant("the pre-authorized code has already been used")
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
        if row is None:
            raise invalid_token("the access token is not valid")
        try:
            offer = self._offer(conn, authority, row.offer_id, claims=lock)
        except CivicError as exc:  # a token of another issuer is no token here
            raise invalid_token("the access token is not valid") from exc
        if row.spent_at is not None:
            raise invalid_token("the access token has been used")
        if now >= row.expires_at:
            raise invalid_token("the access token has expired")
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
            if gone != 1:
                raise ProtocolError(
                    "invalid_nonce", "invalid_nonce", "a key proof's c_nonce is not valid"
                )
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
            raise invalid_token("the access token has been used")
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


def invalid_grant(detail: str) -> ProtocolError:
    """The Token Endpoint's refusal of a code (RFC 6749 §5.2)."""
    return ProtocolError("invalid_grant", "invalid_grant", detail)


def invalid_token(detail: str) -> ProtocolError:
    """The refusal of an access token (RFC 6750 §3.1)."""
    return ProtocolError("invalid_token", "invalid_token", detail)
