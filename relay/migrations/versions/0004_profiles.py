"""Customer profile lookups (Instagram and Messenger names), one row per customer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_lookups",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("customer_id", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.String(32), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_profile_lookups_due", "profile_lookups", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("profile_lookups")
