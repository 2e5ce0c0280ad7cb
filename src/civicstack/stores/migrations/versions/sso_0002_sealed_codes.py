"""One login: codes are sealed, not stored; each access token records its code's redemption.

A code now carries what it stands for, sealed under the provider's key, so issuing one writes
nothing and ``sso_codes`` goes. Redeeming one writes its access token, whose ``code_hash`` is
now unique: the row is the record that the code was used (it outlives the code: a token lives
ten minutes, a code one), and a second redemption of the same code conflicts with it.

Codes issued before the upgrade (a minute's worth) can no longer be redeemed.

Revision ID: sso_0002
Revises: sso_0001
Create Date: 2027-02-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sso_0002"
down_revision = "sso_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_sso_tokens_code_hash", table_name="sso_tokens")
    op.create_index("ix_sso_tokens_code_hash", "sso_tokens", ["code_hash"], unique=True)
    op.drop_table("sso_codes")


def downgrade() -> None:
    op.create_table(
        "sso_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger),
        sa.PrimaryKeyConstraint("code_hash", name="pk_sso_codes"),
    )
    op.drop_index("ix_sso_tokens_code_hash", table_name="sso_tokens")
    op.create_index("ix_sso_tokens_code_hash", "sso_tokens", ["code_hash"])
