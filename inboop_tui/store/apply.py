"""Applying log entries to the replica: keep the entry, reduce channel events into projections.

One batch is one transaction (the caller's): the log rows, the projections and the cursor move
together, so a kill mid-sync loses nothing and doubles nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, delete, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from inboop_tui.domain.conversations import ContactState, ConversationState, conversation_id
from inboop_tui.domain.messages import DELIVERY_RANK, MessageState
from inboop_tui.domain.reducer import Needs, Slice, apply_event, needs
from inboop_tui.store.tables import contacts, conversations, log_events, messages, sync_state
from relay.protocol import CHANNEL_EVENT_TYPES, ChannelEvent, parse_channel_event

_CHUNK = 500
_MESSAGE_FIELDS = [f.name for f in dataclasses.fields(MessageState)]
_CONVERSATION_FIELDS = [f.name for f in dataclasses.fields(ConversationState)]
_CONTACT_FIELDS = [f.name for f in dataclasses.fields(ContactState)]


@dataclass(frozen=True)
class AppliedBatch:
    entries: int
    applied: int  # channel events reduced into projections
    kept_only: int  # events this version does not reduce (kept in the log for a later one)


def apply_entries(
    conn: Connection, entries: Sequence[dict[str, Any]], *, cursor: int, relay_head: int
) -> AppliedBatch:
    """Keep the entries in the local log, reduce them, and move the cursor, in ``conn``'s transaction."""
    fresh = [e for e in entries if e["seq"] > current_cursor(conn)]
    if fresh:
        conn.execute(
            insert(log_events),
            [
                {
                    "seq": e["seq"],
                    "origin": e["origin"],
                    "type": e["type"],
                    "recorded_at": e["recorded_at"],
                    "payload": _payload_text(e["event"]),
                }
                for e in fresh
            ],
        )
    reducible = [
        parse_channel_event(e["event"])
        for e in fresh
        if e["origin"] == "channel" and e["type"] in CHANNEL_EVENT_TYPES
    ]
    apply_channel_events(conn, reducible)
    conn.execute(
        update(sync_state).where(sync_state.c.id == 1).values(cursor=cursor, relay_head=relay_head)
    )
    return AppliedBatch(
        entries=len(fresh), applied=len(reducible), kept_only=len(fresh) - len(reducible)
    )


def current_cursor(conn: Connection) -> int:
    return int(conn.execute(select(sync_state.c.cursor).where(sync_state.c.id == 1)).scalar_one())


def _payload_text(event: dict[str, Any] | str) -> str:
    return (
        event
        if isinstance(event, str)
        else json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    )


def apply_channel_events(conn: Connection, events: Sequence[ChannelEvent]) -> None:
    if not events:
        return
    piece = load_slice(conn, needs(list(events)))
    for event in events:
        apply_event(piece, event)
    write_slice(conn, piece)


def load_slice(conn: Connection, wanted: Needs) -> Slice:
    piece = Slice()
    by_channel: dict[str, list[str]] = defaultdict(list)
    for channel, mid in wanted.messages:
        by_channel[channel].append(mid)
    for channel, mids in by_channel.items():
        for chunk in _chunks(mids):
            rows = conn.execute(
                select(*[messages.c[name] for name in _MESSAGE_FIELDS]).where(
                    messages.c.channel == channel, messages.c.channel_message_id.in_(chunk)
                )
            ).mappings()
            for row in rows:
                state = MessageState(**row)
                piece.messages[(state.channel, state.channel_message_id)] = state
    for chunk in _chunks(sorted(wanted.conversations)):
        rows = conn.execute(
            select(*[conversations.c[name] for name in _CONVERSATION_FIELDS]).where(
                conversations.c.id.in_(chunk)
            )
        ).mappings()
        for row in rows:
            piece.conversations[row["id"]] = ConversationState(**row)
    for chunk in _chunks(sorted(wanted.contacts)):
        rows = conn.execute(
            select(*[contacts.c[name] for name in _CONTACT_FIELDS]).where(contacts.c.id.in_(chunk))
        ).mappings()
        for row in rows:
            piece.contacts[row["id"]] = ContactState(**row)
    return piece


