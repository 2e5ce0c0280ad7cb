"""Consent: requests, records (every version), met subjects, nonces.

Revision ID: consent_0001
Revises:
Create Date: 2026-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "consent_0001"
down_revision = None
branch_labels = ("consent",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("dpv_purpose", sa.String(64), nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("subject", sa.String(43), nullable=False),
        sa.Column("once", sa.Boolean, nullable=False),
        sa.Column("valid_days", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answered_at", sa.BigInteger, nullable=True),
        sa.Column("consent_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_consent_requests"),
        sa.CheckConstraint(
            "state IN ('pending', 'given', 'refused')", name="ck_consent_requests_state"
        ),
    )
    op.create_index(
        "ix_consent_requests_requester_subject",
        "consent_requests",
        ["requester", "subject", "state"],
    )
    op.create_index(
        "ix_consent_requests_requester_created", "consent_requests", ["requester", "created_at"]
    )
    op.create_index(
        "ix_consent_requests_state_expires", "consent_requests", ["state", "expires_at"]
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("requester_subject", sa.String(43), nullable=False),
        sa.Column("log_subject", sa.String(43), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_log_subject", "consents", ["log_subject"])
    op.create_index("ix_consents_requester_created", "consents", ["requester", "created_at"])
    op.create_table(
        "consent_versions",
        sa.Column("consent_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("consent_id", "version", name="pk_consent_versions"),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consents.id"], name="fk_consent_versions_consent_id_consents"
        ),
    )
    op.create_table(
        "consent_subjects",
        sa.Column("sector", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(43), nullable=False),
        sa.Column("log_subject", sa.String(43), nullable=False),
        sa.PrimaryKeyConstraint("sector", "subject", name="pk_consent_subjects"),
    )
    op.create_table(
        "consent_nonces",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("nonce", name="pk_consent_nonces"),
    )
    op.create_index("ix_consent_nonces_expires_at", "consent_nonces", ["expires_at"])


def downgrade() -> None:
    op.drop_table("consent_nonces")
    op.drop_table("consent_subjects")
    op.drop_table("consent_versions")
    op.drop_table("consents")
    op.drop_table("consent_requests")
