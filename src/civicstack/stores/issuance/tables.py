"""The issuer's tables, and the two checks every query on them starts from.

Tables (Alembic branch ``issuance``; the applications' tables are in
:mod:`civicstack.stores.applications`):

``issuance_offers``        one row per Credential Offer (OpenID4VCI §4.1): the issuing authority,
                           the Credential Configuration, the claims (sealed: see the package), the
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
"""

from __future__ import annotations

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
    select,
)
from sqlalchemy.engine import Connection

from civicstack.errors import CivicError
from civicstack.stores.authorities import authorities_table
from civicstack.stores.db import metadata
from civicstack.trust.parties import check_slug

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


def check_row_id(value: object, what: str) -> str:
    """``value`` if it can be a row id (1-32 ASCII letters, digits, ``-``, ``_``); else
    ``not_found``, naming ``what`` was asked for."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= 32
        or not value.isascii()
        or not all(c.isalnum() or c in "-_" for c in value)
    ):
        raise CivicError("not_found", f"not {what}: {value!r}")
    return value


def issuer_id(conn: Connection, authority: str) -> int:
    """The row id of the hosted authority ``authority``; ``unknown_authority`` unless it is
    one that issues."""
    row = conn.execute(
        select(authorities_table.c.id, authorities_table.c.role).where(
            authorities_table.c.name == check_slug(authority, "an authority name")
        )
    ).first()
    if row is None or row.role != "authority":
        raise CivicError("unknown_authority", f"no credential issuer named {authority!r}")
    return int(row.id)
