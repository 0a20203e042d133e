"""The replica's tables (SQLAlchemy Core: the sync path writes rows in bulk, never ORM objects).

``log_events`` is the replica's copy of the relay's log. The projections (contacts,
conversations, messages, notes, workspace, conflicts, unreadable entries) are what
``inboop_tui.domain`` computes from it, with this replica's pending mutations (``outbox``)
applied on top; ``shadows`` keeps each row as the log alone had it, so the pending layer can be
lifted off and put back (docs/design.md). ``inboop doctor --rebuild`` recomputes them all.
Local-only state: the outbox, rejected mutations, sync runs, the team list and unread marks.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

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
    # The latest round with the relay (live sync talks to it often; sync_runs keeps the rounds
    # that did something or failed).
    Column("last_ok_at", String(32)),
    Column("last_attempt_at", String(32)),
    Column("last_error", Text),
    Column("last_error_kind", String(16)),
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
    Column("error_kind", String(16)),  # network | auth | protocol | relay_behind | local
    Column("pushed", Integer, nullable=False, server_default="0"),
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
    Column("agent_name", Text),
    Column("agent_phone", Text),
    Column("email", Text),
    Column("notes", Text, nullable=False, server_default=""),
    Column("metadata", Text, nullable=False, server_default="{}"),
    Column("merged_into", String(32)),
    Index("ix_contacts_merged_into", "merged_into"),
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
    # What agents set (log order, last writer wins); the status shown also depends on new
    # inbound messages and the snooze time (domain.conversations.effective_status).
    Column("status", String(16), nullable=False),
    Column("status_at", String(32)),
    Column("snoozed_until", String(32)),
    Column("assignee", String(128)),
    Column("tags", Text, nullable=False),  # a sorted JSON list
    Column("first_message_at", String(32)),
    Column("last_message_at", String(32)),
    Column("last_inbound_at", String(32)),
    Column("last_message_key", Text),
    Column("preview", Text),
    Column("preview_direction", String(16)),
    Column("message_count", Integer, nullable=False),
    Column("delivered_watermark", String(32)),
    Column("read_watermark", String(32)),
    Column("last_outbound_at", String(32)),
    # The customer's oldest message since the business last wrote: the SLA clock.
    Column("awaiting_since", String(32)),
    Column("lead_id", String(36)),  # its NEW lead
    Column("order_count", Integer, nullable=False, server_default="0"),
    Column("metadata", Text, nullable=False, server_default="{}"),
    # The inbox's order, and a channel's (its entries skipped without reading the rows of the
    # others): one index, since every new message moves its conversation in it. It holds what
    # the views filter on (the shown status's columns, the assignee), so a whole list is read
    # from the index alone.
    Index(
        "ix_conversations_recent",
        "last_message_key",
        "channel",
        "status",
        "status_at",
        "snoozed_until",
        "last_inbound_at",
        "assignee",
    ),
    Index("ix_conversations_contact", "contact_id"),
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
    # Our replies: the reply (mutation) id, who sent it, and the channel's id for it once sent.
    Column("reply_id", String(36)),
    Column("sent_by", String(128)),
    Column("provider_message_id", String(256)),
    Column("channel_at", String(32)),  # when the channel had it: watermarks reach it from then
    Column("media", Text, nullable=False, server_default="{}"),  # the relay's fetch of each file
    Index("uq_messages_channel_mid", "channel", "channel_message_id", unique=True),
    Index("ix_messages_thread", "conversation_id", "sent_at", "channel_message_id"),
    Index("ix_messages_sent_at", "sent_at"),
)

# The channel's ids of our replies: events about ``alias`` apply to the reply row ``target``.
message_aliases = Table(
    "message_aliases",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("target", String(256), nullable=False),
)

# The team's canned replies (a projection of canned.save / canned.delete).
canned_replies = Table(
    "canned_replies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("shortcode", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

# Local only: unsent drafts per conversation, files of replies not yet pushed, which accounts
# the relay can send from.
drafts = Table(
    "drafts",
    metadata,
    Column("conversation_id", String(32), primary_key=True),
    Column("text", Text, nullable=False),
    Column("updated_at", String(32), nullable=False),
)

outbox_files = Table(
    "outbox_files",
    metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("filename", String(255), nullable=False),
    Column("mime_type", String(127), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

sending_accounts = Table(
    "sending_accounts",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("account_id", String(128), primary_key=True),
)

# The local user's last view of each conversation: unread is per user.
conversation_views = Table(
    "conversation_views",
    metadata,
    Column("conversation_id", String(32), primary_key=True),
    Column("last_viewed_at", String(32), nullable=False),
)

# Internal notes: the team's, never sent to the customer. ``seq`` is None while pending.
notes = Table(
    "notes",
    metadata,
    Column("id", String(36), primary_key=True),  # the mutation's id
    Column("conversation_id", String(32), nullable=False),
    Column("author", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("mentions", Text, nullable=False),  # a JSON list of user names
    Column("created_at", String(32), nullable=False),
    Column("seq", BigInteger),
    Index("ix_notes_conversation", "conversation_id", "created_at"),
)

# Workspace settings from the log (one row).
workspace = Table(
    "workspace",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sla_minutes", Integer),
    Column("payment_config", Text),  # JSON; NULL: never set
    Column("orders_created", Integer, nullable=False, server_default="0"),
)

# Leads and orders (domain.selling); ``seq`` is None while only in this replica's outbox.
leads = Table(
    "leads",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("conversation_id", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("source", String(16), nullable=False),
    Column("assignee", String(128)),
    Column("value_amount", BigInteger),
    Column("value_currency", String(3)),
    Column("notes", Text, nullable=False),
    Column("closed_at", String(32)),
    Column("close_reason", Text),
    Column("order_id", String(36)),
    Column("metadata", Text, nullable=False),
    Column("seq", BigInteger),
    Index("ix_leads_created", "created_at"),
    Index("ix_leads_conversation", "conversation_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("number", String(16)),
    Column("conversation_id", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("customer_name", Text, nullable=False),
    Column("customer_handle", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("items", Text, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("payment_method", String(16), nullable=False),
    Column("payment_status", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("lead_id", String(36)),
    Column("payment_provider", String(32)),
    Column("shipping_address", Text, nullable=False),
    Column("region", String(2)),
    Column("tracking_number", Text),
    Column("notes", Text, nullable=False),
    Column("assignee", String(128)),
    Column("metadata", Text, nullable=False),
    Column("warnings", Text, nullable=False),
    Column("timeline", Text, nullable=False),
    Column("shipped_at", String(32)),
    Column("delivered_at", String(32)),
    Column("paid_at", String(32)),
    Column("seq", BigInteger),
    Index("ix_orders_created", "created_at"),
    Index("ix_orders_conversation", "conversation_id"),
    Index("ix_orders_lead", "lead_id"),
)

# Mutations that were not valid when their turn in the log came: not applied, shown to all.
conflicts = Table(
    "conflicts",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("mutation_id", String(36), nullable=False),
    Column("type", String(64), nullable=False),
    Column("author", String(128), nullable=False),
    Column("conversation_id", String(32)),
    Column("reason", Text, nullable=False),
    Column("client_time", String(32), nullable=False),
)

# Log entries this version cannot read or reduce: kept in log_events, re-read by a rebuild.
unreadable_entries = Table(
    "unreadable_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False),
    Column("error", Text, nullable=False),
)

# This replica's mutations not yet back from the relay's log, in the order they were made.
outbox = Table(
    "outbox",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("conversation_id", String(32)),
    Column("payload", Text, nullable=False),  # the mutation as wire-format JSON
    Column("created_at", String(32), nullable=False),
    Column("pushed_seq", BigInteger),  # the relay accepted it at this seq
    Column("last_error", Text),  # the last push's transient error
    Index("ix_outbox_conversation", "conversation_id"),
)

# A row as reduce(log) had it before a pending mutation changed it (``row`` None: absent).
shadows = Table(
    "shadows",
    metadata,
    Column("table_name", String(32), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("row", Text),
)

rejected_mutations = Table(
    "rejected_mutations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("conversation_id", String(32)),
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("rejected_at", String(32), nullable=False),
)

# The relay's users, as last seen (assignment and mentions work offline from it).
team = Table(
    "team",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
)

PROJECTIONS = (
    contacts,
    leads,
    orders,
    conversations,
    messages,
    message_aliases,
    notes,
    canned_replies,
    workspace,
    conflicts,
    unreadable_entries,
)
