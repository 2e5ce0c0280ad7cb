"""The Credential Issuer's state: offers, access tokens, nonces, applications, deferred issuance.

Tables (Alembic branch ``issuance``; the applications' tables are in
:mod:`civicstack.stores.applications`):

``issuance_offers``        one row per Credential Offer (OpenID4VCI §4.1): the issuing authority,
                           the Credential Configuration, the claims (sealed, see below), the
                           Pre-Authorized Code's SHA-256 (the code itself is never stored), the
                           Transaction Code's keyed hash and shape, wrong guesses so far, the
                           state (``offered`` → ``redeemed`` → ``issued`` or ``deferred`` →
                           ``issued``; ``locked`` after too many wrong codes), expiry, the
                           sealed offer document for offers by reference, the application it
                           answers (if any), and what was issued under it.
``issuance_tokens``        access tokens (§6.2) by SHA-256: the offer they are bound to, expiry,
                           the ``credential_identifiers`` returned (if ``authorization_details``
                           were used), and when they were spent (one credential request each).
``issuance_nonces``        ``c_nonce`` values (§7) by SHA-256, per authority, until they expire
                           or are used once.
``issuance_deferred``      deferred transactions (§9) by SHA-256 of ``transaction_id``: the
                           offer, the token that may collect it, the holder keys proved in the
                           credential request, and its state.

Personal data at rest: claims and by-reference offer documents are sealed with AES-256-GCM under
a key derived from the platform's master key, bound to their row (associated data), and an
offer's claims are erased once its credentials are issued (OpenID4VCI §15.3: issuers should not
keep what they issued).

Single use under concurrency. Every consuming step is a conditional write inside one
:func:`civicstack.stores.db.write_transaction` (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the
row is locked ``FOR UPDATE`` and the update re-checks the state), so of any number of parallel
redemptions of a code, spends of a token or uses of a nonce, exactly one succeeds.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from civicstack._crypto import aead_decrypt, aead_encrypt, json_dumps, json_loads_strict
from civicstack.errors import CivicError, InputError, ProtocolError
from civicstack.issuance.offers import TxCode, same_digest
from civicstack.stores.authorities import authorities_table, check_slug
from civicstack.stores.db import metadata, write_transaction

OfferState = Literal["offered", "redeemed", "deferred", "issued", "locked"]
DeferredState = Literal["pending", "issued", "denied"]
#: Wrong Transaction Codes an offer survives; the next one locks it (RFC 6749 §10.10).
MAX_TX_FAILURES = 5
_PURGE_EVERY = 64

issuance_offers_table = Table(
    "issuance_offers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("authority_id", Integer, ForeignKey("authorities.id"), nullable=False, index=True),
    Column("configuration_id", String(256), nullable=False),
    Column("claims", LargeBinary, nullable=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("tx_code_hash", String(64), nullable=True),
    Column("tx_code_length", SmallInteger, nullable=True),
    Column("tx_code_description", String(300), nullable=True),
    Column("tx_failures", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("document", LargeBinary, nullable=True),
    Column("application_id", String(32), nullable=True, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("redeemed_at", BigInteger, nullable=True),
    Column("issued_at", BigInteger, nullable=True),
    Column("credential_ids", Text, nullable=True),
    Column("notification_id", String(64), nullable=True),
    Column("notification_event", String(32), nullable=True),
    CheckConstraint(
        "state IN ('offered', 'redeemed', 'deferred', 'issued', 'locked')", name="state"
    ),
)
issuance_tokens_table = Table(
    "issuance_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("offer_id", String(32), ForeignKey("issuance_offers.id"), nullable=False, index=True),
    Column("identifiers", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("spent_at", BigInteger, nullable=True),
)
issuance_nonces_table = Table(
    "issuance_nonces",
    metadata,
    Column("nonce_hash", String(64), primary_key=True),
    Column("authority_id", Integer, ForeignKey("authorities.id"), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_issuance_nonces_expires_at", "expires_at"),
)
issuance_deferred_table = Table(
    "issuance_deferred",
    metadata,
    Column("transaction_hash", String(64), primary_key=True),
    Column("offer_id", String(32), ForeignKey("issuance_offers.id"), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False),
    Column("holder_jwks", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    CheckConstraint("state IN ('pending', 'issued', 'denied')", name="state"),
)


# --- values --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """An offer as stored (claims only when read for issuance)."""

    id: str
    authority: str
    configuration_id: str
    state: OfferState
    tx_code: TxCode | None
    tx_failures: int
    created_at: int
    expires_at: int
    redeemed_at: int | None
    issued_at: int | None
    credential_ids: tuple[str, ...]
    application_id: str | None
    notification_event: str | None
    claims: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain description without the claims."""
        return {
            "id": self.id,
            "issuer": self.authority,
            "credential_configuration_id": self.configuration_id,
            "state": self.state,
            "tx_code_required": self.tx_code is not None,
            "tx_failures": self.tx_failures,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "redeemed_at": self.redeemed_at,
            "issued_at": self.issued_at,
            "credential_ids": list(self.credential_ids),
            "application_id": self.application_id,
            "notification_event": self.notification_event,
        }


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a spent access token authorised: its offer (with claims) and identifiers."""

    token_hash: str
    offer: OfferRecord
    identifiers: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class DeferredRecord:
    """A deferred transaction as stored."""

    transaction_hash: str
    offer_id: str
    token_hash: str
    holder_jwks: tuple[dict[str, str], ...]
    state: DeferredState
    created_at: int
    expires_at: int


# --- the store -----------------------------------------------------------------------------------


class RowSealer:
    """Personal data in rows, sealed with AES-256-GCM and bound to its table and row."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    def seal(self, kind: str, row_id: str, value: Any) -> bytes:
        """``value`` as JSON, encrypted for ``kind/row_id``."""
        return aead_encrypt(self._key(), json_dumps(value), f"issuance/{kind}/{row_id}".encode())

    def open(self, kind: str, row_id: str, blob: bytes | None) -> Any:
        """What :meth:`seal` sealed (None for None); ``internal_error`` if it does not open."""
        if blob is None:
            return None
        try:
            plain = aead_decrypt(self._key(), bytes(blob), f"issuance/{kind}/{row_id}".encode())
            return json_loads_strict(plain)
        except CivicError as exc:
            raise CivicError("internal_error", f"sealed {kind} {row_id} does not open") from exc


