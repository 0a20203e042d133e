"""Conversations by their contact: the contact panel, shown beside every open thread, lists a
person's handles and conversations. Without an index that read every conversation (~0.2 s at
100k conversations) each time a thread was opened.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_contact", "conversations", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_contact", table_name="conversations")
