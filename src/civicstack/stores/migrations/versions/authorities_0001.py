"""Hosted authorities, their wrapped keys, trust statements, status lists, issued credentials.

Revision ID: authorities_0001
Revises:
Create Date: 2026-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "authorities_0001"
down_revision = None
branch_labels = ("authorities",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authorities",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("identifier", sa.String(2048), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_authorities"),
        sa.UniqueConstraint("name", name="uq_authorities_name"),
        sa.UniqueConstraint("identifier", name="uq_authorities_identifier"),
        sa.CheckConstraint(
            "role IN ('root', 'authority', 'relying_party')", name="ck_authorities_role"
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "authority_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("authority_id", sa.Integer, nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("private_key", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("kid", name="pk_authority_keys"),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authorities.id"],
            name="fk_authority_keys_authority_id_authorities",
        ),
    )
    op.create_index("ix_authority_keys_authority_id", "authority_keys", ["authority_id"])
    op.create_table(
        "trust_statements",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("jti", sa.String(256), nullable=False),
        sa.Column("typ", sa.String(64), nullable=False),
        sa.Column("iss", sa.String(2048), nullable=False),
        sa.Column("sub", sa.String(2048), nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_trust_statements"),
        sa.UniqueConstraint("jti", name="uq_trust_statements_jti"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_trust_statements_sub", "trust_statements", ["sub"])
    trust_state = op.create_table(
        "trust_state",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trust_state"),
    )
    op.bulk_insert(trust_state, [{"id": 1, "version": 0}])
    op.create_table(
        "status_lists",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("authority_id", sa.Integer, nullable=False),
        sa.Column("list_id", sa.String(64), nullable=False),
        sa.Column("bits", sa.SmallInteger, nullable=False),
        sa.Column("size_log2", sa.SmallInteger, nullable=False),
        sa.Column("allocated", sa.BigInteger, nullable=False),
        sa.Column("perm_key", sa.LargeBinary, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("token", sa.Text, nullable=True),
        sa.Column("token_version", sa.BigInteger, nullable=True),
        sa.Column("token_iat", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_status_lists"),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authorities.id"],
            name="fk_status_lists_authority_id_authorities",
        ),
        sa.UniqueConstraint("authority_id", "list_id", name="uq_status_lists_authority_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "issued_credentials",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("authority_id", sa.Integer, nullable=False),
        sa.Column("vct", sa.String(256), nullable=False),
        sa.Column("holder_thumbprint", sa.String(64), nullable=True),
        sa.Column("status_list_id", sa.Integer, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("iat", sa.BigInteger, nullable=False),
        sa.Column("exp", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_issued_credentials"),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authorities.id"],
            name="fk_issued_credentials_authority_id_authorities",
        ),
        sa.ForeignKeyConstraint(
            ["status_list_id"],
            ["status_lists.id"],
            name="fk_issued_credentials_status_list_id_status_lists",
        ),
        sa.UniqueConstraint("status_list_id", "idx", name="uq_issued_credentials_status_list_id"),
        sa.CheckConstraint(
            "state IN ('valid', 'revoked', 'suspended')", name="ck_issued_credentials_state"
        ),
    )
    op.create_index("ix_issued_credentials_authority_id", "issued_credentials", ["authority_id"])


def downgrade() -> None:
    op.drop_index("ix_issued_credentials_authority_id", table_name="issued_credentials")
    op.drop_table("issued_credentials")
    op.drop_table("status_lists")
    op.drop_table("trust_state")
    op.drop_index("ix_trust_statements_sub", table_name="trust_statements")
    op.drop_table("trust_statements")
    op.drop_index("ix_authority_keys_authority_id", table_name="authority_keys")
    op.drop_table("authority_keys")
    op.drop_table("authorities")
