"""Leads, orders, payment status and contacts: the selling rules, applied in log order.

Every replica applies these to the same log and gets the same rows:

- at most one NEW lead per conversation: a new lead closes the NEW one as CLOSED ("superseded
  by …"); NEW → CONVERTED | LOST | CLOSED, and a closed lead never changes again;
- an order links to its conversation (and maybe a lead, which it converts if the lead is still
  NEW); its number is its place among the orders the log accepted (ORD-1001 …), so offline
  replicas never collide; a pending order has none yet;
- fulfilment moves only along ``FULFILMENT_NEXT``; items and address change only before
  SHIPPED; a COD order is PAID when delivered; payment moves UNPAID → PAID → REFUNDED;
- the payment settings never block an order: a provider that is not enabled, COD where it is
  not offered, or no settings at all still create the order, with the fallback written down as
  a warning on it;
- every change to an order is appended to its timeline (who, when, from where).

A change that is not valid when its turn comes (shipping a cancelled order, closing a lead that
another agent converted) is a conflict, the same on every replica.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inboop_tui.domain.money import format_money
from inboop_tui.domain.states import replace
from relay.protocol.selling import (
    EDITABLE_ITEMS,
    FULFILMENT_NEXT,
    PAYMENT_NEXT,
    OrderItem,
)


@dataclass(frozen=True)
class LeadState:
    id: str
    conversation_id: str
    channel: str
    status: str  # NEW | CONVERTED | LOST | CLOSED
    created_at: str
    created_by: str
    source: str = "MANUAL"
    assignee: str | None = None
    value_amount: int | None = None
    value_currency: str | None = None
    notes: str = ""
    closed_at: str | None = None
    close_reason: str | None = None
    order_id: str | None = None  # the order that converted it
    metadata: str = "{}"  # a JSON object, keys sorted
    seq: int | None = None  # None while only in this replica's outbox


@dataclass(frozen=True)
class OrderState:
    id: str
    conversation_id: str
    channel: str
    customer_name: str  # as it was when the order was made
    customer_handle: str
    status: str  # fulfilment
    currency: str
    items: str  # a JSON list of {name, quantity, unit_price, retailer_id}
    total: int  # minor units
    payment_method: str
    payment_status: str
    created_at: str
    created_by: str
    updated_at: str
    number: str | None = None  # ORD-1001 …, None until the log has the order
    lead_id: str | None = None
    payment_provider: str | None = None
    shipping_address: str = ""
    region: str | None = None
    tracking_number: str | None = None
    notes: str = ""
    assignee: str | None = None
    metadata: str = "{}"
    warnings: str = "[]"  # a JSON list of sentences
    timeline: str = "[]"  # a JSON list of {at, type, description, actor, source, pending}
    shipped_at: str | None = None
    delivered_at: str | None = None
    paid_at: str | None = None
    seq: int | None = None


@dataclass(frozen=True)
class PaymentConfig:
    enabled_providers: tuple[str, ...] = ()
    default_provider: str | None = None
    allow_cod: bool = False
    cod_regions: tuple[str, ...] = ()  # empty: COD everywhere (when allowed)

    @classmethod
    def from_json(cls, text: str | None) -> PaymentConfig | None:
        if text is None:
            return None
        data = json.loads(text)
        return cls(
            enabled_providers=tuple(data.get("enabled_providers", ())),
            default_provider=data.get("default_provider"),
            allow_cod=bool(data.get("allow_cod", False)),
            cod_regions=tuple(data.get("cod_regions", ())),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "enabled_providers": list(self.enabled_providers),
                "default_provider": self.default_provider,
                "allow_cod": self.allow_cod,
                "cod_regions": list(self.cod_regions),
            },
            sort_keys=True,
        )


@dataclass(frozen=True)
class Payment:
    method: str
    provider: str | None
    warnings: tuple[str, ...] = ()


def resolve_payment(
    config: PaymentConfig | None, method: str, provider: str | None, region: str | None
) -> Payment:
    """What an order records for a requested method and provider under the workspace's
    settings. Never refuses: whatever does not fit falls back (the default provider, or none;
    ONLINE where COD is not offered) and says so in a warning."""
    warnings: list[str] = []
    if config is None:
        if provider is not None:
            warnings.append(f"payments are not set up yet: provider {provider} not checked")
        if method == "COD":
            warnings.append("payments are not set up yet: cash on delivery not checked")
        return Payment(method, provider, tuple(warnings))
    if method == "COD":
        if not config.allow_cod:
            warnings.append(
                "cash on delivery is turned off in the payment settings: recorded as ONLINE"
            )
            method = "ONLINE"
        elif config.cod_regions and region not in config.cod_regions:
            where = region or "an unknown region"
            offered = ", ".join(config.cod_regions)
            warnings.append(
                f"cash on delivery is not offered in {where} (only in {offered}): recorded as ONLINE"
            )
            method = "ONLINE"
    if method == "COD":
        if provider is not None and provider not in config.enabled_providers:
            warnings.append(f"{provider} is not an enabled provider: no provider recorded")
            provider = None
        return Payment(method, provider, tuple(warnings))
    if provider is None or provider not in config.enabled_providers:
        fallback = config.default_provider
        if provider is not None:
            instead = f"{fallback} recorded instead" if fallback else "no provider recorded"
            warnings.append(f"{provider} is not an enabled provider: {instead}")
        provider = fallback
    return Payment(method, provider, tuple(warnings))


def items_json(items: tuple[OrderItem, ...] | list[OrderItem]) -> str:
    return json.dumps(
        [item.model_dump(exclude_none=True) for item in items], ensure_ascii=False, sort_keys=True
    )


def items_of(order: OrderState) -> list[dict[str, Any]]:
    return list(json.loads(order.items))


def with_metadata(current: str, changes: Mapping[str, str | None]) -> str:
    data: dict[str, str] = json.loads(current)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def timeline_entry(
    at: str, kind: str, description: str, actor: str, source: str, pending: bool
) -> dict[str, Any]:
    return {
        "at": at,
        "type": kind,
        "description": description,
        "actor": actor,
        "source": source,
        "pending": pending,
    }


def with_timeline(order: OrderState, *entries: dict[str, Any]) -> OrderState:
    timeline = json.loads(order.timeline)
    timeline.extend(entries)
    return replace(order, timeline=json.dumps(timeline, ensure_ascii=False))


def allowed_statuses(order: OrderState) -> tuple[str, ...]:
    return FULFILMENT_NEXT.get(order.status, ())


def allowed_payments(order: OrderState) -> tuple[str, ...]:
    return PAYMENT_NEXT.get(order.payment_status, ())


def items_editable(order: OrderState) -> bool:
    return order.status in EDITABLE_ITEMS


def describe_items(items: list[dict[str, Any]], currency: str) -> str:
    """``2 x Blue kurta @ INR 1,499.00; 1 x Dupatta @ INR 399.00``."""
    return "; ".join(
        f"{i['quantity']} x {i['name']} @ {format_money(i['unit_price'], currency)}" for i in items
    )


def short_id(entity_id: str) -> str:
    """The first eight characters of a lead's or order's id: how people tell them apart."""
    return entity_id[:8]
