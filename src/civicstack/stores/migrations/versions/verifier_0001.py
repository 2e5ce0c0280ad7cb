"""The verifier: presentation requests, the KB-JWT replay guard, relying parties' API keys.

Revision ID: verifier_0001
Revises:
Create Date: 2026-01-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "verifier_0001"
down_revision = None
branch_labels = ("verifier",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "presentation_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("relying_party", sa.String(64), nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("purpose", sa.String(256), nullable=False),
        sa.Column("preset", sa.String(32), nullable=True),
        sa.Column("dcql_query", sa.Text, nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("request_object", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_detail", sa.Text, nullable=True),
        sa.Column("answered_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_presentation_requests"),
        sa.UniqueConstraint("nonce", name="uq_presentation_requests_nonce"),
        sa.UniqueConstraint("state", name="uq_presentation_requests_state"),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'failed')", name="ck_presentation_requests_status"
        ),
    )
    op.create_index(
        "ix_presentation_requests_relying_party", "presentation_requests", ["relying_party"]
    )
    op.create_table(
        "verifier_replay",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("relying_party", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_verifier_replay"),
    )
    op.create_index("ix_verifier_replay_expires_at", "verifier_replay", ["expires_at"])
    op.create_table(
        "verifier_api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("relying_party", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_verifier_api_keys"),
    )
    op.create_index("ix_verifier_api_keys_relying_party", "verifier_api_keys", ["relying_party"])


def downgrade() -> None:
    op.drop_index("ix_verifier_api_keys_relying_party", table_name="verifier_api_keys")
    op.drop_table("verifier_api_keys")
    op.drop_index("ix_verifier_replay_expires_at", table_name="verifier_replay")
    op.drop_table("verifier_replay")
    op.drop_index("ix_presentation_requests_relying_party", table_name="presentation_requests")
    op.drop_table("presentation_requests")
