"""The replica: log copy, sync state and runs, contacts, conversations, messages, FTS.

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
        "contacts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("profile_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "conversation_views",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("last_viewed_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_table(
        "conversations",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=128), nullable=True),
        sa.Column("first_message_at", sa.String(length=32), nullable=True),
        sa.Column("last_message_at", sa.String(length=32), nullable=True),
        sa.Column("last_inbound_at", sa.String(length=32), nullable=True),
        sa.Column("last_message_key", sa.Text(), nullable=True),
        sa.Column("preview", sa.Text(), nullable=True),
        sa.Column("preview_direction", sa.String(length=16), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("delivered_watermark", sa.String(length=32), nullable=True),
        sa.Column("read_watermark", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("id"),
    )
    op.create_index(
        "ix_conversations_channel_list",
        "conversations",
        ["channel", "last_message_key"],
        unique=False,
    )
    op.create_index("ix_conversations_recent", "conversations", ["last_message_key"], unique=False)
    op.create_table(
        "log_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "messages",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("channel_message_id", sa.String(length=256), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("has_body", sa.Boolean(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("sender_type", sa.String(length=16), nullable=True),
        sa.Column("content_type", sa.String(length=16), nullable=True),
        sa.Column("original_text", sa.Text(), nullable=True),
        sa.Column("attachments", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.String(length=256), nullable=True),
        sa.Column("provider_type", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.String(length=32), nullable=True),
        sa.Column("delivery_status", sa.String(length=16), nullable=True),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.Column("edit_text", sa.Text(), nullable=True),
        sa.Column("edit_key", sa.String(length=64), nullable=True),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.String(length=32), nullable=True),
        sa.Column("reactions", sa.Text(), nullable=False),
        sa.Column("marks_up_to", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_messages_sent_at", "messages", ["sent_at"], unique=False)
    op.create_index(
        "ix_messages_thread",
        "messages",
        ["conversation_id", "sent_at", "channel_message_id"],
        unique=False,
    )
    op.create_index(
        "uq_messages_channel_mid", "messages", ["channel", "channel_message_id"], unique=True
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=False),
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("pulled", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("relay_head", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(
        sa.table("sync_state", sa.column("id"), sa.column("cursor"), sa.column("relay_head")),
        [{"id": 1, "cursor": 0, "relay_head": 0}],
    )
    # Full-text search: message text (rowid = messages.pk), and each conversation's customer
    # name and handle (rowid = conversations.pk).
    op.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(text, tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE VIRTUAL TABLE conversations_fts USING fts5(name, handle, tokenize='unicode61 remove_diacritics 2')"
    )


def downgrade() -> None:
    op.execute("DROP TABLE conversations_fts")
    op.execute("DROP TABLE messages_fts")
    for name in (
        "sync_state",
        "sync_runs",
        "messages",
        "log_events",
        "conversations",
        "conversation_views",
        "contacts",
    ):
        op.drop_table(name)
