"""CSV and JSON-lines exports of conversations, messages, leads, orders (or their items),
payments and contacts. Read-only, streamed row by row.

The file is written beside its final name and renamed at the end, so a failed export never
leaves half a file under the name asked for.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, func, select

from inboop_tui.store import selling_export
from inboop_tui.store.selling_queries import LeadFilter, OrderFilter, count_leads, count_orders
from inboop_tui.store.tables import contacts, conversations, messages

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportKind(StrEnum):
    CONVERSATIONS = "conversations"
    MESSAGES = "messages"
    LEADS = "leads"
    ORDERS = "orders"
    ORDER_ITEMS = "order-items"  # one row per item
    PAYMENTS = "payments"
    CONTACTS = "contacts"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass(frozen=True)
class ExportFilter:
    channel: str | None = None
    since: str | None = None  # ISO-8601 UTC, inclusive
    until: str | None = None  # ISO-8601 UTC, exclusive
    leads: LeadFilter = field(default_factory=LeadFilter)  # the Leads screen's filters
    orders: OrderFilter = field(default_factory=OrderFilter)  # orders, items and payments
    search: str = ""  # contacts


CONVERSATION_COLUMNS = (
    "conversation_id",
    "channel",
    "account_id",
    "customer_id",
    "customer_name",
    "customer_handle",
    "status",
    "assignee",
    "first_message_at",
    "last_message_at",
    "last_inbound_at",
    "message_count",
    "metadata",
)

MESSAGE_COLUMNS = (
    "conversation_id",
    "channel",
    "customer_name",
    "channel_message_id",
    "direction",
    "sender_type",
    "content_type",
    "text",
    "attachments",
    "reply_to",
    "sent_at",
    "delivery_status",
    "is_edited",
    "is_deleted",
)


def neutralise(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _conversations(f: ExportFilter) -> Select[Any]:
    query = (
        select(
            conversations.c.id,
            conversations.c.channel,
            conversations.c.account_id,
            conversations.c.customer_id,
            contacts.c.name,
            contacts.c.username,
            conversations.c.status,
            conversations.c.assignee,
            conversations.c.first_message_at,
            conversations.c.last_message_at,
            conversations.c.last_inbound_at,
            conversations.c.message_count,
            conversations.c.metadata,
        )
        .select_from(conversations.outerjoin(contacts, contacts.c.id == conversations.c.contact_id))
        .where(conversations.c.message_count > 0)
        .order_by(conversations.c.last_message_key.desc())
    )
    if f.channel:
        query = query.where(conversations.c.channel == f.channel)
    if f.since:
        query = query.where(conversations.c.last_message_at >= f.since)
    if f.until:
        query = query.where(conversations.c.last_message_at < f.until)
    return query


def _messages(f: ExportFilter) -> Select[Any]:
    query = (
        select(
            messages.c.conversation_id,
            messages.c.channel,
            contacts.c.name,
            conversations.c.customer_id,
            messages.c.channel_message_id,
            messages.c.direction,
            messages.c.sender_type,
            messages.c.content_type,
            func.coalesce(messages.c.edit_text, messages.c.original_text).label("text"),
            messages.c.attachments,
            messages.c.reply_to,
            messages.c.sent_at,
            messages.c.delivery_status,
            messages.c.edit_key.is_not(None).label("is_edited"),
            messages.c.is_deleted,
        )
        .select_from(
            messages.join(
                conversations, conversations.c.id == messages.c.conversation_id
            ).outerjoin(contacts, contacts.c.id == conversations.c.contact_id)
        )
        .where(messages.c.has_body.is_(True))
        .order_by(messages.c.sent_at, messages.c.channel_message_id)
    )
    if f.channel:
        query = query.where(messages.c.channel == f.channel)
    if f.since:
        query = query.where(messages.c.sent_at >= f.since)
    if f.until:
        query = query.where(messages.c.sent_at < f.until)
    return query


COLUMNS: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.CONVERSATIONS: CONVERSATION_COLUMNS,
    ExportKind.MESSAGES: MESSAGE_COLUMNS,
    ExportKind.LEADS: selling_export.LEAD_COLUMNS,
    ExportKind.ORDERS: selling_export.ORDER_COLUMNS,
    ExportKind.ORDER_ITEMS: selling_export.ITEM_COLUMNS,
    ExportKind.PAYMENTS: selling_export.PAYMENT_COLUMNS,
    ExportKind.CONTACTS: selling_export.CONTACT_COLUMNS,
}


def rows(conn: Connection, kind: ExportKind, f: ExportFilter) -> Iterator[dict[str, Any]]:
    """Export rows as plain dicts, streamed from the database."""
    if kind is ExportKind.LEADS:
        yield from selling_export.lead_rows(conn, f.leads)
        return
    if kind is ExportKind.ORDERS:
        yield from selling_export.order_rows(conn, f.orders)
        return
    if kind is ExportKind.ORDER_ITEMS:
        yield from selling_export.item_rows(conn, f.orders)
        return
    if kind is ExportKind.PAYMENTS:
        yield from selling_export.payment_rows(conn, f.orders)
        return
    if kind is ExportKind.CONTACTS:
        yield from selling_export.contact_rows(conn, f.search)
        return
    streamed = conn.execution_options(yield_per=2000)
    if kind is ExportKind.CONVERSATIONS:
        for r in streamed.execute(_conversations(f)):
            yield {
                "conversation_id": r.id,
                "channel": r.channel,
                "account_id": r.account_id,
                "customer_id": r.customer_id,
                "customer_name": r.name or "",
                "customer_handle": r.username or r.customer_id,
                "status": r.status,
                "assignee": r.assignee or "",
                "first_message_at": r.first_message_at,
                "last_message_at": r.last_message_at,
                "last_inbound_at": r.last_inbound_at or "",
                "message_count": r.message_count,
                "metadata": "" if r.metadata == "{}" else r.metadata,
            }
    else:
        for r in streamed.execute(_messages(f)):
            attachments = json.loads(r.attachments)
            yield {
                "conversation_id": r.conversation_id,
                "channel": r.channel,
                "customer_name": r.name or r.customer_id,
                "channel_message_id": r.channel_message_id,
                "direction": r.direction,
                "sender_type": r.sender_type,
                "content_type": r.content_type,
                # An unsent message keeps its row; its text is not repeated.
                "text": "" if r.is_deleted else (r.text or ""),
                "attachments": " ".join(
                    a.get("url") or a.get("media_id") or a["type"] for a in attachments
                ),
                "reply_to": r.reply_to or "",
                "sent_at": r.sent_at,
                "delivery_status": r.delivery_status or "",
                "is_edited": bool(r.is_edited),
                "is_deleted": bool(r.is_deleted),
            }


def count(conn: Connection, kind: ExportKind, f: ExportFilter) -> int:
    if kind is ExportKind.LEADS:
        return count_leads(conn, f.leads)
    if kind in (ExportKind.ORDERS, ExportKind.PAYMENTS):
        return count_orders(conn, f.orders)
    if kind in (ExportKind.ORDER_ITEMS, ExportKind.CONTACTS):
        return sum(1 for _ in rows(conn, kind, f))
    query = _conversations(f) if kind is ExportKind.CONVERSATIONS else _messages(f)
    return int(
        conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    )


def export(
    conn: Connection,
    kind: ExportKind,
    out: Path,
    *,
    fmt: ExportFormat = ExportFormat.CSV,
    f: ExportFilter = ExportFilter(),
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the export to ``out``; returns the number of rows."""
    columns = COLUMNS[kind]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    written = 0
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            if fmt is ExportFormat.CSV:
                writer = csv.writer(handle)
                writer.writerow(columns)
                for row in rows(conn, kind, f):
                    writer.writerow([neutralise(_csv_value(row[c])) for c in columns])
                    written += 1
                    if progress is not None and written % 5000 == 0:
                        progress(written)
            else:
                for row in rows(conn, kind, f):
                    handle.write(
                        json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n"
                    )
                    written += 1
                    if progress is not None and written % 5000 == 0:
                        progress(written)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(written)
    return written


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value
