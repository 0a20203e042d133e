"""Reads for the Leads, Orders and Payments screens, the contact panel, the CLI and exports.

Filters are plain, serialisable values (saved views can come later). Lists are newest first.
The customer is shown as the team named them, else as the channel did (``contacts``; a contact
merged into another shows the other's name).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from inboop_tui.store.tables import contacts, conversations, leads, messages, orders, workspace

if TYPE_CHECKING:
    from inboop_tui.domain.selling import PaymentConfig

_root = contacts.alias("root")


def _customer() -> ColumnElement[Any]:
    return func.coalesce(
        _root.c.agent_name,
        contacts.c.agent_name,
        contacts.c.name,
        contacts.c.username,
        conversations.c.customer_id,
    )


def _with_customer(source: Any) -> Any:
    return (
        source.join(conversations, conversations.c.id == source.c.conversation_id)
        .outerjoin(contacts, contacts.c.id == conversations.c.contact_id)
        .outerjoin(_root, _root.c.id == contacts.c.merged_into)
    )


def _like(text: str) -> str:
    text = re.sub("[\ud800-\udfff]", "\ufffd", text)  # a lone surrogate cannot be stored text
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- leads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilter:
    status: str | None = None  # NEW | CONVERTED | LOST | CLOSED
    assignee: str | None = None  # a user name, "unassigned", or None for anyone
    created_from: str | None = None  # ISO date or time, inclusive
    created_to: str | None = None  # ISO date or time, inclusive (a date: the whole day)
    has_orders: bool | None = None
    search: str = ""  # customer or notes


@dataclass(frozen=True)
class LeadRow:
    id: str
    conversation_id: str
    channel: str
    customer: str
    status: str
    assignee: str | None
    value_amount: int | None
    value_currency: str | None
    notes: str
    created_at: str
    created_by: str
    closed_at: str | None
    close_reason: str | None
    order_id: str | None
    order_count: int
    metadata: dict[str, str]
    pending: bool

    @property
    def short(self) -> str:
        return self.id[:8]


def _until(value: str) -> str:
    """An inclusive upper bound: a bare date means the end of that day."""
    return value + "T23:59:59.999Z" if len(value) == 10 else value


def _lead_query(f: LeadFilter) -> Select[Any]:
    order_count = (
        select(func.count())
        .select_from(orders)
        .where(orders.c.lead_id == leads.c.id)
        .scalar_subquery()
    )
    query = select(
        leads.c.id,
        leads.c.conversation_id,
        leads.c.channel,
        _customer().label("customer"),
        leads.c.status,
        leads.c.assignee,
        leads.c.value_amount,
        leads.c.value_currency,
        leads.c.notes,
        leads.c.created_at,
        leads.c.created_by,
        leads.c.closed_at,
        leads.c.close_reason,
        leads.c.order_id,
        order_count.label("order_count"),
        leads.c.metadata,
        leads.c.seq,
    ).select_from(_with_customer(leads))
    if f.status:
        query = query.where(leads.c.status == f.status.upper())
    if f.assignee == "unassigned":
        query = query.where(leads.c.assignee.is_(None))
    elif f.assignee:
        query = query.where(leads.c.assignee == f.assignee)
    if f.created_from:
        query = query.where(leads.c.created_at >= f.created_from)
    if f.created_to:
        query = query.where(leads.c.created_at <= _until(f.created_to))
    if f.has_orders is not None:
        query = query.where((order_count > 0) if f.has_orders else (order_count == 0))
    if f.search.strip():
        pattern = _like(f.search.strip())
        query = query.where(
            or_(_customer().ilike(pattern, escape="\\"), leads.c.notes.ilike(pattern, escape="\\"))
        )
    return query


def find_leads(conn: Connection, f: LeadFilter, limit: int = 500, offset: int = 0) -> list[LeadRow]:
    query = _lead_query(f).order_by(leads.c.created_at.desc(), leads.c.id).limit(limit)
    return [_lead_row(row) for row in conn.execute(query.offset(offset)).mappings()]


def count_leads(conn: Connection, f: LeadFilter) -> int:
    return int(
        conn.execute(select(func.count()).select_from(_lead_query(f).subquery())).scalar_one()
    )


def lead(conn: Connection, lead_id: str) -> LeadRow | None:
    query = _lead_query(LeadFilter()).where(leads.c.id == lead_id)
    row = conn.execute(query).mappings().first()
    return None if row is None else _lead_row(row)


def _lead_row(row: Any) -> LeadRow:
    values = dict(row)
    values["metadata"] = json.loads(values["metadata"])
    values["pending"] = values.pop("seq") is None
    return LeadRow(**values)


# --- orders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None  # fulfilment
    payment: str | None = None  # UNPAID | PAID | REFUNDED
    method: str | None = None  # ONLINE | COD
    channel: str | None = None
    assignee: str | None = None  # a user name, "unassigned", or None for anyone
    created_from: str | None = None
    created_to: str | None = None
    search: str = ""  # number, customer, item names, tracking
    lead_id: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True)
class OrderRow:
    id: str
    number: str | None
    conversation_id: str
    lead_id: str | None
    channel: str
    customer: str  # the name now
    customer_name: str  # as it was when the order was made
    customer_handle: str
    status: str
    payment_status: str
    payment_method: str
    payment_provider: str | None
    currency: str
    total: int
    items: list[dict[str, Any]]
    shipping_address: str
    region: str | None
    tracking_number: str | None
    notes: str
    assignee: str | None
    created_at: str
    created_by: str
    updated_at: str
    shipped_at: str | None
    delivered_at: str | None
    paid_at: str | None
    warnings: list[str]
    metadata: dict[str, str]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    pending: bool = False

    @property
    def label(self) -> str:
        """``ORD-1004``, or ``pending 3f2a9c1e`` before the log numbered it."""
        return self.number or f"pending {self.id[:8]}"

    @property
    def item_summary(self) -> str:
        return "; ".join(f"{i['quantity']} x {i['name']}" for i in self.items)

    @property
    def flagged(self) -> bool:
        """Delivered but not paid: never a resting state (COD is paid on delivery)."""
        return self.status == "DELIVERED" and self.payment_status == "UNPAID"


_ORDER_COLUMNS = [
    c for c in orders.c if c.name not in ("pk", "seq", "timeline", "items", "warnings", "metadata")
]


def _order_query(f: OrderFilter, *, detail: bool = False) -> Select[Any]:
    extra = [orders.c["items"], orders.c.warnings, orders.c.metadata, orders.c.seq]
    if detail:
        extra.append(orders.c.timeline)
    query = select(*_ORDER_COLUMNS, *extra, _customer().label("customer")).select_from(
        _with_customer(orders)
    )
    conditions: list[Any] = []
    if f.status:
        conditions.append(orders.c.status == f.status.upper())
    if f.payment:
        conditions.append(orders.c.payment_status == f.payment.upper())
    if f.method:
        conditions.append(orders.c.payment_method == f.method.upper())
    if f.channel:
        conditions.append(orders.c.channel == f.channel.upper())
    if f.assignee == "unassigned":
        conditions.append(orders.c.assignee.is_(None))
    elif f.assignee:
        conditions.append(orders.c.assignee == f.assignee)
    if f.created_from:
        conditions.append(orders.c.created_at >= f.created_from)
    if f.created_to:
        conditions.append(orders.c.created_at <= _until(f.created_to))
    if f.lead_id:
        conditions.append(orders.c.lead_id == f.lead_id)
    if f.conversation_id:
        conditions.append(orders.c.conversation_id == f.conversation_id)
    if f.search.strip():
        pattern = _like(f.search.strip())
        conditions.append(
            or_(
                orders.c.number.ilike(pattern, escape="\\"),
                _customer().ilike(pattern, escape="\\"),
                orders.c.customer_name.ilike(pattern, escape="\\"),
                orders.c["items"].ilike(pattern, escape="\\"),
                orders.c.tracking_number.ilike(pattern, escape="\\"),
            )
        )
    return query.where(and_(*conditions)) if conditions else query


def find_orders(
    conn: Connection, f: OrderFilter, limit: int = 500, offset: int = 0
) -> list[OrderRow]:
    query = _order_query(f).order_by(orders.c.created_at.desc(), orders.c.id)
    return [_order_row(r) for r in conn.execute(query.limit(limit).offset(offset)).mappings()]


def count_orders(conn: Connection, f: OrderFilter) -> int:
    inner = _order_query(f).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def order(conn: Connection, order_id: str) -> OrderRow | None:
    query = _order_query(OrderFilter(), detail=True).where(orders.c.id == order_id)
    row = conn.execute(query).mappings().first()
    return None if row is None else _order_row(row)


def _order_row(row: Any) -> OrderRow:
    values = dict(row)
    values["items"] = json.loads(values["items"])
    values["warnings"] = json.loads(values["warnings"])
    values["metadata"] = json.loads(values["metadata"])
    values["timeline"] = json.loads(values.get("timeline") or "[]")
    values["pending"] = values.pop("seq") is None
    return OrderRow(**values)


# --- payments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Total:
    currency: str
    key: str  # a status, a method or a provider ("none")
    count: int
    amount: int


@dataclass(frozen=True)
class PaymentsReport:
    by_status: list[Total]
    by_method: list[Total]
    by_provider: list[Total]
    outstanding_cod: list[OrderRow]  # shipped, cash on delivery, not paid yet
    delivered_unpaid: list[OrderRow]  # delivered ONLINE orders still unpaid: flagged
    unpaid: list[OrderRow]  # every unpaid order that is not cancelled (to mark paid)


def payments_report(conn: Connection) -> PaymentsReport:
    live = orders.c.status != "CANCELLED"

    def totals(column: Any) -> list[Total]:
        key = func.coalesce(column, "none")
        query = (
            select(orders.c.currency, key, func.count(), func.sum(orders.c.total))
            .where(live)
            .group_by(orders.c.currency, key)
            .order_by(orders.c.currency, key)
        )
        return [Total(cur, str(k), int(n), int(a)) for cur, k, n, a in conn.execute(query)]

    def listed(*conditions: Any) -> list[OrderRow]:
        query = _order_query(OrderFilter()).where(*conditions)
        query = query.order_by(orders.c.created_at.desc(), orders.c.id).limit(1000)
        return [_order_row(r) for r in conn.execute(query).mappings()]

    unpaid = orders.c.payment_status == "UNPAID"
    return PaymentsReport(
        by_status=totals(orders.c.payment_status),
        by_method=totals(orders.c.payment_method),
        by_provider=totals(orders.c.payment_provider),
        outstanding_cod=listed(
            unpaid, orders.c.payment_method == "COD", orders.c.status == "SHIPPED"
        ),
        delivered_unpaid=listed(unpaid, orders.c.status == "DELIVERED"),
        unpaid=listed(unpaid, live),
    )


def payment_config(conn: Connection) -> PaymentConfig | None:
    from inboop_tui.domain.selling import PaymentConfig  # with the selling rules' models

    text = conn.execute(select(workspace.c.payment_config).where(workspace.c.id == 1)).scalar()
    return PaymentConfig.from_json(text)


# --- contacts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handle:
    contact_id: str
    channel: str
    customer_id: str
    username: str | None
    name: str | None
    conversation_id: str


@dataclass(frozen=True)
class ContactCard:
    id: str  # the contact the team edits (a merged one leads to the one it joined)
    name: str
    phone: str | None
    email: str | None
    notes: str
    metadata: dict[str, str]
    handles: list[Handle]
    orders: list[OrderRow]
    lifetime_value: dict[str, int]  # PAID orders, per currency
    conversation_metadata: dict[str, str] = field(default_factory=dict)  # the one shown


def contact_card(conn: Connection, conversation_id: str) -> ContactCard | None:
    """The person behind a conversation, with every handle merged into them."""
    own = conn.execute(
        select(contacts.c.id, contacts.c.merged_into)
        .select_from(conversations.join(contacts, contacts.c.id == conversations.c.contact_id))
        .where(conversations.c.id == conversation_id)
    ).first()
    if own is None:
        return None
    root_id = own.merged_into or own.id
    root = conn.execute(select(contacts).where(contacts.c.id == root_id)).mappings().first()
    if root is None:
        return None
    members = conn.execute(
        select(contacts, conversations.c.id.label("conversation_id"))
        .select_from(contacts.join(conversations, conversations.c.contact_id == contacts.c.id))
        .where(or_(contacts.c.id == root_id, contacts.c.merged_into == root_id))
        .order_by(contacts.c.channel, contacts.c.customer_id)
    ).mappings()
    handles = [
        Handle(
            m["id"], m["channel"], m["customer_id"], m["username"], m["name"], m["conversation_id"]
        )
        for m in members
    ]
    conversation_ids = [h.conversation_id for h in handles]
    query = _order_query(OrderFilter()).where(orders.c.conversation_id.in_(conversation_ids))
    found = [
        _order_row(r)
        for r in conn.execute(query.order_by(orders.c.created_at.desc(), orders.c.id)).mappings()
    ]
    lifetime: dict[str, int] = defaultdict(int)
    for o in found:
        if o.payment_status == "PAID":
            lifetime[o.currency] += o.total
    name = root["agent_name"] or root["name"] or root["username"] or root["customer_id"]
    return ContactCard(
        id=root_id,
        name=name,
        phone=root["agent_phone"] or root["phone"],
        email=root["email"],
        notes=root["notes"],
        metadata=json.loads(root["metadata"]),
        handles=handles,
        orders=found,
        lifetime_value=dict(sorted(lifetime.items())),
        conversation_metadata=conversation_metadata(conn, conversation_id),
    )


@dataclass(frozen=True)
class ContactRow:
    id: str
    name: str
    channel: str
    handle: str
    phone: str | None
    email: str | None
    merged_into: str | None
    conversation_id: str
    notes: str
    metadata: dict[str, str]


def find_contacts(conn: Connection, search: str = "", limit: int = 1000) -> list[ContactRow]:
    name = func.coalesce(
        contacts.c.agent_name, contacts.c.name, contacts.c.username, contacts.c.customer_id
    )
    query = select(
        contacts.c.id,
        name.label("name"),
        contacts.c.channel,
        func.coalesce(contacts.c.username, contacts.c.customer_id).label("handle"),
        func.coalesce(contacts.c.agent_phone, contacts.c.phone).label("phone"),
        contacts.c.email,
        contacts.c.merged_into,
        conversations.c.id.label("conversation_id"),
        contacts.c.notes,
        contacts.c.metadata,
    ).select_from(contacts.join(conversations, conversations.c.contact_id == contacts.c.id))
    if search.strip():
        pattern = _like(search.strip())
        query = query.where(
            or_(
                name.ilike(pattern, escape="\\"),
                contacts.c.customer_id.ilike(pattern, escape="\\"),
                contacts.c.username.ilike(pattern, escape="\\"),
                contacts.c.phone.ilike(pattern, escape="\\"),
                contacts.c.agent_phone.ilike(pattern, escape="\\"),
                contacts.c.email.ilike(pattern, escape="\\"),
                contacts.c.notes.ilike(pattern, escape="\\"),
            )
        )
    rows = conn.execute(query.order_by(name, contacts.c.id).limit(limit)).mappings()
    return [ContactRow(**{**dict(r), "metadata": json.loads(r["metadata"])}) for r in rows]


def recent_currency(conn: Connection) -> str | None:
    """The currency of the newest order: the default for the next one."""
    return conn.execute(
        select(orders.c.currency).order_by(orders.c.created_at.desc()).limit(1)
    ).scalar()


def conversation_metadata(conn: Connection, conversation_id: str) -> dict[str, str]:
    text = conn.execute(
        select(conversations.c.metadata).where(conversations.c.id == conversation_id)
    ).scalar()
    return dict(json.loads(text or "{}"))


@dataclass(frozen=True)
class Cart:
    """The newest WhatsApp catalog cart of a conversation: what an order can start from."""

    message_id: str
    sent_at: str
    items: list[dict[str, Any]]  # retailer_id, quantity, item_price (text), currency


def latest_cart(conn: Connection, conversation_id: str) -> Cart | None:
    row = conn.execute(
        select(messages.c.channel_message_id, messages.c.sent_at, messages.c.attachments)
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.content_type == "CART",
            messages.c.has_body.is_(True),
        )
        .order_by(messages.c.sent_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    for attachment in json.loads(row.attachments):
        if attachment.get("type") == "CART":
            return Cart(row.channel_message_id, row.sent_at, list(attachment.get("items") or []))
    return None
