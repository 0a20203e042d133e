"""What the screens read, as plain data. Lists are windows (offset/limit), never whole tables."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Integer, String, and_, column, false, func, or_, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Select

from inboop_tui.store.tables import (
    contacts,
    conversation_views,
    conversations,
    messages,
    sync_runs,
    sync_state,
)

THREAD_LIMIT = 500


@dataclass(frozen=True)
class InboxFilter:
    """Plain, serialisable values, so saved views can come later."""

    channel: str | None = None
    unread_only: bool = False
    search: str | None = None


@dataclass(frozen=True)
class ConversationRow:
    id: str
    channel: str
    customer_id: str
    name: str | None
    username: str | None
    preview: str | None
    preview_direction: str | None
    last_message_at: str | None
    last_inbound_at: str | None
    unread: bool
    status: str
    assignee: str | None
    message_count: int

    @property
    def display_name(self) -> str:
        return self.name or self.username or self.customer_id


@dataclass(frozen=True)
class Attachment:
    type: str
    url: str | None = None
    media_id: str | None = None
    caption: str | None = None
    title: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class MessageRow:
    channel_message_id: str
    direction: str
    sender_type: str
    content_type: str
    text: str | None
    original_text: str | None
    edited: bool
    is_deleted: bool
    sent_at: str
    delivery_status: str | None
    delivery_error: str | None
    reactions: dict[str, str]  # side -> emoji, removed reactions left out
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    reply_to: str | None = None
    provider_type: str | None = None


@dataclass(frozen=True)
class SyncStatus:
    cursor: int
    relay_head: int
    last_ok_at: str | None
    last_attempt_at: str | None
    last_error: str | None

    @property
    def offline(self) -> bool:
        return self.last_error is not None


def fts_query(search: str) -> str | None:
    """User text as an FTS5 query: every word must match, as a prefix; no FTS syntax leaks in."""
    words = re.findall(r"[\w@.+-]+", search, flags=re.UNICODE)
    terms = []
    for word in words:
        cleaned = word.replace('"', "")
        if cleaned.strip(".+-@"):
            terms.append(f'"{cleaned}"*')
    return " ".join(terms) or None


def _unread() -> Any:
    return and_(
        conversations.c.last_inbound_at.is_not(None),
        or_(
            conversation_views.c.last_viewed_at.is_(None),
            conversations.c.last_inbound_at > conversation_views.c.last_viewed_at,
        ),
    )


def _filtered(columns: list[Any], f: InboxFilter) -> Select[Any]:
    """The conversations a filter keeps; joins only what the filter needs."""
    source: Any = conversations
    if f.unread_only:
        source = source.outerjoin(
            conversation_views, conversation_views.c.conversation_id == conversations.c.id
        )
    query = (
        select(*columns).select_from(source).where(conversations.c.last_message_key.is_not(None))
    )
    if f.channel:
        query = query.where(conversations.c.channel == f.channel)
    if f.unread_only:
        query = query.where(_unread())
    match = fts_query(f.search) if f.search else None
    if f.search and match is None:
        return query.where(false())
    if match:
        by_person = text(
            "SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH :q"
        ).columns(column("rowid", Integer))
        by_text = text(
            "SELECT m.conversation_id FROM messages_fts f JOIN messages m ON m.pk = f.rowid WHERE messages_fts MATCH :q"
        ).columns(column("conversation_id", String))
        query = query.where(
            or_(
                conversations.c.pk.in_(select(by_person.subquery().c.rowid)),
                conversations.c.id.in_(select(by_text.subquery().c.conversation_id)),
            )
        ).params(q=match)
    return query


def _with_details(keys: Any) -> Select[Any]:
    """Row columns for the conversations in ``keys`` (a subquery with ``pk``)."""
    return select(*_row_columns()).select_from(
        keys.join(conversations, conversations.c.pk == keys.c.pk)
        .outerjoin(contacts, contacts.c.id == conversations.c.contact_id)
        .outerjoin(conversation_views, conversation_views.c.conversation_id == conversations.c.id)
    )


def count_conversations(conn: Connection, f: InboxFilter) -> int:
    return int(conn.execute(_filtered([func.count()], f)).scalar_one())


def _row_columns() -> list[Any]:
    return [
        conversations.c.id,
        conversations.c.channel,
        conversations.c.customer_id,
        contacts.c.name,
        contacts.c.username,
        conversations.c.preview,
        conversations.c.preview_direction,
        conversations.c.last_message_at,
        conversations.c.last_inbound_at,
        _unread().label("unread"),
        conversations.c.status,
        conversations.c.assignee,
        conversations.c.message_count,
    ]


def _rows(conn: Connection, query: Select[Any]) -> list[ConversationRow]:
    return [
        ConversationRow(**{**row, "unread": bool(row["unread"])})
        for row in conn.execute(query).mappings()
    ]


def conversation_window(
    conn: Connection, f: InboxFilter, offset: int, limit: int
) -> list[ConversationRow]:
    # Page over the bare index first, then join details for just the rows of the page.
    page = (
        _filtered([conversations.c.pk, conversations.c.last_message_key.label("key")], f)
        .order_by(conversations.c.last_message_key.desc())
        .offset(offset)
        .limit(limit)
        .subquery("page")
    )
    return _rows(conn, _with_details(page).order_by(page.c.key.desc()))


def conversation(conn: Connection, conversation_id: str) -> ConversationRow | None:
    keys = select(conversations.c.pk).where(conversations.c.id == conversation_id).subquery("one")
    rows = _rows(conn, _with_details(keys))
    return rows[0] if rows else None


def thread(conn: Connection, conversation_id: str, limit: int = THREAD_LIMIT) -> list[MessageRow]:
    """The newest ``limit`` messages of a conversation, oldest first (provider order)."""
    query = (
        select(messages)
        .where(messages.c.conversation_id == conversation_id, messages.c.has_body.is_(True))
        .order_by(messages.c.sent_at.desc(), messages.c.channel_message_id.desc())
        .limit(limit)
    )
    rows = list(conn.execute(query).mappings())
    rows.reverse()
    return [_message_row(row) for row in rows]


def _message_row(row: Any) -> MessageRow:
    reactions = {side: value[1] for side, value in json.loads(row["reactions"]).items() if value[1]}
    return MessageRow(
        channel_message_id=row["channel_message_id"],
        direction=row["direction"],
        sender_type=row["sender_type"],
        content_type=row["content_type"],
        text=row["edit_text"] if row["edit_text"] is not None else row["original_text"],
        original_text=row["original_text"],
        edited=row["edit_key"] is not None,
        is_deleted=bool(row["is_deleted"]),
        sent_at=row["sent_at"],
        delivery_status=row["delivery_status"],
        delivery_error=row["delivery_error"],
        reactions=reactions,
        attachments=tuple(Attachment(**a) for a in json.loads(row["attachments"])),
        reply_to=row["reply_to"],
        provider_type=row["provider_type"],
    )


def mark_viewed(conn: Connection, conversation_id: str, at: str) -> None:
    statement = sqlite_insert(conversation_views).values(
        conversation_id=conversation_id, last_viewed_at=at
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["conversation_id"],
            set_={
                "last_viewed_at": func.max(
                    conversation_views.c.last_viewed_at, statement.excluded.last_viewed_at
                )
            },
        )
    )


def sync_status(conn: Connection) -> SyncStatus:
    state = conn.execute(
        select(sync_state.c.cursor, sync_state.c.relay_head).where(sync_state.c.id == 1)
    ).one()
    last_ok = conn.execute(
        select(func.max(sync_runs.c.finished_at)).where(sync_runs.c.ok.is_(True))
    ).scalar_one()
    last = conn.execute(
        select(sync_runs.c.finished_at, sync_runs.c.ok, sync_runs.c.error)
        .order_by(sync_runs.c.id.desc())
        .limit(1)
    ).first()
    return SyncStatus(
        cursor=int(state.cursor),
        relay_head=int(state.relay_head),
        last_ok_at=last_ok,
        last_attempt_at=last.finished_at if last else None,
        last_error=last.error if last is not None and not last.ok else None,
    )


@dataclass(frozen=True)
class SyncRun:
    started_at: str
    finished_at: str | None
    ok: bool
    pulled: int
    cursor: int
    error: str | None


def recent_sync_runs(conn: Connection, limit: int = 20) -> list[SyncRun]:
    rows = conn.execute(
        select(
            sync_runs.c.started_at,
            sync_runs.c.finished_at,
            sync_runs.c.ok,
            sync_runs.c.pulled,
            sync_runs.c.cursor,
            sync_runs.c.error,
        )
        .order_by(sync_runs.c.id.desc())
        .limit(limit)
    ).all()
    return [SyncRun(*row) for row in rows]
