"""Credential issuance (OpenID4VCI): offers, tokens, nonces, applications, deferred transactions.

Revision ID: issuance_0001
Revises:
Create Date: 2026-01-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "issuance_0001"
down_revision = None
branch_labels = ("issuance",)
# The issuance tables refer to hosted authorities.
depends_on = "authorities_0001"


def upgrade() -> None:
    op.create_table(
        "issuance_offers",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("authority_id", sa.Integer, nullable=False),
        sa.Column("configuration_id", sa.String(256), nullable=False),
        sa.Column("claims", sa.LargeBinary, nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("tx_code_hash", sa.String(64), nullable=True),
        sa.Column("tx_code_length", sa.SmallInteger, nullable=True),
        sa.Column("tx_code_description", sa.String(300), nullable=True),
        sa.Column("tx_failures", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=True),
        sa.Column("application_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("redeemed_at", sa.BigInteger, nullable=True),
        sa.Column("issued_at", sa.BigInteger, nullable=True),
        sa.Column("credential_ids", sa.Text, nullable=True),
        sa.Column("notification_id", sa.String(64), nullable=True),
        sa.Column("notification_event", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_issuance_offers"),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authorities.id"],
            name="fk_issuance_offers_authority_id_authorities",
        ),
        sa.UniqueConstraint("code_hash", name="uq_issuance_offers_code_hash"),
        sa.CheckConstraint(
            "state IN ('offered', 'redeemed', 'deferred', 'issued', 'locked')",
            name="ck_issuance_offers_state",
        ),
    )
    op.create_index("ix_issuance_offers_authority_id", "issuance_offers", ["authority_id"])
    op.create_index("ix_issuance_offers_application_id", "issuance_offers", ["application_id"])
    op.create_table(
        "issuance_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("offer_id", sa.String(32), nullable=False),
        sa.Column("identifiers", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("spent_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_issuance_tokens"),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["issuance_offers.id"],
            name="fk_issuance_tokens_offer_id_issuance_offers",
        ),
    )
    op.create_index("ix_issuance_tokens_offer_id", "issuance_tokens", ["offer_id"])
    op.create_table(
        "issuance_nonces",
        sa.Column("nonce_hash", sa.String(64), nullable=False),
        sa.Column("authority_id", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("nonce_hash", name="pk_issuance_nonces"),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authorities.id"],
            name="fk_issuance_nonces_authority_id_authorities",
        ),
    )
    op.create_index("ix_issuance_nonces_expires_at", "issuance_nonces", ["expires_at"])
    op.create_table(
        "issuance_applications",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("authority_id", sa.Integer, nullable=False),
        sa.Column("configuration_id", sa.String(256), nullable=False),
        sa.Column("claims", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("reviewer", sa.String(256), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("submitted_at", sa.BigInteger, nullable=False),
        sa.Column("decided_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_issuance_applications"),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authorities.id"],
            name="fk_issuance_applications_authority_id_authorities",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')",
            name="ck_issuance_applications_status",
        ),
    )
    op.create_index(
        "ix_issuance_applications_authority_status",
        "issuance_applications",
        ["authority_id", "status"],
    )
    op.create_table(
        "issuance_documents",
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("position", sa.SmallInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("application_id", "position", name="pk_issuance_documents"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["issuance_applications.id"],
            name="fk_issuance_documents_application_id_issuance_applications",
        ),
    )
    op.create_table(
        "issuance_deferred",
        sa.Column("transaction_hash", sa.String(64), nullable=False),
        sa.Column("offer_id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("holder_jwks", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("transaction_hash", name="pk_issuance_deferred"),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["issuance_offers.id"],
            name="fk_issuance_deferred_offer_id_issuance_offers",
        ),
        sa.UniqueConstraint("offer_id", name="uq_issuance_deferred_offer_id"),
        sa.CheckConstraint(
            "state IN ('pending', 'issued', 'denied')", name="ck_issuance_deferred_state"
        ),
    )


def downgrade() -> None:
    op.drop_table("issuance_deferred")
    op.drop_table("issuance_documents")
    op.drop_index("ix_issuance_applications_authority_status", table_name="issuance_applications")
    op.drop_table("issuance_applications")
    op.drop_index("ix_issuance_nonces_expires_at", table_name="issuance_nonces")
    op.drop_table("issuance_nonces")
    op.drop_index("ix_issuance_tokens_offer_id", table_name="issuance_tokens")
    op.drop_table("issuance_tokens")
    op.drop_index("ix_issuance_offers_application_id", table_name="issuance_offers")
    op.drop_index("ix_issuance_offers_authority_id", table_name="issuance_offers")
    op.drop_table("issuance_offers")
