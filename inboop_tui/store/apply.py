"""Applying log entries to the replica: keep the entry, reduce channel events into projections.

One batch is one transaction (the caller's): the log rows, the projections and the cursor move
together, so a kill mid-sync loses nothing and doubles nothing.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, delete, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from inboop_tui.domain.conversations import ContactState, ConversationState, conversation_id
from inboop_tui.domain.messages import DELIVERY_RANK, MessageState
from inboop_tui.domain.reducer import Needs, Slice, apply_event, needs
from inboop_tui.store.tables import contacts, conversations, messages, sync_state
from relay.protocol import CHANNEL_EVENT_TYPES, ChannelEvent, parse_channel_event

_CHUNK = 500
_MESSAGE_FIELDS = [f.name for f in dataclasses.fields(MessageState)]
_CONVERSATION_FIELDS = [f.name for f in dataclasses.fields(ConversationState)]
_CONTACT_FIELDS = [f.name for f in dataclasses.fields(ContactState)]
# A state as a row tuple (``dataclasses.asdict`` deep-copies, which the sync path cannot afford).
_MESSAGE_ROW = operator.attrgetter(*_MESSAGE_FIELDS)
_CONVERSATION_ROW = operator.attrgetter(*_CONVERSATION_FIELDS)
_CONTACT_ROW = operator.attrgetter(*_CONTACT_FIELDS)


@dataclass(frozen=True)
class AppliedBatch:
    entries: int
    applied: int  # channel events reduced into projections
    kept_only: int  # events this version does not reduce (kept in the log for a later one)


def apply_entries(
    conn: Connection, entries: Sequence[dict[str, Any]], *, cursor: int, relay_head: int
) -> AppliedBatch:
    """Keep the entries in the local log, reduce them, and move the cursor, in ``conn``'s transaction."""
    cursor_before = current_cursor(conn)
    fresh = [e for e in entries if e["seq"] > cursor_before]
    if fresh:
        conn.exec_driver_sql(
            "INSERT INTO log_events (seq, origin, type, recorded_at, payload) VALUES (?, ?, ?, ?, ?)",
            [
                (e["seq"], e["origin"], e["type"], e["recorded_at"], _payload_text(e["event"]))
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
        rows = [_CONTACT_ROW(piece.contacts[k]) for k in sorted(piece.changed_contacts)]
        _upsert(conn, contacts, _CONTACT_FIELDS, ["id"], rows)
    if piece.changed_conversations:
        rows = [
            _CONVERSATION_ROW(piece.conversations[k]) for k in sorted(piece.changed_conversations)
        ]
        _upsert(conn, conversations, _CONVERSATION_FIELDS, ["id"], rows)
    if piece.changed_messages:
        rows = [_MESSAGE_ROW(piece.messages[k]) for k in sorted(piece.changed_messages)]
        _upsert(conn, messages, _MESSAGE_FIELDS, ["channel", "channel_message_id"], rows)
    for conversation, status, at in piece.watermarks:
        _apply_watermark(conn, conversation, status, at)
    _index_messages(conn, piece.changed_messages)
    touched = set(piece.changed_conversations) | {
        _conversation_of_contact(piece.contacts[k]) for k in piece.changed_contacts
    }
    index_conversations(conn, touched)


_UPSERT_SQL: dict[str, str] = {}


def _upsert_sql(table: Any, fields: list[str], keys: list[str]) -> str:
    """``INSERT … ON CONFLICT DO UPDATE`` for the fields of a state dataclass, made once per table."""
    if table.name not in _UPSERT_SQL:
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields if name not in keys)
        _UPSERT_SQL[table.name] = (
            f"INSERT INTO {table.name} ({', '.join(fields)}) VALUES ({', '.join('?' for _ in fields)}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
    return _UPSERT_SQL[table.name]


def _upsert(
    conn: Connection, table: Any, fields: list[str], keys: list[str], rows: list[tuple[Any, ...]]
) -> None:
    # Straight to the driver: this is the sync hot path, and the SQL is fixed per table.
    conn.exec_driver_sql(_upsert_sql(table, fields, keys), rows)


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
            conn.exec_driver_sql("DELETE FROM messages_fts WHERE rowid = ?", [(pk,) for pk in pks])
            searchable = [
                (row.pk, row.edit_text if row.edit_text is not None else row.original_text)
                for row in rows
                if row.has_body and not row.is_deleted and (row.edit_text or row.original_text)
            ]
            if searchable:
                conn.exec_driver_sql(
                    "INSERT INTO messages_fts (rowid, text) VALUES (?, ?)", searchable
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
        conn.exec_driver_sql(
            "DELETE FROM conversations_fts WHERE rowid = ?", [(r.pk,) for r in rows]
        )
        conn.exec_driver_sql(
            "INSERT INTO conversations_fts (rowid, name, handle) VALUES (?, ?, ?)",
            [
                (r.pk, r.name or "", " ".join(h for h in (r.customer_id, r.username, r.phone) if h))
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
