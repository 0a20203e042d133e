"""Agents' mutations: outbox, shadows, notes, workspace, conflicts, unreadable entries, team;
conversation status, snooze, tags and the SLA clock; search that keeps emoji.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Emoji (So) and their modifiers (M*) are searchable too; an SQLite without the ``categories``
# option (older than 3.25) keeps the default tokenizer.
TOKENIZE_WITH_EMOJI = "unicode61 remove_diacritics 2 categories 'L* N* Co So M*'"
TOKENIZE_PLAIN = "unicode61 remove_diacritics 2"


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("status_at", sa.String(32)))
        batch.add_column(sa.Column("snoozed_until", sa.String(32)))
        batch.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("last_outbound_at", sa.String(32)))
        batch.add_column(sa.Column("awaiting_since", sa.String(32)))
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("error_kind", sa.String(16)))
        batch.add_column(sa.Column("pushed", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("last_ok_at", sa.String(32)))
        batch.add_column(sa.Column("last_attempt_at", sa.String(32)))
        batch.add_column(sa.Column("last_error", sa.Text()))
        batch.add_column(sa.Column("last_error_kind", sa.String(16)))
    op.execute(
        "UPDATE sync_state SET last_ok_at = (SELECT max(finished_at) FROM sync_runs WHERE ok)"
    )
    # The new columns of existing conversations, from their messages.
    op.execute(
        "UPDATE conversations SET last_outbound_at = (SELECT max(sent_at) FROM messages m "
        "WHERE m.conversation_id = conversations.id AND m.has_body AND m.direction = 'OUTBOUND')"
    )
    op.execute(
        "UPDATE conversations SET awaiting_since = (SELECT min(sent_at) FROM messages m "
        "WHERE m.conversation_id = conversations.id AND m.has_body AND m.direction = 'INBOUND' "
        "AND m.sent_at > coalesce(conversations.last_outbound_at, ''))"
    )

    op.create_table(
        "notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mentions", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger()),
    )
    op.create_index("ix_notes_conversation", "notes", ["conversation_id", "created_at"])
    op.create_table(
        "workspace",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sla_minutes", sa.Integer()),
    )
    op.create_table(
        "conflicts",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("mutation_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("conversation_id", sa.String(32)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("client_time", sa.String(32), nullable=False),
    )
    op.create_table(
        "unreadable_entries",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(32)),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("pushed_seq", sa.BigInteger()),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_outbox_conversation", "outbox", ["conversation_id"])
    op.create_table(
        "shadows",
        sa.Column("table_name", sa.String(32), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("row", sa.Text()),
    )
    op.create_table(
        "rejected_mutations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(32)),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rejected_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "team",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )

    # Search: rebuild both indexes with a tokenizer that keeps emoji.
    tokenize = TOKENIZE_WITH_EMOJI
    try:
        op.execute(f'CREATE VIRTUAL TABLE fts_probe USING fts5(x, tokenize="{tokenize}")')
        op.execute("DROP TABLE fts_probe")
    except sa.exc.OperationalError:
        tokenize = TOKENIZE_PLAIN
    op.execute("DROP TABLE messages_fts")
    op.execute("DROP TABLE conversations_fts")
    op.execute(f'CREATE VIRTUAL TABLE messages_fts USING fts5(text, tokenize="{tokenize}")')
    op.execute(
        f'CREATE VIRTUAL TABLE conversations_fts USING fts5(name, handle, tokenize="{tokenize}")'
    )
    op.execute(
        "INSERT INTO messages_fts (rowid, text) SELECT pk, coalesce(edit_text, original_text) "
        "FROM messages WHERE has_body AND NOT is_deleted "
        "AND coalesce(edit_text, original_text) IS NOT NULL AND coalesce(edit_text, original_text) != ''"
    )
    op.execute(
        "INSERT INTO conversations_fts (rowid, name, handle) "
        "SELECT c.pk, coalesce(t.name, ''), trim(c.customer_id || ' ' || coalesce(t.username, '') "
        "|| ' ' || coalesce(t.phone, '')) FROM conversations c LEFT JOIN contacts t ON t.id = c.contact_id"
    )


def downgrade() -> None:
    for name in ("team", "rejected_mutations", "shadows", "outbox", "unreadable_entries"):
        op.drop_table(name)
    for name in ("conflicts", "workspace", "notes"):
        op.drop_table(name)
    with op.batch_alter_table("sync_state") as batch:
        for column in ("last_error_kind", "last_error", "last_attempt_at", "last_ok_at"):
            batch.drop_column(column)
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("pushed")
        batch.drop_column("error_kind")
    with op.batch_alter_table("conversations") as batch:
        for column in ("awaiting_since", "last_outbound_at", "tags", "snoozed_until", "status_at"):
            batch.drop_column(column)
