"""CSV and JSON-lines exports of conversations, messages, leads, orders (or their items),
payments and contacts. Read-only, streamed row by row.

The file is written beside its final name and renamed at the end, so a failed export never
leaves half a file under the name asked for.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Select, case, func, select
from sqlalchemy.exc import DBAPIError

from inboop_tui.store import selling_export
from inboop_tui.store.db import driver_rows, explain
from inboop_tui.store.paths import private_folder
from inboop_tui.store.selling_queries import LeadFilter, OrderFilter
from inboop_tui.store.tables import contacts, conversations, messages

FORMULA_SIGNS = ("=", "+", "-", "@")


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


def neutralise(text: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe; NUL bytes, which
    cut a cell short in some readers, become U+FFFD. Every other character is kept.

    Spreadsheets skip blanks, line breaks and invisible characters (zero-width spaces, a BOM)
    before the sign, and some read the full-width and small forms (U+FF1D, U+FE62) as the ASCII sign,
    so those count as a formula's start too.
    """
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text or text[0].isalnum():
        return text
    if text[0] in "\t\r" or _opens_formula(text):
        return "'" + text
    return text


def _opens_formula(text: str) -> bool:
    for ch in text:
        if unicodedata.normalize("NFKC", ch) in FORMULA_SIGNS:
            return True
        if not (ch.isspace() or unicodedata.category(ch) == "Cf"):
            return False
    return False


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
            messages.c.channel_message_id,
            messages.c.direction,
            messages.c.sender_type,
            messages.c.content_type,
            # An unsent message keeps its row; its text is not repeated.
            case(
                (messages.c.is_deleted.is_(True), ""),
                else_=func.coalesce(messages.c.edit_text, messages.c.original_text, ""),
            ),
            messages.c.attachments,
            func.coalesce(messages.c.reply_to, ""),
            messages.c.sent_at,
            func.coalesce(messages.c.delivery_status, ""),
            messages.c.edit_key.is_not(None),
            messages.c.is_deleted,
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


def _customer_names(f: ExportFilter) -> Select[Any]:
    """Each conversation's customer as a message row names them: looked up in a dict per
    message, which is cheaper than joining two tables per message in SQL."""
    query = select(
        conversations.c.id,
        func.coalesce(func.nullif(contacts.c.name, ""), conversations.c.customer_id),
    ).select_from(conversations.outerjoin(contacts, contacts.c.id == conversations.c.contact_id))
    if f.channel:
        query = query.where(conversations.c.channel == f.channel)
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

# The columns of the two big exports that hold text from outside (customers, agents, the
# channels): only these go through the formula guard. The rest are our own ids, enums,
# timestamps, counts and flags.
WRITTEN: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.CONVERSATIONS: (
        "account_id",
        "customer_id",
        "customer_name",
        "customer_handle",
        "assignee",
        "metadata",
    ),
    ExportKind.MESSAGES: ("customer_name", "channel_message_id", "text", "attachments", "reply_to"),
}
FLAGS: dict[ExportKind, tuple[str, ...]] = {ExportKind.MESSAGES: ("is_edited", "is_deleted")}

_SELLING: dict[ExportKind, Callable[[Connection, ExportFilter], Iterator[dict[str, Any]]]] = {
    ExportKind.LEADS: lambda conn, f: selling_export.lead_rows(conn, f.leads),
    ExportKind.ORDERS: lambda conn, f: selling_export.order_rows(conn, f.orders),
    ExportKind.ORDER_ITEMS: lambda conn, f: selling_export.item_rows(conn, f.orders),
    ExportKind.PAYMENTS: lambda conn, f: selling_export.payment_rows(conn, f.orders),
    ExportKind.CONTACTS: lambda conn, f: selling_export.contact_rows(conn, f.search),
}


