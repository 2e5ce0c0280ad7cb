"""Verified results sealed and kept until fetched; failed answers recorded as attempts.

``presentation_requests.result`` held the claims learnt in clear for as long as the request
row lived (30 days). It goes, with what it held: a result is now sealed (``result_sealed``),
handed to its relying party once (``result_fetched_at``) or deleted unread after a short
retention. A failed answer no longer ends its request: ``attempt_count`` counts them and
``presentation_attempts`` keeps the first few (when, the error code, a short description).

Revision ID: verifier_0002
Revises: verifier_0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "verifier_0002"
down_revision = "verifier_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 drops a column in place): no table rebuild, so the
    # constraints stay exactly as verifier_0001 named them.
    op.drop_column("presentation_requests", "result")
    op.add_column("presentation_requests", sa.Column("result_sealed", sa.LargeBinary))
    op.add_column("presentation_requests", sa.Column("result_fetched_at", sa.BigInteger))
    op.add_column(
        "presentation_requests",
        sa.Column("attempt_count", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "presentation_attempts",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=False),
        sa.Column("detail", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "seq", name="pk_presentation_attempts"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["presentation_requests.id"],
            name="fk_presentation_attempts_request_id_presentation_requests",
        ),
    )


def downgrade() -> None:
    op.drop_table("presentation_attempts")
    op.drop_column("presentation_requests", "attempt_count")
    op.drop_column("presentation_requests", "result_fetched_at")
    op.drop_column("presentation_requests", "result_sealed")
    # The claims sealed or deleted are not brought back in clear.
    op.add_column("presentation_requests", sa.Column("result", sa.Text))
