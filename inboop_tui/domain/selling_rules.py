"""The selling mutations applied to a slice, in log order (rules: ``domain.selling``).

Each function returns None when the mutation applied, or the reason it could not (a conflict,
recorded by the caller the same way on every replica).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from inboop_tui.domain.money import format_money
from inboop_tui.domain.reducer import Slice
from inboop_tui.domain.selling import (
    LeadState,
    OrderState,
    PaymentConfig,
    allowed_payments,
    allowed_statuses,
    describe_items,
    items_editable,
    items_json,
    resolve_payment,
    short_id,
    timeline_entry,
    with_metadata,
    with_timeline,
)
from inboop_tui.domain.states import replace
from relay.protocol import format_time
from relay.protocol.selling import (
    CloseLead,
    CreateLead,
    CreateOrder,
    MergeContacts,
    SetConversationMetadata,
    SetOrderPayment,
    SetOrderStatus,
    SetPaymentConfig,
    UpdateContact,
    UpdateLead,
    UpdateOrder,
    order_number,
    order_total,
)

SellingMutation = (
    CreateLead
    | UpdateLead
    | CloseLead
    | CreateOrder
    | UpdateOrder
    | SetOrderStatus
    | SetOrderPayment
    | SetPaymentConfig
    | UpdateContact
    | MergeContacts
    | SetConversationMetadata
)


def apply_selling(s: Slice, mutation: SellingMutation, seq: int | None) -> str | None:
    at = format_time(mutation.client_time)
    if isinstance(mutation, CreateLead):
        return _create_lead(s, mutation, seq, at)
    if isinstance(mutation, UpdateLead | CloseLead):
        return _change_lead(s, mutation, at)
    if isinstance(mutation, CreateOrder):
        return _create_order(s, mutation, seq, at)
    if isinstance(mutation, UpdateOrder | SetOrderStatus | SetOrderPayment):
        return _change_order(s, mutation, seq, at)
    if isinstance(mutation, SetPaymentConfig):
        p = mutation.payload
        config = PaymentConfig(
            enabled_providers=p.enabled_providers,
            default_provider=p.default_provider,
            allow_cod=p.allow_cod,
            cod_regions=p.cod_regions,
        )
        s.workspace = replace(s.workspace, payment_config=config.to_json())
        s.changed_workspace = True
        return None
    if isinstance(mutation, UpdateContact | MergeContacts):
        return _change_contact(s, mutation)
    return _conversation_metadata(s, mutation)


def _create_lead(s: Slice, mutation: CreateLead, seq: int | None, at: str) -> str | None:
    p = mutation.payload
    conv = s.conversations.get(p.conversation_id)
    if conv is None:
        return "the conversation does not exist in this workspace"
    if p.lead_id in s.leads:
        return "a lead with this id exists already"
    if conv.lead_id is not None:
        old = s.leads.get(conv.lead_id)
        if old is not None and old.status == "NEW":
            s.leads[old.id] = replace(
                old,
                status="CLOSED",
                closed_at=at,
                close_reason=f"superseded by lead {short_id(p.lead_id)}",
            )
            s.changed_leads.add(old.id)
    s.leads[p.lead_id] = LeadState(
        id=p.lead_id,
        conversation_id=conv.id,
        channel=conv.channel,
        status="NEW",
        created_at=at,
        created_by=mutation.author,
        assignee=p.assignee,
        value_amount=None if p.value is None else p.value.amount,
        value_currency=None if p.value is None else p.value.currency,
        notes=p.notes,
        metadata=with_metadata("{}", p.metadata),
        seq=seq,
    )
    s.changed_leads.add(p.lead_id)
    _set_conversation(s, conv.id, lead_id=p.lead_id)
    return None


def _change_lead(s: Slice, mutation: UpdateLead | CloseLead, at: str) -> str | None:
    p = mutation.payload
    lead = s.leads.get(p.lead_id)
    if lead is None:
        return f"lead {short_id(p.lead_id)} does not exist in this workspace"
    if lead.status != "NEW":
        return f"lead {short_id(lead.id)} is {lead.status} already: closed leads are read-only"
    if isinstance(mutation, CloseLead):
        c = mutation.payload
        changed = replace(lead, status=c.status, closed_at=at, close_reason=c.reason)
        _drop_current_lead(s, lead)
    else:
        u = mutation.payload
        changes: dict[str, object] = {}
        if u.clear_value:
            changes.update(value_amount=None, value_currency=None)
        elif u.value is not None:
            changes.update(value_amount=u.value.amount, value_currency=u.value.currency)
        if u.notes is not None:
            changes["notes"] = u.notes
        if u.unassign:
            changes["assignee"] = None
        elif u.assignee is not None:
            changes["assignee"] = u.assignee
        if u.metadata:
            changes["metadata"] = with_metadata(lead.metadata, u.metadata)
        changed = replace(lead, **changes)  # type: ignore[arg-type]
    if changed != lead:
        s.leads[lead.id] = changed
        s.changed_leads.add(lead.id)
    return None


def _drop_current_lead(s: Slice, lead: LeadState) -> None:
    conv = s.conversations.get(lead.conversation_id)
    if conv is not None and conv.lead_id == lead.id:
        _set_conversation(s, conv.id, lead_id=None)


def _create_order(s: Slice, mutation: CreateOrder, seq: int | None, at: str) -> str | None:
    p = mutation.payload
    number = None
    if seq is not None:
        # Every order the log accepted takes the next number, even one that cannot apply: the
        # relay counts the same way (its OrderCreated entries carry the number).
        position = s.workspace.orders_created + 1
        s.workspace = replace(s.workspace, orders_created=position)
        s.changed_workspace = True
        number = order_number(position)
    conv = s.conversations.get(p.conversation_id)
    if conv is None:
        return "the conversation does not exist in this workspace"
    if p.order_id in s.orders:
        return "an order with this id exists already"
    config = PaymentConfig.from_json(s.workspace.payment_config)
    payment = resolve_payment(config, p.payment_method.value, p.payment_provider, p.region)
    warnings = list(payment.warnings)
    lead_id = p.lead_id
    if lead_id is not None:
        lead = s.leads.get(lead_id)
        if lead is None or lead.conversation_id != conv.id:
            warnings.append(f"lead {short_id(lead_id)} is not this conversation's: not linked")
            lead_id = None
        elif lead.status != "NEW":
            warnings.append(f"lead {short_id(lead_id)} was {lead.status} already: not linked")
            lead_id = None
        else:
            s.leads[lead.id] = replace(lead, status="CONVERTED", closed_at=at, order_id=p.order_id)
            s.changed_leads.add(lead.id)
            _drop_current_lead(s, lead)
    contact = s.contacts.get(conv.contact_id)
    name = conv.customer_id if contact is None else contact.display_name
    handle = conv.customer_id if contact is None else (contact.username or contact.customer_id)
    total = order_total(p.items)
    paying = payment.method + (f" · {payment.provider}" if payment.provider else "")
    entries = [
        timeline_entry(
            at,
            "CREATED",
            f"created: {describe_items(list(json.loads(items_json(p.items))), p.currency)}; "
            f"total {format_money(total, p.currency)}; {paying}",
            mutation.author,
            p.source.value,
            seq is None,
        )
    ]
    if lead_id is not None:
        entries.append(
            timeline_entry(
                at,
                "LEAD",
                f"converted lead {short_id(lead_id)}",
                mutation.author,
                p.source.value,
                seq is None,
            )
        )
    entries += [
        timeline_entry(at, "WARNING", w, "SYSTEM", p.source.value, seq is None) for w in warnings
    ]
    order = OrderState(
        id=p.order_id,
        number=number,
        conversation_id=conv.id,
        channel=conv.channel,
        customer_name=name,
        customer_handle=handle,
        status="NEW",
        currency=p.currency,
        items=items_json(p.items),
        total=total,
        payment_method=payment.method,
        payment_provider=payment.provider,
        payment_status="UNPAID",
        created_at=at,
        created_by=mutation.author,
        updated_at=at,
        lead_id=lead_id,
        shipping_address=p.shipping_address,
        region=p.region,
        notes=p.notes,
        assignee=p.assignee,
        metadata=with_metadata("{}", p.metadata),
        warnings=json.dumps(warnings, ensure_ascii=False),
        seq=seq,
    )
    s.orders[order.id] = with_timeline(order, *entries)
    s.changed_orders.add(order.id)
    _set_conversation(s, conv.id, order_count=conv.order_count + 1)
    return None


def _change_order(
    s: Slice, mutation: UpdateOrder | SetOrderStatus | SetOrderPayment, seq: int | None, at: str
) -> str | None:
    p = mutation.payload
    order = s.orders.get(p.order_id)
    if order is None:
        return f"order {short_id(p.order_id)} does not exist in this workspace"
    name = order.number or f"order {short_id(order.id)}"
    pending = seq is None
    source = p.source.value

    def entry(kind: str, text: str, actor: str = mutation.author) -> dict[str, Any]:
        return timeline_entry(at, kind, text, actor, source, pending)

    if isinstance(mutation, SetOrderStatus):
        wanted: str = mutation.payload.status
        if wanted not in allowed_statuses(order):
            return f"{name} is {order.status}: it cannot become {wanted}"
        changed = replace(order, status=wanted, updated_at=at)
        text = f"status {order.status} → {wanted}"
        if wanted == "SHIPPED":
            changed = replace(
                changed, shipped_at=at, tracking_number=mutation.payload.tracking_number
            )
            if mutation.payload.tracking_number:
                text += f" (tracking {mutation.payload.tracking_number})"
        entries = [entry("STATUS", text)]
        if wanted == "DELIVERED":
            changed = replace(changed, delivered_at=at)
            if changed.payment_method == "COD" and changed.payment_status == "UNPAID":
                changed = replace(changed, payment_status="PAID", paid_at=at)
                entries.append(entry("PAYMENT", "cash collected on delivery: PAID", "SYSTEM"))
        s.orders[order.id] = with_timeline(changed, *entries)
    elif isinstance(mutation, SetOrderPayment):
        wanted = mutation.payload.status
        if wanted not in allowed_payments(order):
            return f"{name} is {order.payment_status}: it cannot become {wanted}"
        changed = replace(order, payment_status=wanted, updated_at=at)
        if wanted == "PAID":
            changed = replace(changed, paid_at=at)
        kind = "REFUND" if wanted == "REFUNDED" else "PAYMENT"
        s.orders[order.id] = with_timeline(
            changed, entry(kind, f"payment {order.payment_status} → {wanted}")
        )
    else:
        found = _edit_order(s, order, mutation, entry)
        if found is not None:
            return found.replace("{name}", name)
    s.changed_orders.add(order.id)
    return None


def _edit_order(
    s: Slice, order: OrderState, mutation: UpdateOrder, entry: Callable[..., dict[str, Any]]
) -> str | None:
    u = mutation.payload
    at = format_time(mutation.client_time)
    if (u.items is not None or u.shipping_address is not None or u.region is not None) and (
        not items_editable(order)
    ):
        return "{name} is " + order.status + ": its items and address can no longer change"
    changes: dict[str, object] = {}
    said: list[str] = []
    warnings: list[str] = []
    if u.items is not None:
        changes.update(items=items_json(u.items), total=order_total(u.items))
        said.append(
            f"items: {describe_items(json.loads(items_json(u.items)), order.currency)}; total "
            f"{format_money(order_total(u.items), order.currency)}"
        )
    if u.shipping_address is not None:
        changes["shipping_address"] = u.shipping_address
        said.append("shipping address")
    if u.region is not None:
        changes["region"] = u.region
        said.append(f"region {u.region}")
    if u.notes is not None:
        changes["notes"] = u.notes
        said.append("notes")
    if u.payment_method is not None or u.payment_provider is not None:
        config = PaymentConfig.from_json(s.workspace.payment_config)
        method = (u.payment_method.value if u.payment_method else None) or order.payment_method
        provider = u.payment_provider or order.payment_provider
        region = u.region or order.region
        payment = resolve_payment(config, method, provider, region)
        changes.update(payment_method=payment.method, payment_provider=payment.provider)
        warnings += payment.warnings
        said.append(
            f"payment {payment.method}" + (f" · {payment.provider}" if payment.provider else "")
        )
    if u.unassign:
        changes["assignee"] = None
        said.append("unassigned")
    elif u.assignee is not None:
        changes["assignee"] = u.assignee
        said.append(f"assigned to {u.assignee}")
    if u.metadata:
        changes["metadata"] = with_metadata(order.metadata, u.metadata)
        said.append("metadata " + ", ".join(sorted(u.metadata)))
    if warnings:
        known = json.loads(order.warnings)
        changes["warnings"] = json.dumps(known + warnings, ensure_ascii=False)
    changed = replace(order, updated_at=at, **changes)  # type: ignore[arg-type]
    entries = [entry("EDIT", "edited " + "; ".join(said))] if said else []
    entries += [entry("WARNING", w, "SYSTEM") for w in warnings]
    s.orders[order.id] = with_timeline(changed, *entries)
    return None


def _change_contact(s: Slice, mutation: UpdateContact | MergeContacts) -> str | None:
    p = mutation.payload
    contact = s.contacts.get(p.contact_id)
    if contact is None:
        return "the contact does not exist in this workspace"
    if isinstance(mutation, UpdateContact):
        u = mutation.payload
        changes: dict[str, object] = {}
        if u.name is not None:
            changes["agent_name"] = u.name or None
        if u.phone is not None:
            changes["agent_phone"] = u.phone or None
        if u.email is not None:
            changes["email"] = u.email or None
        if u.notes is not None:
            changes["notes"] = u.notes
        if u.metadata:
            changes["metadata"] = with_metadata(contact.metadata, u.metadata)
        changed = replace(contact, **changes)  # type: ignore[arg-type]
        if changed != contact:
            s.contacts[contact.id] = changed
            s.changed_contacts.add(contact.id)
        return None
    merged = s.contacts.get(mutation.payload.merged_id)
    if merged is None:
        return "the contact to merge does not exist in this workspace"
    if contact.merged_into is not None:
        return "that contact was merged into another: merge into that one instead"
    # The merged contact and everyone already merged into it now belong to the kept one.
    for other in list(s.contacts.values()):
        if other.id == merged.id or other.merged_into == merged.id:
            s.contacts[other.id] = replace(other, merged_into=contact.id)
            s.changed_contacts.add(other.id)
    return None


def _conversation_metadata(s: Slice, mutation: SetConversationMetadata) -> str | None:
    p = mutation.payload
    conv = s.conversations.get(p.conversation_id)
    if conv is None:
        return "the conversation does not exist in this workspace"
    _set_conversation(s, conv.id, metadata=with_metadata(conv.metadata, p.metadata))
    return None


def _set_conversation(s: Slice, cid: str, **changes: object) -> None:
    conv = s.conversations[cid]
    changed = replace(conv, **changes)  # type: ignore[arg-type]
    if changed != conv:
        s.conversations[cid] = changed
        s.changed_conversations.add(cid)