def write_slice(conn: Connection, piece: Slice) -> None:
    if piece.changed_contacts:
        _upsert(
            conn,
            contacts,
            ["id"],
            [dataclasses.asdict(piece.contacts[k]) for k in sorted(piece.changed_contacts)],
        )
    if piece.changed_conversations:
        _upsert(
            conn,
            conversations,
            ["id"],
            [
                dataclasses.asdict(piece.conversations[k])
                for k in sorted(piece.changed_conversations)
            ],
        )
    if piece.changed_messages:
        _upsert(
            conn,
            messages,
            ["channel", "channel_message_id"],
            [dataclasses.asdict(piece.messages[k]) for k in sorted(piece.changed_messages)],
        )
    for conversation, status, at in piece.watermarks:
        _apply_watermark(conn, conversation, status, at)
    _index_messages(conn, piece.changed_messages)
    touched = set(piece.changed_conversations) | {
        _conversation_of_contact(piece.contacts[k]) for k in piece.changed_contacts
    }
    index_conversations(conn, touched)


def _upsert(conn: Connection, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    statement = sqlite_insert(table)
    columns = [name for name in rows[0] if name not in keys]
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={name: statement.excluded[name] for name in columns}
    )
    for chunk in _chunks(rows):
        conn.execute(statement, chunk)


def _rank(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return case({status: rank for status, rank in DELIVERY_RANK.items()}, value=column, else_=-1)


def _apply_watermark(conn: Connection, conversation: str, status: str, at: str) -> None:
    """Every outbound message of the conversation up to ``at`` reaches ``status`` (forward only)."""
    conn.execute(
        update(messages)
        .where(
            messages.c.conversation_id == conversation,
            messages.c.direction == "OUTBOUND",
            messages.c.has_body.is_(True),
            messages.c.sent_at <= at,
            _rank(messages.c.delivery_status) < DELIVERY_RANK[status],
        )
        .values(delivery_status=status)
    )


def _index_messages(conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
    by_channel: dict[str, list[str]] = defaultdict(list)
    for channel, mid in keys:
        by_channel[channel].append(mid)
    for channel, mids in by_channel.items():
        for chunk in _chunks(mids):
            rows = conn.execute(
                select(
                    messages.c.pk,
                    messages.c.original_text,
                    messages.c.edit_text,
                    messages.c.is_deleted,
                    messages.c.has_body,
                ).where(messages.c.channel == channel, messages.c.channel_message_id.in_(chunk))
            ).all()
            pks = [row.pk for row in rows]
            conn.execute(
                text("DELETE FROM messages_fts WHERE rowid = :pk"), [{"pk": pk} for pk in pks]
            )
            searchable = [
                {
                    "pk": row.pk,
                    "text": row.edit_text if row.edit_text is not None else row.original_text,
                }
                for row in rows
                if row.has_body and not row.is_deleted and (row.edit_text or row.original_text)
            ]
            if searchable:
                conn.execute(
                    text("INSERT INTO messages_fts (rowid, text) VALUES (:pk, :text)"), searchable
                )


def _conversation_of_contact(contact: ContactState) -> str:
    return conversation_id(contact.channel, contact.account_id, contact.customer_id)


def index_conversations(conn: Connection, ids: Iterable[str]) -> None:
    """Customer name and handles of these conversations into the search index."""
    for chunk in _chunks(sorted(ids)):
        rows = conn.execute(
            select(
                conversations.c.pk,
                conversations.c.customer_id,
                contacts.c.name,
                contacts.c.username,
                contacts.c.phone,
            )
            .select_from(
                conversations.outerjoin(contacts, contacts.c.id == conversations.c.contact_id)
            )
            .where(conversations.c.id.in_(chunk))
        ).all()
        if not rows:
            continue
        conn.execute(
            text("DELETE FROM conversations_fts WHERE rowid = :pk"), [{"pk": r.pk} for r in rows]
        )
        conn.execute(
            text(
                "INSERT INTO conversations_fts (rowid, name, handle) VALUES (:pk, :name, :handle)"
            ),
            [
                {
                    "pk": r.pk,
                    "name": r.name or "",
                    "handle": " ".join(h for h in (r.customer_id, r.username, r.phone) if h),
                }
                for r in rows
            ],
        )


def clear_projections(conn: Connection) -> None:
    for table in (messages, conversations, contacts):
        conn.execute(delete(table))
    conn.execute(text("DELETE FROM messages_fts"))
    conn.execute(text("DELETE FROM conversations_fts"))


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
