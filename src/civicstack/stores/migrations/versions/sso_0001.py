"""One login: the OpenID Provider's keys, clients, registration tokens, sign-ins, sessions,
codes, access tokens and used client-assertion jtis.

Revision ID: sso_0001
Revises:
Create Date: 2027-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sso_0001"
down_revision = None
branch_labels = ("sso",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("alg", sa.String(8), nullable=False),
        sa.Column("wrapped", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("kid", name="pk_sso_keys"),
    )
    op.create_table(
        "sso_clients",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("organisation", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_sso_clients"),
    )
    op.create_table(
        "sso_registration_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("organisation", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sso_registration_tokens"),
    )
    op.create_table(
        "sso_logins",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sso_logins"),
    )
    op.create_table(
        "sso_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("handle", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("auth_time", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_sso_sessions"),
        sa.UniqueConstraint("sid", name="uq_sso_sessions_sid"),
    )
    op.create_index("ix_sso_sessions_handle", "sso_sessions", ["handle"])
    op.create_table(
        "sso_session_clients",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "client_id", name="pk_sso_session_clients"),
    )
    op.create_table(
        "sso_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger),
        sa.PrimaryKeyConstraint("code_hash", name="pk_sso_codes"),
    )
    op.create_table(
        "sso_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sso_tokens"),
    )
    op.create_index("ix_sso_tokens_code_hash", "sso_tokens", ["code_hash"])
    op.create_table(
        "sso_jtis",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("jti", sa.String(128), nullable=False),
        sa.Column("until", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name="pk_sso_jtis"),
    )


def downgrade() -> None:
    for table in (
        "sso_jtis",
        "sso_tokens",
        "sso_codes",
        "sso_session_clients",
        "sso_sessions",
        "sso_logins",
        "sso_registration_tokens",
        "sso_clients",
        "sso_keys",
    ):
        op.drop_table(table)
