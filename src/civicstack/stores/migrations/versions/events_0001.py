"""Tell-us-once events: subscriptions, the outbox, deliveries and their attempts.

Revision ID: events_0001
Revises:
Create Date: 2026-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "events_0001"
down_revision = None
branch_labels = ("events",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_subscriptions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("organisation", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("types", sa.Text, nullable=False),
        sa.Column("secrets_sealed", sa.LargeBinary, nullable=False),
        sa.Column("signing_key_sealed", sa.LargeBinary, nullable=True),
        sa.Column("public_key", sa.String(128), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("disabled_at", sa.BigInteger, nullable=True),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event_subscriptions"),
    )
    op.create_index("ix_event_subscriptions_organisation", "event_subscriptions", ["organisation"])
    op.create_table(
        "events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_table(
        "event_outbox",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_event_outbox"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_event_outbox_event_id_events"
        ),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("lane", sa.String(120), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.BigInteger, nullable=False),
        sa.Column("claimed_until", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_event_deliveries"),
        sa.UniqueConstraint("id", name="uq_event_deliveries_id"),
    )
    op.create_index("ix_event_deliveries_event_id", "event_deliveries", ["event_id"])
    op.create_index("ix_event_deliveries_subscription_id", "event_deliveries", ["subscription_id"])
    # The claim's two paths: due rows by state and time, and the head-of-lane probe.
    op.create_index("ix_event_deliveries_due", "event_deliveries", ["state", "next_at"])
    op.create_index("ix_event_deliveries_lane", "event_deliveries", ["lane", "seq"])
    op.create_index(
        "ix_event_deliveries_unpublished", "event_deliveries", ["published", "state", "seq"]
    )
    op.create_table(
        "event_attempts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("delivery_seq", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("delivery_id", sa.String(40), nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("error", sa.String(200), nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_attempts"),
    )
    op.create_index("ix_event_attempts_subscription_id", "event_attempts", ["subscription_id"])


def downgrade() -> None:
    op.drop_table("event_attempts")
    op.drop_table("event_deliveries")
    op.drop_table("event_outbox")
    op.drop_table("events")
    op.drop_table("event_subscriptions")
