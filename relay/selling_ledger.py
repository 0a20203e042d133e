"""The log's named selling entries: ``OrderCreated``, ``LeadConverted``, ``OrderDelivered``.

When a selling mutation is appended, the relay follows the same rules the replicas apply
(``relay.protocol.selling``: one NEW lead per conversation, the fulfilment transitions, the Nth
accepted order is ORD-(1000+N)) on a small ledger of statuses, and appends a named entry right
after the mutation for what really happened. Later versions publish these to outbound webhooks
without touching any workflow. The ledger never refuses anything: replicas decide validity.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from relay.protocol import (
    FULFILMENT_NEXT,
    CloseLead,
    CreateLead,
    CreateOrder,
    DomainEvent,
    LeadConverted,
    Mutation,
    OrderCreated,
    OrderDelivered,
    SetOrderStatus,
    order_number,
)
from relay.store.tables import selling_ledger as ledger


def named_entries(conn: Connection, mutation: Mutation) -> list[DomainEvent]:
    """Follow one appended mutation on the ledger; the named entries it makes, in order."""
    if isinstance(mutation, CreateLead):
        return _create_lead(conn, mutation)
    if isinstance(mutation, CloseLead):
        _set(conn, mutation.payload.lead_id, "lead", "NEW", mutation.payload.status)
        return []
    if isinstance(mutation, CreateOrder):
        return _create_order(conn, mutation)
    if isinstance(mutation, SetOrderStatus):
        return _order_status(conn, mutation)
    return []


def _create_lead(conn: Connection, mutation: CreateLead) -> list[DomainEvent]:
    p = mutation.payload
    if _row(conn, p.lead_id) is not None:
        return []
    conn.execute(
        update(ledger)
        .where(
            ledger.c.kind == "lead",
            ledger.c.conversation_id == p.conversation_id,
            ledger.c.status == "NEW",
        )
        .values(status="CLOSED")
    )
    conn.execute(
        insert(ledger).values(
            id=p.lead_id, kind="lead", conversation_id=p.conversation_id, status="NEW"
        )
    )
    return []


def _create_order(conn: Connection, mutation: CreateOrder) -> list[DomainEvent]:
    p = mutation.payload
    if _row(conn, p.order_id) is not None:
        return []  # an id taken already takes no number, on the replicas too
    count = conn.execute(
        select(func.count()).select_from(ledger).where(ledger.c.kind == "order")
    ).scalar_one()
    number = order_number(int(count) + 1)
    conn.execute(
        insert(ledger).values(
            id=p.order_id,
            kind="order",
            conversation_id=p.conversation_id,
            status="NEW",
            number=number,
        )
    )
    found: list[DomainEvent] = [
        OrderCreated(
            order_id=p.order_id,
            number=number,
            conversation_id=p.conversation_id,
            lead_id=p.lead_id,
            mutation_id=mutation.id,
        )
    ]
    lead = _row(conn, p.lead_id) if p.lead_id else None
    if lead is not None and lead.conversation_id == p.conversation_id and lead.status == "NEW":
        _set(conn, lead.id, "lead", "NEW", "CONVERTED")
        found.append(
            LeadConverted(
                lead_id=lead.id,
                order_id=p.order_id,
                conversation_id=p.conversation_id,
                mutation_id=mutation.id,
            )
        )
    return found


def _order_status(conn: Connection, mutation: SetOrderStatus) -> list[DomainEvent]:
    p = mutation.payload
    order = _row(conn, p.order_id)
    if order is None or p.status not in FULFILMENT_NEXT.get(order.status, ()):
        return []
    _set(conn, order.id, "order", order.status, p.status)
    if p.status != "DELIVERED":
        return []
    return [
        OrderDelivered(
            order_id=order.id,
            number=order.number,
            conversation_id=order.conversation_id,
            mutation_id=mutation.id,
        )
    ]


def _row(conn: Connection, entity_id: str) -> Row[Any] | None:
    return conn.execute(select(ledger).where(ledger.c.id == entity_id)).first()


def _set(conn: Connection, entity_id: str, kind: str, was: str, status: str) -> None:
    conn.execute(
        update(ledger)
        .where(ledger.c.id == entity_id, ledger.c.kind == kind, ledger.c.status == was)
        .values(status=status)
    )
