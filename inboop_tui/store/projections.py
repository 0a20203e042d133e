"""The projections as rows: load the slice a batch touches, write back what changed.

Straight SQL on the sync hot path (fixed statements per table, rows as tuples, no ORM objects).
Derived columns the domain cannot compute from a slice (the SLA clock needs every message of a
conversation; the search indexes) are maintained here, after the rows are written.
"""

from __future__ import annotations

import dataclasses
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, case, delete, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from inboop_tui.domain.conversations import ContactState, ConversationState, conversation_id
from inboop_tui.domain.messages import DELIVERY_RANK, MessageState
from inboop_tui.domain.notes import CannedState, NoteState, WorkspaceState
from inboop_tui.domain.reducer import Needs, Slice, apply_event, needs
from inboop_tui.domain.selling import LeadState, OrderState
from inboop_tui.store import search_index
from inboop_tui.store.db import driver_rows
from inboop_tui.store.tables import (
    canned_replies,
    conflicts,
    contacts,
    conversations,
    leads,
    message_aliases,
    messages,
    notes,
    orders,
    shadows,
    unreadable_entries,
    workspace,
)
from relay.protocol import ChannelEvent
from relay.store.keys import chunks

_MESSAGE_FIELDS = [f.name for f in dataclasses.fields(MessageState)]
_CONVERSATION_FIELDS = [f.name for f in dataclasses.fields(ConversationState)]
_CONTACT_FIELDS = [f.name for f in dataclasses.fields(ContactState)]
_NOTE_FIELDS = [f.name for f in dataclasses.fields(NoteState)]
_WORKSPACE_FIELDS = [f.name for f in dataclasses.fields(WorkspaceState)]
_CANNED_FIELDS = [f.name for f in dataclasses.fields(CannedState)]
_LEAD_FIELDS = [f.name for f in dataclasses.fields(LeadState)]
_ORDER_FIELDS = [f.name for f in dataclasses.fields(OrderState)]
# A state as a row tuple (``dataclasses.asdict`` deep-copies, which the sync path cannot afford).
_MESSAGE_ROW = operator.attrgetter(*_MESSAGE_FIELDS)
_CONVERSATION_ROW = operator.attrgetter(*_CONVERSATION_FIELDS)
_CONTACT_ROW = operator.attrgetter(*_CONTACT_FIELDS)
_NOTE_ROW = operator.attrgetter(*_NOTE_FIELDS)
_WORKSPACE_ROW = operator.attrgetter(*_WORKSPACE_FIELDS)
_CANNED_ROW = operator.attrgetter(*_CANNED_FIELDS)
_LEAD_ROW = operator.attrgetter(*_LEAD_FIELDS)
_ORDER_ROW = operator.attrgetter(*_ORDER_FIELDS)


def apply_channel_events(conn: Connection, events: Sequence[ChannelEvent]) -> Slice:
    piece = load_slice(conn, needs(list(events)))
    for event in events:
        apply_event(piece, event)
    write_slice(conn, piece)
    return piece


def load_slice(conn: Connection, wanted: Needs) -> Slice:
    piece = Slice()
    by_channel: dict[str, list[str]] = defaultdict(list)
    for channel, mid in wanted.messages:
        by_channel[channel].append(mid)
    for channel, mids in by_channel.items():
        # Channel ids of our replies lead to the replies' rows.
        for alias, target in _rows_in(
            conn,
            "SELECT alias, target FROM message_aliases",
            "channel = ? AND alias",
            mids,
            channel,
        ):
            piece.aliases[(channel, alias)] = (channel, target)
        targets = {target for (c, _), (_, target) in piece.aliases.items() if c == channel}
        for row in _rows_in(
            conn,
            _SELECT_MESSAGES,
            "channel = ? AND channel_message_id",
            sorted(set(mids) | targets),
            channel,
        ):
            state = _message(row)
            piece.messages[(state.channel, state.channel_message_id)] = state
    for row in _rows_in(conn, _SELECT_CONVERSATIONS, "id", sorted(wanted.conversations)):
        piece.conversations[row[0]] = ConversationState(*row)
    contact_ids = set(wanted.contacts)
    if wanted.conversation_contacts:
        contact_ids.update(c.contact_id for c in piece.conversations.values())
    for row in _rows_in(conn, _SELECT_CONTACTS, "id", sorted(contact_ids)):
        piece.contacts[row[0]] = ContactState(*row)
    if wanted.merged_contacts:
        for row in _rows_in(conn, _SELECT_CONTACTS, "merged_into", sorted(wanted.contacts)):
            piece.contacts[row[0]] = ContactState(*row)
    piece.loaded_contacts = dict(piece.contacts)
    # A conversation's NEW lead comes along: a new lead supersedes it, an order converts it.
    lead_ids = set(wanted.leads) | {
        c.lead_id for c in piece.conversations.values() if c.lead_id is not None
    }
    for row in _rows_in(conn, _SELECT_LEADS, "id", sorted(lead_ids)):
        piece.leads[row[0]] = LeadState(*row)
    # ... and a lead's conversation (closing or converting it clears the conversation's lead).
    missing = sorted({x.conversation_id for x in piece.leads.values()} - set(piece.conversations))
    for row in _rows_in(conn, _SELECT_CONVERSATIONS, "id", missing):
        piece.conversations[row[0]] = ConversationState(*row)
    for row in _rows_in(conn, _SELECT_ORDERS, "id", sorted(wanted.orders)):
        piece.orders[row[0]] = OrderState(*row)
    for row in _rows_in(conn, _SELECT_NOTES, "id", sorted(wanted.notes)):
        piece.notes[row[0]] = NoteState(*row)
    if wanted.canned:
        for row in driver_rows(conn, _SELECT_CANNED):
            piece.canned[row[0]] = CannedState(*row)
    if wanted.workspace:
        for row in driver_rows(conn, _SELECT_WORKSPACE):
            piece.workspace = WorkspaceState(*row)
    return piece


