"""What the relay keeps of leads and orders to name the log's entries (OrderCreated …).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selling_ledger",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("number", sa.String(16)),
    )
    op.create_index(
        "ix_selling_ledger_conversation", "selling_ledger", ["kind", "conversation_id", "status"]
    )


def downgrade() -> None:
    op.drop_table("selling_ledger")
