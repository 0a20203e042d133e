"""Export rows of leads, orders (one per order, or one per item), payments and contacts, with
the screens' filters. Money goes out twice: as the amount people read (``1499.50``, no
grouping) and in minor units, with its currency."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection

from inboop_tui.domain.money import plain_amount
from inboop_tui.store.selling_queries import (
    LeadFilter,
    LeadRow,
    OrderFilter,
    OrderRow,
    find_contacts,
    find_leads,
    find_orders,
)

PAGE = 1000

LEAD_COLUMNS = (
    "lead_id",
    "status",
    "customer",
    "channel",
    "conversation_id",
    "value",
    "value_minor",
    "currency",
    "assignee",
    "notes",
    "created_at",
    "created_by",
    "closed_at",
    "close_reason",
    "order_count",
    "metadata",
)
ORDER_COLUMNS = (
    "order_number",
    "order_id",
    "status",
    "customer",
    "channel",
    "conversation_id",
    "lead_id",
    "items",
    "total",
    "total_minor",
    "currency",
    "payment_method",
    "payment_provider",
    "payment_status",
    "shipping_address",
    "region",
    "tracking_number",
    "notes",
    "assignee",
    "created_at",
    "created_by",
    "shipped_at",
    "delivered_at",
    "paid_at",
    "warnings",
    "metadata",
)
ITEM_COLUMNS = (
    "order_number",
    "order_id",
    "status",
    "customer",
    "item",
    "retailer_id",
    "quantity",
    "unit_price",
    "unit_price_minor",
    "line_total",
    "line_total_minor",
    "currency",
    "payment_status",
    "created_at",
)
PAYMENT_COLUMNS = (
    "order_number",
    "order_id",
    "customer",
    "channel",
    "status",
    "payment_method",
    "payment_provider",
    "payment_status",
    "total",
    "total_minor",
    "currency",
    "paid_at",
    "delivered_unpaid",
    "created_at",
)
CONTACT_COLUMNS = (
    "contact_id",
    "name",
    "channel",
    "handle",
    "phone",
    "email",
    "merged_into",
    "conversation_id",
    "notes",
    "metadata",
)


def _paged(fetch: Callable[[int], list[Any]]) -> Iterator[Any]:
    offset = 0
    while True:
        page = fetch(offset)
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def lead_rows(conn: Connection, f: LeadFilter) -> Iterator[dict[str, Any]]:
    for row in _paged(lambda offset: find_leads(conn, f, PAGE, offset)):
        yield _lead(row)


def _lead(row: LeadRow) -> dict[str, Any]:
    has_value = row.value_amount is not None and row.value_currency is not None
    return {
        "lead_id": row.id,
        "status": row.status,
        "customer": row.customer,
        "channel": row.channel,
        "conversation_id": row.conversation_id,
        "value": plain_amount(row.value_amount, row.value_currency) if has_value else "",  # type: ignore[arg-type]
        "value_minor": row.value_amount,
        "currency": row.value_currency or "",
        "assignee": row.assignee or "",
        "notes": row.notes,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "closed_at": row.closed_at or "",
        "close_reason": row.close_reason or "",
        "order_count": row.order_count,
        "metadata": json.dumps(row.metadata, ensure_ascii=False) if row.metadata else "",
    }


def order_rows(conn: Connection, f: OrderFilter) -> Iterator[dict[str, Any]]:
    for row in _paged(lambda offset: find_orders(conn, f, PAGE, offset)):
        yield _order(row)


def _order(row: OrderRow) -> dict[str, Any]:
    return {
        "order_number": row.number or "",
        "order_id": row.id,
        "status": row.status,
        "customer": row.customer,
        "channel": row.channel,
        "conversation_id": row.conversation_id,
        "lead_id": row.lead_id or "",
        "items": row.item_summary,
        "total": plain_amount(row.total, row.currency),
        "total_minor": row.total,
        "currency": row.currency,
        "payment_method": row.payment_method,
        "payment_provider": row.payment_provider or "",
        "payment_status": row.payment_status,
        "shipping_address": row.shipping_address,
        "region": row.region or "",
        "tracking_number": row.tracking_number or "",
        "notes": row.notes,
        "assignee": row.assignee or "",
        "created_at": row.created_at,
        "created_by": row.created_by,
        "shipped_at": row.shipped_at or "",
        "delivered_at": row.delivered_at or "",
        "paid_at": row.paid_at or "",
        "warnings": " | ".join(row.warnings),
        "metadata": json.dumps(row.metadata, ensure_ascii=False) if row.metadata else "",
    }


def item_rows(conn: Connection, f: OrderFilter) -> Iterator[dict[str, Any]]:
    for row in _paged(lambda offset: find_orders(conn, f, PAGE, offset)):
        for item in row.items:
            line = item["quantity"] * item["unit_price"]
            yield {
                "order_number": row.number or "",
                "order_id": row.id,
                "status": row.status,
                "customer": row.customer,
                "item": item["name"],
                "retailer_id": item.get("retailer_id") or "",
                "quantity": item["quantity"],
                "unit_price": plain_amount(item["unit_price"], row.currency),
                "unit_price_minor": item["unit_price"],
                "line_total": plain_amount(line, row.currency),
                "line_total_minor": line,
                "currency": row.currency,
                "payment_status": row.payment_status,
                "created_at": row.created_at,
            }


def payment_rows(conn: Connection, f: OrderFilter) -> Iterator[dict[str, Any]]:
    for row in _paged(lambda offset: find_orders(conn, f, PAGE, offset)):
        yield {
            "order_number": row.number or "",
            "order_id": row.id,
            "customer": row.customer,
            "channel": row.channel,
            "status": row.status,
            "payment_method": row.payment_method,
            "payment_provider": row.payment_provider or "",
            "payment_status": row.payment_status,
            "total": plain_amount(row.total, row.currency),
            "total_minor": row.total,
            "currency": row.currency,
            "paid_at": row.paid_at or "",
            "delivered_unpaid": row.flagged,
            "created_at": row.created_at,
        }


def contact_rows(conn: Connection, search: str) -> Iterator[dict[str, Any]]:
    for row in find_contacts(conn, search, limit=10_000_000):
        yield {
            "contact_id": row.id,
            "name": row.name,
            "channel": row.channel,
            "handle": row.handle,
            "phone": row.phone or "",
            "email": row.email or "",
            "merged_into": row.merged_into or "",
            "conversation_id": row.conversation_id,
            "notes": row.notes,
            "metadata": json.dumps(row.metadata, ensure_ascii=False) if row.metadata else "",
        }