def _select(table: Any, fields: list[str]) -> str:
    """The state's columns, in its fields' order (a row is its positional arguments)."""
    unknown = [name for name in fields if name not in table.c]
    if unknown:  # at import: a state and its table out of step
        raise LookupError(f"{table.name} has no column {', '.join(unknown)}")
    return f"SELECT {', '.join(fields)} FROM {table.name}"


_SELECT_MESSAGES = _select(messages, _MESSAGE_FIELDS)
_SELECT_CONVERSATIONS = _select(conversations, _CONVERSATION_FIELDS)
_SELECT_CONTACTS = _select(contacts, _CONTACT_FIELDS)
_SELECT_LEADS = _select(leads, _LEAD_FIELDS)
_SELECT_ORDERS = _select(orders, _ORDER_FIELDS)
_SELECT_NOTES = _select(notes, _NOTE_FIELDS)
_SELECT_CANNED = _select(canned_replies, _CANNED_FIELDS)
_SELECT_WORKSPACE = _select(workspace, _WORKSPACE_FIELDS)
# SQLite keeps booleans as 0 and 1; the states hold bool.
_MESSAGE_FLAGS = [i for i, name in enumerate(_MESSAGE_FIELDS) if name in ("has_body", "is_deleted")]


def _message(row: Sequence[Any]) -> MessageState:
    values = list(row)
    for i in _MESSAGE_FLAGS:
        values[i] = bool(values[i])
    return MessageState(*values)


def _rows_in(
    conn: Connection, select_sql: str, where: str, values: Sequence[Any], *before: Any
) -> Iterable[tuple[Any, ...]]:
    """``select_sql`` where ``where IN values`` (``before`` binds the ``?`` in ``where``), in
    chunks the driver takes."""
    for chunk in chunks(values):
        marks = ", ".join("?" * len(chunk))
        yield from driver_rows(conn, f"{select_sql} WHERE {where} IN ({marks})", (*before, *chunk))


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
        # New messages take their keys in the order they were sent: the search index walks
        # matches by key, newest first.
        changed = sorted(piece.changed_messages, key=lambda k: (piece.messages[k].sent_at or "", k))
        rows = [_MESSAGE_ROW(piece.messages[k]) for k in changed]
        _upsert(conn, messages, _MESSAGE_FIELDS, ["channel", "channel_message_id"], rows)
        _clock_sla(conn, {piece.messages[k].conversation_id for k in piece.changed_messages})
    if piece.removed_messages:
        _forget_messages(conn, piece.removed_messages)
    if piece.new_aliases:
        conn.exec_driver_sql(
            "INSERT INTO message_aliases (channel, alias, target) VALUES (?, ?, ?) "
            "ON CONFLICT (channel, alias) DO UPDATE SET target = excluded.target",
            [(c, alias, target) for (c, alias), (_, target) in sorted(piece.new_aliases.items())],
        )
    if piece.changed_leads:
        rows = [_LEAD_ROW(piece.leads[k]) for k in sorted(piece.changed_leads)]
        _upsert(conn, leads, _LEAD_FIELDS, ["id"], rows)
    if piece.changed_orders:
        rows = [_ORDER_ROW(piece.orders[k]) for k in sorted(piece.changed_orders)]
        _upsert(conn, orders, _ORDER_FIELDS, ["id"], rows)
    if piece.changed_notes:
        rows = [_NOTE_ROW(piece.notes[k]) for k in sorted(piece.changed_notes)]
        _upsert(conn, notes, _NOTE_FIELDS, ["id"], rows)
    if piece.changed_canned:
        rows = [_CANNED_ROW(piece.canned[k]) for k in sorted(piece.changed_canned)]
        _upsert(conn, canned_replies, _CANNED_FIELDS, ["id"], rows)
    if piece.removed_canned:
        conn.execute(
            delete(canned_replies).where(canned_replies.c.id.in_(sorted(piece.removed_canned)))
        )
    if piece.changed_workspace:
        _upsert(conn, workspace, _WORKSPACE_FIELDS, ["id"], [_WORKSPACE_ROW(piece.workspace)])
    for conversation, status, at in piece.watermarks:
        _apply_watermark(conn, conversation, status, at)
    index_messages(conn, piece.changed_messages)
    # What the index holds of a conversation comes from its contact (a conversation's contact
    # never changes): a new message leaves it as it was, and a conversation is in the index
    # from the slice that made it on. A profile sent again with each message (WhatsApp's)
    # changes its time, not what is searched.
    renamed = {
        _conversation_of_contact(contact)
        for contact in (piece.contacts[k] for k in piece.changed_contacts)
        if contact.id not in piece.loaded_contacts
        or _SEARCHED(piece.loaded_contacts[contact.id]) != _SEARCHED(contact)
    }
    index_conversations(conn, renamed)
    index_conversations(conn, piece.new_conversations - renamed, only_new=True)


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