class IssuanceStore:
    """Offers, tokens, nonces, deferred transactions and notifications of hosted issuers."""

    def __init__(self, engine: Engine, key: Callable[[], bytes]) -> None:
        self.engine = engine
        self.sealer = RowSealer(key)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction for a caller that spans this store and the authorities'."""
        with write_transaction(self.engine) as conn:
            yield conn

    # --- offers -----------------------------------------------------------------------

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
        """Record a new offer; ``document`` is the offer object served by reference."""
        if (tx_code is None) != (tx_code_hash is None):
            raise InputError("invalid_request", "a transaction code needs its hash and shape")
        with _maybe_transaction(self.engine, conn) as tx:
            authority_id = issuer_id(tx, authority)
            tx.execute(
                insert(issuance_offers_table).values(
                    id=offer_id,
                    authority_id=authority_id,
                    configuration_id=configuration_id,
                    claims=self.sealer.seal("offer", offer_id, dict(claims)),
                    code_hash=code_hash,
                    tx_code_hash=tx_code_hash,
                    tx_code_length=tx_code.length if tx_code else None,
                    tx_code_description=tx_code.description if tx_code else None,
                    tx_failures=0,
                    state="offered",
                    document=None
                    if document is None
                    else self.sealer.seal("offer-document", offer_id, dict(document)),
                    application_id=application_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            return self._offer(tx, authority, offer_id)

    def offer(self, authority: str, offer_id: str) -> OfferRecord:
        """One offer of ``authority`` (without claims); ``not_found`` otherwise."""
        with self.engine.connect() as conn:
            return self._offer(conn, authority, offer_id)

    def _offer(
        self, conn: Connection, authority: str, offer_id: str, *, claims: bool = False
    ) -> OfferRecord:
        row = conn.execute(
            _offers_query().where(
                (issuance_offers_table.c.id == check_row_id(offer_id, "an offer id"))
                & (authorities_table.c.name == authority)
            )
        ).first()
        if row is None:
            raise CivicError("not_found", f"{authority} has no offer {offer_id!r}")
        return self._to_offer(row, claims=claims)

    def _to_offer(self, row: Any, *, claims: bool = False) -> OfferRecord:
        return OfferRecord(
            id=row.id,
            authority=row.authority,
            configuration_id=row.configuration_id,
            state=cast(OfferState, row.state),
            tx_code=TxCode("numeric", row.tx_code_length, row.tx_code_description)
            if row.tx_code_hash is not None
            else None,
            tx_failures=int(row.tx_failures),
            created_at=int(row.created_at),
            expires_at=int(row.expires_at),
            redeemed_at=_int(row.redeemed_at),
            issued_at=_int(row.issued_at),
            credential_ids=tuple(json_loads_strict(row.credential_ids))
            if row.credential_ids
            else (),
            application_id=row.application_id,
            notification_event=row.notification_event,
            claims=self.sealer.open("offer", row.id, row.claims) if claims else None,
        )

    def offer_document(self, authority: str, offer_id: str, *, now: int) -> dict[str, Any]:
        """The offer object served at its ``credential_offer_uri`` (§4.1.3), while it can still
        be redeemed; ``not_found`` for an unknown, used or expired offer."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(issuance_offers_table)
                .select_from(issuance_offers_table.join(authorities_table))
                .where(
                    (issuance_offers_table.c.id == check_row_id(offer_id, "an offer id"))
                    & (authorities_table.c.name == authority)
                )
            ).first()
        if row is None or row.document is None or row.state != "offered" or now >= row.expires_at:
            raise CivicError("not_found", "no such offer, or it was used or has expired")
        document = self.sealer.open("offer-document", row.id, row.document)
        if not isinstance(document, dict):
            raise CivicError("internal_error", "a stored offer document is damaged")
        return document

    def offers(self, authority: str, *, limit: int = 200) -> tuple[OfferRecord, ...]:
        """``authority``'s offers, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                _offers_query()
                .where(authorities_table.c.name == check_slug(authority))
                .order_by(issuance_offers_table.c.created_at.desc(), issuance_offers_table.c.id)
                .limit(max(1, min(limit, 1000)))
            ).all()
        return tuple(self._to_offer(r) for r in rows)

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
                raise _grant("the pre-authorized code is not valid")
            if row.state == "locked":
                raise _grant("the offer is locked after too many wrong transaction codes")
            if row.state != "offered":
                raise _grant("the pre-authorized code has already been used")
            if now >= row.expires_at:
                raise _grant("the pre-authorized code has expired")
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
                failure = _grant(
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
                    raise _grant("the pre-authorized code has already been used")
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
            raise failure or _grant("the pre-authorized code is not valid")
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
            raise _token("the access token is not valid")
        try:
            offer = self._offer(conn, authority, row.offer_id, claims=lock)
        except CivicError as exc:  # a token of another issuer is no token here
            raise _token("the access token is not valid") from exc
        if row.spent_at is not None:
            raise _token("the access token has been used")
        if now >= row.expires_at:
            raise _token("the access token has expired")
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
            raise _token("the access token has been used")
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

    # --- deferred issuance (§9) -------------------------------------------------------------

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
        if token is None:
            raise _token("the access token is not valid")
        if row is None or row.state == "issued" or now >= row.expires_at:
            raise ProtocolError(
                "invalid_transaction_id",
                "invalid_transaction_id",
                "the transaction_id is unknown, already collected or expired",
            )
        if row.token_hash != token_hash:
            raise _token("the access token does not belong to this transaction")
        try:
            offer = self._offer(conn, authority, row.offer_id, claims=True)
        except CivicError as exc:
            raise _token("the access token is not valid") from exc
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
            raise ProtocolError(
                "invalid_transaction_id", "invalid_transaction_id", "the transaction was closed"
            )

    # --- notifications (§11) -----------------------------------------------------------------

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
                raise _token("the access token is not valid")
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


# --- helpers -------------------------------------------------------------------------------------


def _grant(detail: str) -> ProtocolError:
    return ProtocolError("invalid_grant", "invalid_grant", detail)


def _token(detail: str) -> ProtocolError:
    return ProtocolError("invalid_token", "invalid_token", detail)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def check_row_id(value: object, what: str) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= 32
        or not value.isascii()
        or not all(c.isalnum() or c in "-_" for c in value)
    ):
        raise CivicError("not_found", f"not {what}: {value!r}")
    return value


def issuer_id(conn: Connection, authority: str) -> int:
    row = conn.execute(
        select(authorities_table.c.id, authorities_table.c.role).where(
            authorities_table.c.name == check_slug(authority, "an authority name")
        )
    ).first()
    if row is None or row.role != "authority":
        raise CivicError("unknown_authority", f"no credential issuer named {authority!r}")
    return int(row.id)


def _offers_query() -> Any:
    return select(issuance_offers_table, authorities_table.c.name.label("authority")).select_from(
        issuance_offers_table.join(authorities_table)
    )


@contextmanager
def _maybe_transaction(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    if conn is not None:
        yield conn
    else:
        with write_transaction(engine) as own:
            yield own


__all__ = [
    "MAX_TX_FAILURES",
    "DeferredRecord",
    "IssuanceStore",
    "OfferRecord",
    "TokenGrant",
]
