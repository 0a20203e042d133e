"""The inbox's order in one index: ``(last_message_key, channel)`` instead of
``(last_message_key)`` and ``(channel, last_message_key)``.

Every new message moves its conversation in the inbox's order, and each index of that order is
one more entry deleted and inserted per message and one more page written back per commit. At
1M messages (100k conversations) the second index was ~20 % of a conversation's upsert and
~35 % of a batch's commit. A list of one channel now walks the one index and skips the other
channels' entries without reading their rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_conversations_channel_list", table_name="conversations")
    op.drop_index("ix_conversations_recent", table_name="conversations")
    op.create_index("ix_conversations_recent", "conversations", ["last_message_key", "channel"])


def downgrade() -> None:
    op.drop_index("ix_conversations_recent", table_name="conversations")
    op.create_index("ix_conversations_recent", "conversations", ["last_message_key"])
    op.create_index(
        "ix_conversations_channel_list", "conversations", ["channel", "last_message_key"]
    )
