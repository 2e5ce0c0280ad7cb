"""Copies of one credential (batch issuance, OpenID4VCI §8.2): ``issued_credentials.copy_of``.

A credential issued as a batch has one row per copy, each with its own holder key, list and
index; the further copies name the first copy's row (the credential's id) in ``copy_of``, so a
status change reaches every copy. Existing rows are single-copy credentials (``copy_of`` NULL).

Revision ID: authorities_0002
Revises: authorities_0001
Create Date: 2027-01-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "authorities_0002"
down_revision = "authorities_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issued_credentials") as batch:
        batch.add_column(sa.Column("copy_of", sa.String(32), nullable=True))
        batch.create_foreign_key(
            "fk_issued_credentials_copy_of_issued_credentials",
            "issued_credentials",
            ["copy_of"],
            ["id"],
        )
        batch.create_index("ix_issued_credentials_copy_of", ["copy_of"])


def downgrade() -> None:
    with op.batch_alter_table("issued_credentials") as batch:
        batch.drop_index("ix_issued_credentials_copy_of")
        batch.drop_constraint(
            "fk_issued_credentials_copy_of_issued_credentials", type_="foreignkey"
        )
        batch.drop_column("copy_of")
