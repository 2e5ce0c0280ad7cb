"""Registers: items, entries, records with a search index, dangling links, custodian tokens.

Each register's verified log lives in the ``log`` branch's tables (one log per register).

Revision ID: registers_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registers_0001"
down_revision = None
branch_labels = ("registers",)
depends_on = "log_0001"


def upgrade() -> None:
    op.create_table(
        "reg_registers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("log_name", sa.String(128), nullable=False),
        sa.Column("sealed_key", sa.Text, nullable=False),
        sa.Column("user_count", sa.BigInteger, nullable=False),
        sa.Column("system_count", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("record_count", sa.BigInteger, nullable=False),
        sa.Column("govuk_range", sa.LargeBinary, nullable=False),
        sa.Column("log_range", sa.LargeBinary, nullable=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("log_root", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reg_registers"),
        sa.UniqueConstraint("name", name="uq_reg_registers_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "reg_items",
        sa.Column("register_id", sa.Integer, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("first_position", sa.BigInteger, nullable=False),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("register_id", "hash", name="pk_reg_items"),
        sa.ForeignKeyConstraint(
            ["register_id"], ["reg_registers.id"], name="fk_reg_items_register_id_reg_registers"
        ),
    )
    op.create_index("ix_reg_items_first_position", "reg_items", ["register_id", "first_position"])
    op.create_table(
        "reg_entries",
        sa.Column("register_id", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("scope", sa.SmallInteger, nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("timestamp", sa.String(20), nullable=False),
        sa.Column("item_hashes", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("register_id", "position", name="pk_reg_entries"),
        sa.ForeignKeyConstraint(
            ["register_id"], ["reg_registers.id"], name="fk_reg_entries_register_id_reg_registers"
        ),
    )
    op.create_index(
        "ix_reg_entries_number", "reg_entries", ["register_id", "scope", "number"], unique=True
    )
    op.create_index(
        "ix_reg_entries_trail", "reg_entries", ["register_id", "scope", "key", "number"]
    )
    op.create_table(
        "reg_records",
        sa.Column("register_id", sa.Integer, nullable=False),
        sa.Column("scope", sa.SmallInteger, nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.String(20), nullable=False),
        sa.Column("item_hashes", sa.LargeBinary, nullable=False),
        sa.Column("items", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("register_id", "scope", "key", name="pk_reg_records"),
        sa.ForeignKeyConstraint(
            ["register_id"], ["reg_registers.id"], name="fk_reg_records_register_id_reg_registers"
        ),
    )
    op.create_table(
        "reg_values",
        sa.Column("register_id", sa.Integer, nullable=False),
        sa.Column("field", sa.String(128), nullable=False),
        sa.Column("value_hash", sa.LargeBinary, nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("register_id", "field", "value_hash", "key", name="pk_reg_values"),
        sa.ForeignKeyConstraint(
            ["register_id"], ["reg_registers.id"], name="fk_reg_values_register_id_reg_registers"
        ),
    )
    op.create_index("ix_reg_values_key", "reg_values", ["register_id", "key"])
    op.create_table(
        "reg_dangling_links",
        sa.Column("register_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("entry_number", sa.BigInteger, nullable=False),
        sa.Column("field", sa.String(128), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("line", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("register_id", "seq", name="pk_reg_dangling_links"),
        sa.ForeignKeyConstraint(
            ["register_id"],
            ["reg_registers.id"],
            name="fk_reg_dangling_links_register_id_reg_registers",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Keys page in byte order on both databases (SQLite's default), whatever the locale.
        for table in ("reg_entries", "reg_records", "reg_values"):
            op.execute(f'ALTER TABLE {table} ALTER COLUMN key TYPE varchar(256) COLLATE "C"')
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


def downgrade() -> None:
    op.drop_table("reg_custodian_tokens")
    op.drop_table("reg_dangling_links")
    op.drop_index("ix_reg_values_key", table_name="reg_values")
    op.drop_table("reg_values")
    op.drop_table("reg_records")
    op.drop_index("ix_reg_entries_trail", table_name="reg_entries")
    op.drop_index("ix_reg_entries_number", table_name="reg_entries")
    op.drop_table("reg_entries")
    op.drop_index("ix_reg_items_first_position", table_name="reg_items")
    op.drop_table("reg_items")
    op.drop_table("reg_registers")
