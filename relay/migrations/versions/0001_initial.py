"""The log, raw deliveries, integration failures and users.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(sa.table("log_head", sa.column("id"), sa.column("last_seq")), [{"id": 1, "last_seq": 0}])
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger, autoincrement=False),
        sa.Column("dedup_key", sa.String(512), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("account_id", sa.String(128)),
        sa.Column("customer_id", sa.String(128)),
        sa.Column("occurred_at", sa.String(32)),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("delivery_id", sa.String(32)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("dedup_key", name="uq_events_dedup_key"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.Column("object", sa.String(64)),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("appended_count", sa.Integer, nullable=False),
        sa.Column("failure_count", sa.Integer, nullable=False),
        sa.Column("reprocessed_at", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_received_at", "deliveries", ["received_at"])
    op.create_table(
        "integration_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("delivery_id", sa.String(32)),
        sa.Column("first_at", sa.String(32), nullable=False),
        sa.Column("last_at", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("resolved_at", sa.String(32)),
    )
    op.create_index("ix_integration_failures_last_at", "integration_failures", ["last_at"])
    op.create_index("ix_integration_failures_delivery_id", "integration_failures", ["delivery_id"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32)),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.UniqueConstraint("token_hash", name="uq_users_token_hash"),
    )


def downgrade() -> None:
    for table in ("users", "integration_failures", "deliveries", "events", "log_head"):
        op.drop_table(table)