def _forget_messages(conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
    """Rows folded into a reply's row: gone, with their search entries."""
    pks = _message_keys(conn, sorted(keys))
    search_index.unindex(conn, pks)
    for pk in pks:
        conn.execute(delete(messages).where(messages.c.pk == pk))


def _message_keys(conn: Connection, keys: Iterable[tuple[str, str]]) -> list[int]:
    """The keys (``pk``) of these messages (channel, channel's id) that are in the replica."""
    found = (
        conn.execute(
            select(messages.c.pk).where(
                messages.c.channel == channel, messages.c.channel_message_id == mid
            )
        ).scalar()
        for channel, mid in keys
    )
    return [pk for pk in found if pk is not None]


def _clock_sla(conn: Connection, conversation_ids: Iterable[str]) -> None:
    """``awaiting_since``: the customer's oldest message after the business's last one."""
    for chunk in chunks(sorted(conversation_ids)):
        conn.exec_driver_sql(
            "UPDATE conversations SET awaiting_since = (SELECT min(m.sent_at) FROM messages m "
            "WHERE m.conversation_id = conversations.id AND m.has_body AND m.direction = 'INBOUND' "
            "AND m.sent_at > coalesce(conversations.last_outbound_at, '')) "
            f"WHERE id IN ({', '.join('?' for _ in chunk)})",
            tuple(chunk),
        )


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
            messages.c.channel_at <= at,
            _rank(messages.c.delivery_status) < DELIVERY_RANK[status],
        )
        .values(delivery_status=status)
    )


def unindex_messages(conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
    """Take messages out of the search index (before their rows are replaced or removed)."""
    search_index.unindex(conn, _message_keys(conn, keys))


def index_messages(conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
    by_channel: dict[str, list[str]] = defaultdict(list)
    for channel, mid in keys:
        by_channel[channel].append(mid)
    for channel, mids in by_channel.items():
        rows = list(
            _rows_in(
                conn,
                "SELECT pk, coalesce(edit_text, original_text), has_body AND NOT is_deleted "
                "FROM messages",
                "channel = ? AND channel_message_id",
                mids,
                channel,
            )
        )
        # A key with no row (a pending reply lifted off) has nothing to index.
        search_index.replace(
            conn,
            [pk for pk, _, _ in rows],
            [(pk, text) for pk, text, shown in rows if shown and text],
        )


# What the search index holds of a conversation's contact (``index_conversations``).
_SEARCHED_FIELDS = ("name", "agent_name", "username", "phone", "agent_phone", "email")
_SEARCHED = operator.attrgetter(*_SEARCHED_FIELDS)


def _conversation_of_contact(contact: ContactState) -> str:
    return conversation_id(contact.channel, contact.account_id, contact.customer_id)


def index_conversations(conn: Connection, ids: Iterable[str], only_new: bool = False) -> None:
    """Customer name and handles of these conversations into the search index (``only_new``:
    of those not in it yet)."""
    for chunk in chunks(sorted(ids)):
        where: ColumnElement[bool] = conversations.c.id.in_(chunk)
        if only_new:
            where = where & text(
                "NOT EXISTS (SELECT 1 FROM conversations_fts WHERE rowid = conversations.pk)"
            )
        rows = conn.execute(
            select(
                conversations.c.pk,
                conversations.c.customer_id,
                *(contacts.c[name] for name in _SEARCHED_FIELDS),
            )
            .select_from(
                conversations.outerjoin(contacts, contacts.c.id == conversations.c.contact_id)
            )
            .where(where)
        ).all()
        if not rows:
            continue
        conn.exec_driver_sql(
            "DELETE FROM conversations_fts WHERE rowid = ?", [(r.pk,) for r in rows]
        )
        conn.exec_driver_sql(
            "INSERT INTO conversations_fts (rowid, name, handle) VALUES (?, ?, ?)",
            [
                (
                    r.pk,
                    " ".join(n for n in (r.agent_name, r.name) if n),
                    " ".join(
                        h for h in (r.customer_id, r.username, r.phone, r.agent_phone, r.email) if h
                    ),
                )
                for r in rows
            ],
        )


def clear_projections(conn: Connection) -> None:
    """Empty every projection (and the pending layer's shadows): a rebuild starts from here."""
    for table in (
        messages,
        message_aliases,
        leads,
        orders,
        canned_replies,
        conversations,
        contacts,
        notes,
        workspace,
        conflicts,
        unreadable_entries,
        shadows,
    ):
        conn.execute(delete(table))
    search_index.clear(conn)
