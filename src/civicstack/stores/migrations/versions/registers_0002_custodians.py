"""Custodian tokens with a public id, expiry and revocation; their audit trail.

``reg_custodian_tokens`` gains a public id (``ct_`` and 16 hex digits: never the secret, nothing
derived from it), ``expires_at``, ``revoked_at`` and ``revoked_by``; tokens issued before keep
their hash and label and get an id, with no expiry (they were issued without one).
``reg_custodian_events`` is the audit trail: issued, revoked, and writes refused with a revoked or
expired token. The table is rebuilt (the primary key moves from the hash to the id), which on
SQLite needs a new table anyway; tokens are few.

Revision ID: registers_0002
Revises: registers_0001
Create Date: 2026-12-09
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "registers_0002"
down_revision = "registers_0001"
branch_labels = None
depends_on = None


def _create_tokens() -> None:
    op.create_table(
        "reg_custodian_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("register_id", sa.Integer, nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reg_custodian_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_reg_custodian_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["register_id"],
            ["reg_registers.id"],
            name="fk_reg_custodian_tokens_register_id_reg_registers",
        ),
    )
    op.create_index("ix_reg_custodian_tokens_register_id", "reg_custodian_tokens", ["register_id"])


def upgrade() -> None:
    conn = op.get_bind()
    old = conn.execute(
        sa.text("SELECT token_hash, register_id, label, created_at FROM reg_custodian_tokens")
    ).all()
    op.drop_table("reg_custodian_tokens")
    _create_tokens()
    if old:
        conn.execute(
            sa.text(
                "INSERT INTO reg_custodian_tokens (id, token_hash, register_id, label, created_at)"
                " VALUES (:id, :hash, :register_id, :label, :created_at)"
            ),
            [
                {
                    "id": "ct_" + secrets.token_hex(8),
                    "hash": bytes(row[0]),
                    "register_id": row[1],
                    "label": row[2],
                    "created_at": row[3],
                }
                for row in old
            ],
        )
    op.create_table(
        "reg_custodian_events",
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("register_id", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_reg_custodian_events"),
        sa.ForeignKeyConstraint(
            ["register_id"],
            ["reg_registers.id"],
            name="fk_reg_custodian_events_register_id_reg_registers",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reg_custodian_events_token_id", "reg_custodian_events", ["token_id"])
    op.create_index("ix_reg_custodian_events_register_id", "reg_custodian_events", ["register_id"])


def downgrade() -> None:
    conn = op.get_bind()
    # Revoked tokens are left out: after a downgrade they must still not write.
    kept = conn.execute(
        sa.text(
            "SELECT token_hash, register_id, label, created_at FROM reg_custodian_tokens"
            " WHERE revoked_at IS NULL"
        )
    ).all()
    op.drop_index("ix_reg_custodian_events_register_id", table_name="reg_custodian_events")
    op.drop_index("ix_reg_custodian_events_token_id", table_name="reg_custodian_events")
    op.drop_table("reg_custodian_events")
    op.drop_index("ix_reg_custodian_tokens_register_id", table_name="reg_custodian_tokens")
    op.drop_table("reg_custodian_tokens")
    op.create_table(
        "reg_custodian_tokens",
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("register_id", sa.Integer, nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_reg_custodian_tokens"),
        sa.ForeignKeyConstraint(
            ["register_id"],
            ["reg_registers.id"],
            name="fk_reg_custodian_tokens_register_id_reg_registers",
        ),
    )
    if kept:
        conn.execute(
            sa.text(
                "INSERT INTO reg_custodian_tokens (token_hash, register_id, label, created_at)"
                " VALUES (:hash, :register_id, :label, :created_at)"
            ),
            [
                {"hash": bytes(r[0]), "register_id": r[1], "label": r[2], "created_at": r[3]}
                for r in kept
            ],
        )
