"""Replies: our messages' ids and senders, the channels' ids for them, canned replies, drafts,
files waiting to be pushed, and the accounts the relay can send from.

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
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("reply_id", sa.String(36)))
        batch.add_column(sa.Column("sent_by", sa.String(128)))
        batch.add_column(sa.Column("provider_message_id", sa.String(256)))
        batch.add_column(sa.Column("channel_at", sa.String(32)))
    op.execute("UPDATE messages SET channel_at = sent_at WHERE has_body")
    op.create_table(
        "message_aliases",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("alias", sa.String(256), primary_key=True),
        sa.Column("target", sa.String(256), nullable=False),
    )
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("shortcode", sa.String(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "drafts",
        sa.Column("conversation_id", sa.String(32), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "outbox_files",
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("mime_type", sa.String(127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "sending_accounts",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
    )


def downgrade() -> None:
    for name in ("sending_accounts", "outbox_files", "drafts", "canned_replies", "message_aliases"):
        op.drop_table(name)
    with op.batch_alter_table("messages") as batch:
        for column in ("channel_at", "provider_message_id", "sent_by", "reply_id"):
            batch.drop_column(column)
