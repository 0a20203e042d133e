"""The relay's tables, as SQLAlchemy Core: the log path writes rows in bulk, not ORM objects.

Portable SQL only (SQLite now, PostgreSQL later): dialect specifics live in ``dialect.py``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row: the last seq handed out. Appends lock it, so seq is gap-free in commit order even
# with several writers (PostgreSQL, several relay instances).
log_head = Table(
    "log_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("dedup_key", String(1024), nullable=False, unique=True),
    Column("origin", String(16), nullable=False),  # channel | mutation
    Column("type", String(64), nullable=False),
    Column("channel", String(16)),
    Column("account_id", String(256)),
    Column("customer_id", String(256)),
    Column("occurred_at", String(32)),  # ISO-8601 UTC text, sortable
    Column("recorded_at", String(32), nullable=False),
    Column("delivery_id", String(32)),
    Column("payload", Text, nullable=False),  # the event as wire-format JSON
)

# Every delivery that passed the signature check, raw, so nothing is ever lost and
# `inboop-relay reprocess` can re-normalise it after an upgrade.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("received_at", String(32), nullable=False),
    Column("object", String(64)),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # NORMALISED | PARTIAL | FAILED
    Column("event_count", Integer, nullable=False),
    Column("appended_count", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("reprocessed_at", String(32)),
    Index("ix_deliveries_received_at", "received_at"),
)

integration_failures = Table(
    "integration_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("delivery_id", String(32)),
    Column("first_at", String(32), nullable=False),
    Column("last_at", String(32), nullable=False),
    Column("count", Integer, nullable=False),
    Column("resolved_at", String(32)),
    Index("ix_integration_failures_last_at", "last_at"),
    Index("ix_integration_failures_delivery_id", "delivery_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # ADMIN | MEMBER
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

# Agents' replies waiting to be sent, being sent, or done: the durable send queue. A row is
# written in the same transaction as the reply's log entry; sending marks it SENDING first
# (committed), so after a crash a row still SENDING is a send whose outcome is unknown.
outbound = Table(
    "outbound",
    metadata,
    Column("reply_id", String(36), primary_key=True),
    Column("seq", BigInteger, nullable=False),  # the reply's place in the log: its order
    Column("conversation_id", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("account_id", String(256), nullable=False),
    Column("customer_id", String(256), nullable=False),
    Column("payload", Text, nullable=False),  # the reply payload as wire-format JSON
    Column("state", String(16), nullable=False),  # QUEUED | SENDING | SENT | FAILED
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32), nullable=False),
    Column("confirm_by", String(32)),  # SENDING, outcome unknown: wait for Meta until then
    Column("provider_message_id", String(256)),
    Column("last_error", Text),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_outbound_due", "state", "next_attempt_at"),
    Index("ix_outbound_conversation", "conversation_id", "seq"),
)

# Files agents send, kept until their reply is sent (keyed by content hash).
uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the content
    Column("filename", String(255), nullable=False),
    Column("mime_type", String(127), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("uploaded_by", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
)

# Leads' and orders' statuses as the log's selling mutations leave them (the replicas' rules,
# shared through relay.protocol.selling), so the relay can name what happened: OrderCreated with
# its number, LeadConverted, OrderDelivered. Never used to refuse a mutation: replicas decide.
selling_ledger = Table(
    "selling_ledger",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(8), nullable=False),  # lead | order
    Column("conversation_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("number", String(16)),
    Index("ix_selling_ledger_conversation", "kind", "conversation_id", "status"),
)

# Who each Instagram and Messenger customer is: looked up once through the Graph API by a
# background worker (relay.profiles), never on the ingest path.
profile_lookups = Table(
    "profile_lookups",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("account_id", String(256), primary_key=True),
    Column("customer_id", String(256), primary_key=True),
    Column("state", String(16), nullable=False),  # PENDING | DONE | REFUSED | NO_TOKEN
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32), nullable=False),
    Column("last_error", Text),
    Column("updated_at", String(32), nullable=False),
    Index("ix_profile_lookups_due", "state", "next_attempt_at"),
)

# Attachments of new messages, fetched into the relay's own store (relay.media): one row per
# attachment, the file under ``media/`` named by its SHA-256 (the same file is kept once).
media = Table(
    "media",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("message_id", String(256), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("account_id", String(256), nullable=False),
    Column("customer_id", String(256)),  # the conversation's customer, for attachment.fetched
    Column("source_url", Text),  # Instagram and Messenger: a CDN link that expires
    Column("media_id", String(256)),  # WhatsApp: fetched through the Cloud API
    Column("state", String(16), nullable=False),  # PENDING | STORED | FAILED | EXPIRED
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32), nullable=False),
    Column("content_type", String(127)),
    Column("size", BigInteger),
    Column("sha256", String(64)),
    Column("stored_at", String(32)),
    Column("error", Text),
    Index("ix_media_due", "state", "next_attempt_at"),
    Index("ix_media_stored", "state", "stored_at"),
)

# Every id a WhatsApp customer was seen by (a phone's wa_id, a business-scoped user_id) and the
# id their conversation is keyed by: the first one seen, so a person is one conversation.
whatsapp_identities = Table(
    "whatsapp_identities",
    metadata,
    Column("account_id", String(256), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("canonical", String(256), nullable=False),
)
