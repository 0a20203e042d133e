"""Media the relay fetched for new messages (Instagram and Messenger CDN links expire; WhatsApp
media ids need the business token).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("message_id", sa.String(256), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("source_url", sa.Text()),
        sa.Column("media_id", sa.String(256)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(127)),
        sa.Column("size", sa.BigInteger()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("stored_at", sa.String(32)),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_media_due", "media", ["state", "next_attempt_at"])
    op.create_index("ix_media_stored", "media", ["state", "stored_at"])


def downgrade() -> None:
    op.drop_table("media")