def rows(conn: Connection, kind: ExportKind, f: ExportFilter) -> Iterator[tuple[Any, ...]]:
    """Export rows as tuples in ``COLUMNS[kind]`` order, streamed from the database.

    Conversations and messages come straight from the driver's cursor: at a million messages,
    building a dict and a SQLAlchemy row per message cost more than reading and writing it."""
    if kind is ExportKind.CONVERSATIONS:
        for (
            cid,
            channel,
            account,
            customer,
            name,
            username,
            status,
            assignee,
            first,
            last,
            inbound,
            count,
            metadata,
        ) in driver_rows(conn, _conversations(f)):
            yield (
                cid,
                channel,
                account,
                customer,
                name or "",
                username or customer,
                status,
                assignee or "",
                first,
                last,
                inbound or "",
                count,
                "" if metadata == "{}" else metadata,
            )
    elif kind is ExportKind.MESSAGES:
        names = dict(driver_rows(conn, _customer_names(f)))
        for (
            cid,
            channel,
            mid,
            direction,
            sender,
            content,
            text,
            attachments,
            reply_to,
            sent_at,
            delivery,
            edited,
            deleted,
        ) in driver_rows(conn, _messages(f)):
            yield (
                cid,
                channel,
                names.get(cid, ""),
                mid,
                direction,
                sender,
                content,
                text,
                "" if attachments == "[]" else _attachment_names(attachments),
                reply_to,
                sent_at,
                delivery,
                edited == 1,
                deleted == 1,
            )
    else:
        columns = COLUMNS[kind]
        for row in _SELLING[kind](conn, f):
            yield tuple(row[c] for c in columns)


def _attachment_names(attachments: str) -> str:
    return " ".join(a.get("url") or a.get("media_id") or a["type"] for a in json.loads(attachments))


def export(
    conn: Connection,
    kind: ExportKind,
    out: Path,
    *,
    fmt: ExportFormat = ExportFormat.CSV,
    f: ExportFilter = ExportFilter(),
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the export to ``out``; returns the number of rows. It reads in one transaction,
    so a sync committing meanwhile is either all in it or not at all. A database that fails
    part-way is a ReplicaError that says what to do; the file asked for is left untouched."""
    columns = COLUMNS[kind]
    private_folder(out.parent)
    partial = out.with_name(out.name + ".partial")
    written = 0
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # customer data
        with open(fd, "w", newline="", encoding="utf-8") as handle, _snapshot(conn):
            put = _row_writer(handle, fmt, kind, columns)
            for row in rows(conn, kind, f):
                put(row)
                written += 1
                if progress is not None and written % 5000 == 0:
                    progress(written)
        os.replace(partial, out)
    except (DBAPIError, sqlite3.Error) as exc:
        raise explain(exc, Path(conn.engine.url.database or "")) from exc
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(written)
    return written


def _row_writer(
    handle: TextIO, fmt: ExportFormat, kind: ExportKind, columns: tuple[str, ...]
) -> Callable[[tuple[Any, ...]], object]:
    if fmt is ExportFormat.JSONL:

        def put_line(row: tuple[Any, ...]) -> object:
            line = json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False)
            return handle.write(line + "\n")

        return put_line
    writer = csv.writer(handle)
    writer.writerow(columns)
    cells = _csv_cells(kind, columns)

    def put_row(row: tuple[Any, ...]) -> object:
        return writer.writerow(cells(row))

    return put_row


@contextmanager
def _snapshot(conn: Connection) -> Iterator[None]:
    if conn.in_transaction():
        yield
        return
    with conn.begin():
        yield


def _csv_cells(
    kind: ExportKind, columns: tuple[str, ...]
) -> Callable[[tuple[Any, ...]], list[Any]]:
    """A row's CSV cells: ``true``/``false`` for flags, empty for nothing, and text from outside
    through the formula guard. The two big exports name their text and flag columns, so the
    guard skips our own ids, enums and times; the selling exports check every cell."""
    if kind not in WRITTEN:
        return lambda row: [_csv_value(value) for value in row]
    text = [columns.index(c) for c in WRITTEN[kind]]
    flags = [columns.index(c) for c in FLAGS.get(kind, ())]

    def cells(row: tuple[Any, ...]) -> list[Any]:
        found = list(row)
        for i in text:
            found[i] = neutralise(found[i])
        for i in flags:
            found[i] = "true" if found[i] else "false"
        return found

    return cells


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return neutralise(value)
    return "" if value is None else value
