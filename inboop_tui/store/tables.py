"""The replica's tables (SQLAlchemy Core: the sync path writes rows in bulk, never ORM objects).

``log_events`` is the replica's copy of the relay's log; every other table is a projection that
``inboop_tui.domain`` computes from it and ``inboop doctor --rebuild`` can recompute.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

log_events = Table(
    "log_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("origin", String(16), nullable=False),
    Column("type", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("payload", Text, nullable=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cursor", BigInteger, nullable=False),  # the last seq applied
    Column("relay_head", BigInteger, nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("ok", Boolean, nullable=False),
    Column("pulled", Integer, nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("error", Text),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("name", Text),
    Column("username", Text),
    Column("phone", Text),
    Column("profile_at", String(32)),
)

conversations = Table(
    "conversations",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("contact_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("assignee", String(128)),
    Column("first_message_at", String(32)),
    Column("last_message_at", String(32)),
    Column("last_inbound_at", String(32)),
    Column("last_message_key", Text),
    Column("preview", Text),
    Column("preview_direction", String(16)),
    Column("message_count", Integer, nullable=False),
    Column("delivered_watermark", String(32)),
    Column("read_watermark", String(32)),
    Index("ix_conversations_recent", "last_message_key"),
    Index("ix_conversations_channel_list", "channel", "last_message_key"),
)

messages = Table(
    "messages",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("channel_message_id", String(256), nullable=False),
    Column("conversation_id", String(32), nullable=False),
    Column("has_body", Boolean, nullable=False),
    Column("direction", String(16)),
    Column("sender_type", String(16)),
    Column("content_type", String(16)),
    Column("original_text", Text),
    Column("attachments", Text, nullable=False),
    Column("reply_to", String(256)),
    Column("provider_type", String(64)),
    Column("sent_at", String(32)),
    Column("delivery_status", String(16)),
    Column("delivery_error", Text),
    Column("edit_text", Text),
    Column("edit_key", String(64)),
    Column("is_deleted", Boolean, nullable=False),
    Column("deleted_at", String(32)),
    Column("reactions", Text, nullable=False),
    Column("marks_up_to", String(16)),
    Index("uq_messages_channel_mid", "channel", "channel_message_id", unique=True),
    Index("ix_messages_thread", "conversation_id", "sent_at", "channel_message_id"),
    Index("ix_messages_sent_at", "sent_at"),
)

# The local user's last view of each conversation: unread is per user.
conversation_views = Table(
    "conversation_views",
    metadata,
    Column("conversation_id", String(32), primary_key=True),
    Column("last_viewed_at", String(32), nullable=False),
)

PROJECTIONS = (contacts, conversations, messages)
