"""The selling half of the one door (``store.actions.Actions``): leads, orders, payment status,
payment settings, contacts and metadata.

Each action checks locally what this replica can know (the lead is still NEW, the transition is
allowed here, the amount is money), then records one mutation. The log decides in the end: a
change another agent made first turns this one into a conflict on every replica.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from inboop_tui.domain.money import MoneyError, currency_of, parse_amount
from inboop_tui.domain.selling import (
    LeadState,
    OrderState,
    PaymentConfig,
    allowed_payments,
    allowed_statuses,
    items_editable,
    resolve_payment,
    short_id,
)
from inboop_tui.store.door import ActionError, Done, Identity
from inboop_tui.store.tables import contacts, leads, orders, workspace
from relay.protocol import (
    CloseLead,
    ContactMergePayload,
    ContactUpdatePayload,
    ConversationMetadataPayload,
    CreateLead,
    CreateOrder,
    MergeContacts,
    Mutation,
    OrderPaymentPayload,
    OrderStatusPayload,
    SetConversationMetadata,
    SetOrderPayment,
    SetOrderStatus,
    SetPaymentConfig,
    UpdateContact,
    UpdateLead,
    UpdateOrder,
)


@dataclass(frozen=True)
class ItemInput:
    """An order line as a person typed it: the price in the currency's units (``1499.50``)."""

    name: str
    quantity: int
    unit_price: str
    retailer_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> ItemInput:
        """``NAME:QTY:UNIT_PRICE`` (the name may contain colons; the last two fields count)."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[0].strip():
            raise ActionError(f"{text!r} is not an item: write it NAME:QUANTITY:UNIT_PRICE")
        name, quantity, price = parts
        if not quantity.strip().isdigit() or int(quantity) < 1:
            raise ActionError(f"{text!r}: the quantity must be a whole number of at least 1")
        if len(name.strip()) > 200:
            raise ActionError(f"item names are at most 200 characters: {name.strip()[:40]!r}…")
        return cls(name.strip(), int(quantity), price.strip())


def region_of(text: str | None) -> str | None:
    """A country code as people type it (``in`` → ``IN``)."""
    if text is None or not text.strip():
        return None
    code = text.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise ActionError(f"{text.strip()!r} is not a country code: use two letters, like IN or AE")
    return code


class SellingActions:
    _engine: Engine
    _clock: Callable[[], datetime]

    # Provided by Actions.
    def _me(self) -> Identity:
        raise NotImplementedError

    def _teammate(self, name: str, me: Identity) -> str:
        raise NotImplementedError

    def _record(
        self,
        kind: type[Mutation],
        payload: object,
        conversation_id: str | None,
        *,
        entity_id: str | None = None,
        warnings: tuple[str, ...] = (),
    ) -> Done:
        raise NotImplementedError

    # --- leads ----------------------------------------------------------------------------

    def create_lead(
        self,
        conversation_id: str,
        *,
        value: str | None = None,
        currency: str | None = None,
        notes: str = "",
        assignee: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Done:
        """A new buying opportunity; a NEW lead the conversation had is closed as superseded."""
        lead_id = str(uuid.uuid4())
        payload = {
            "lead_id": lead_id,
            "conversation_id": conversation_id,
            "value": self._money(value, currency),
            "notes": notes.strip(),
            "assignee": self._assignee(assignee),
            "metadata": dict(metadata or {}),
        }
        return self._record(CreateLead, payload, conversation_id, entity_id=lead_id)

    def update_lead(
        self,
        lead_ref: str,
        *,
        value: str | None = None,
        currency: str | None = None,
        clear_value: bool = False,
        notes: str | None = None,
        assignee: str | None = None,
        unassign: bool = False,
        metadata: Mapping[str, str | None] | None = None,
    ) -> Done:
        lead = self._open_lead(lead_ref)
        money = None
        if value is not None:
            money = self._money(value, currency or lead.value_currency)
        payload = {
            "lead_id": lead.id,
            "value": money,
            "clear_value": clear_value,
            "notes": None if notes is None else notes.strip(),
            "assignee": self._assignee(assignee),
            "unassign": unassign,
            "metadata": dict(metadata or {}),
        }
        return self._record(UpdateLead, payload, lead.conversation_id, entity_id=lead.id)

    def close_lead(self, lead_ref: str, status: str, reason: str) -> Done:
        """Mark a NEW lead LOST or CLOSED, with the reason."""
        wanted = status.strip().upper()
        if wanted not in ("LOST", "CLOSED"):
            raise ActionError(f"{status!r}: a lead is closed as lost or closed")
        if not reason.strip():
            raise ActionError("say why: --reason TEXT")
        lead = self._open_lead(lead_ref)
        payload = {"lead_id": lead.id, "status": wanted, "reason": reason.strip()}
        return self._record(CloseLead, payload, lead.conversation_id, entity_id=lead.id)

    # --- orders ---------------------------------------------------------------------------

    def create_order(
        self,
        conversation_id: str,
        items: Sequence[ItemInput],
        currency: str,
        *,
        lead: str | None = None,
        address: str = "",
        region: str | None = None,
        notes: str = "",
        cod: bool = False,
        provider: str | None = None,
        assignee: str | None = None,
        source: str = "INBOX",
        cart_message_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Done:
        """An order from a conversation (and its lead). The payment settings never refuse it:
        what they change comes back as warnings."""
        code = self._currency(currency)
        if not items:
            raise ActionError("an order needs at least one item: --item NAME:QTY:UNIT_PRICE")
        lead_id = None
        if lead is not None:
            found = self.find_lead(lead)
            if found.conversation_id != conversation_id:
                raise ActionError(f"lead {short_id(found.id)} belongs to another conversation")
            if found.status != "NEW":
                raise ActionError(
                    f"lead {short_id(found.id)} is {found.status}: only a NEW lead converts"
                )
            lead_id = found.id
        order_id = str(uuid.uuid4())
        method = "COD" if cod else "ONLINE"
        wanted_provider = provider.strip().upper() if provider else None
        wanted_region = region_of(region)
        payload = {
            "order_id": order_id,
            "conversation_id": conversation_id,
            "lead_id": lead_id,
            "items": [self._item(i, code) for i in items],
            "currency": code,
            "shipping_address": address.strip(),
            "region": wanted_region,
            "notes": notes.strip(),
            "payment_method": method,
            "payment_provider": wanted_provider,
            "assignee": self._assignee(assignee),
            "source": source,
            "cart_message_id": cart_message_id,
            "metadata": dict(metadata or {}),
        }
        payment = resolve_payment(self._payment_config(), method, wanted_provider, wanted_region)
        return self._record(
            CreateOrder,
            payload,
            conversation_id,
            entity_id=order_id,
            warnings=payment.warnings,
        )

    def update_order(
        self,
        order_ref: str,
        *,
        items: Sequence[ItemInput] | None = None,
        address: str | None = None,
        region: str | None = None,
        notes: str | None = None,
        cod: bool | None = None,
        provider: str | None = None,
        assignee: str | None = None,
        unassign: bool = False,
        metadata: Mapping[str, str | None] | None = None,
        source: str = "ORDERS",
    ) -> Done:
        order = self.find_order(order_ref)
        name = order.number or f"order {short_id(order.id)}"
        if (items is not None or address is not None or region is not None) and not (
            items_editable(order)
        ):
            raise ActionError(
                f"{name} is {order.status}: its items and address can no longer change"
            )
        payload = {
            "order_id": order.id,
            "items": None if items is None else [self._item(i, order.currency) for i in items],
            "shipping_address": None if address is None else address.strip(),
            "region": region_of(region),
            "notes": None if notes is None else notes.strip(),
            "payment_method": None if cod is None else ("COD" if cod else "ONLINE"),
            "payment_provider": provider.strip().upper() if provider else None,
            "assignee": self._assignee(assignee),
            "unassign": unassign,
            "metadata": dict(metadata or {}),
            "source": source,
        }
        return self._record(UpdateOrder, payload, order.conversation_id, entity_id=order.id)

    def set_order_status(
        self, order_ref: str, status: str, *, tracking: str | None = None, source: str = "ORDERS"
    ) -> Done:
        order = self.find_order(order_ref)
        wanted = status.strip().upper()
        allowed = allowed_statuses(order)
        name = order.number or f"order {short_id(order.id)}"
        if wanted not in allowed:
            choices = ", ".join(s.lower() for s in allowed) or "nothing: it is final"
            raise ActionError(f"{name} is {order.status}: it can become {choices}")
        if tracking is not None and wanted != "SHIPPED":
            raise ActionError("a tracking number goes with shipped")
        payload = OrderStatusPayload.model_validate(
            {
                "order_id": order.id,
                "status": wanted,
                "tracking_number": tracking.strip() if tracking else None,
                "source": source,
            }
        )
        return self._record(SetOrderStatus, payload, order.conversation_id, entity_id=order.id)

    def set_order_payment(self, order_ref: str, status: str, *, source: str = "ORDERS") -> Done:
        order = self.find_order(order_ref)
        wanted = status.strip().upper()
        allowed = allowed_payments(order)
        name = order.number or f"order {short_id(order.id)}"
        if wanted not in allowed:
            choices = ", ".join(s.lower() for s in allowed) or "nothing: it is final"
            raise ActionError(f"{name} is {order.payment_status}: it can become {choices}")
        payload = OrderPaymentPayload.model_validate(
            {"order_id": order.id, "status": wanted, "source": source}
        )
        return self._record(SetOrderPayment, payload, order.conversation_id, entity_id=order.id)

    # --- settings, contacts, metadata -----------------------------------------------------

    def set_payment_config(
        self,
        providers: Sequence[str],
        *,
        default: str | None = None,
        allow_cod: bool = False,
        cod_regions: Sequence[str] = (),
    ) -> Done:
        enabled = tuple(dict.fromkeys(p.strip().upper() for p in providers if p.strip()))
        chosen = default.strip().upper() if default else None
        if chosen is not None and chosen not in enabled:
            raise ActionError(f"the default provider {chosen} must be one of those enabled")
        payload = {
            "enabled_providers": enabled,
            "default_provider": chosen,
            "allow_cod": allow_cod,
            "cod_regions": tuple(dict.fromkeys(region_of(r) for r in cod_regions if r.strip())),
        }
        return self._record(SetPaymentConfig, payload, None)

    def update_contact(
        self,
        contact_id: str,
        *,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        notes: str | None = None,
        metadata: Mapping[str, str | None] | None = None,
    ) -> Done:
        self._contact(contact_id)
        if email and email.strip() and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email.strip()):
            raise ActionError(f"{email.strip()!r} is not an email address")
        payload = ContactUpdatePayload.model_validate(
            {
                "contact_id": contact_id,
                "name": None if name is None else name.strip(),
                "phone": None if phone is None else phone.strip(),
                "email": None if email is None else email.strip(),
                "notes": None if notes is None else notes.strip(),
                "metadata": dict(metadata or {}),
            }
        )
        return self._record(UpdateContact, payload, None, entity_id=contact_id)

    def merge_contacts(self, keep: str, merged: str) -> Done:
        """``merged`` is the same person as ``keep`` (say, on Instagram and on WhatsApp)."""
        kept = self._contact(keep)
        if kept["merged_into"] is not None:
            raise ActionError("that contact was merged into another: merge into that one")
        self._contact(merged)
        if keep == merged:
            raise ActionError("a contact cannot be merged into itself")
        payload = ContactMergePayload(contact_id=keep, merged_id=merged)
        return self._record(MergeContacts, payload, None, entity_id=keep)

    def set_conversation_metadata(
        self, conversation_id: str, changes: Mapping[str, str | None]
    ) -> Done:
        if not changes:
            raise ActionError("name a key to set (key=value) or remove (key=)")
        payload = ConversationMetadataPayload.model_validate(
            {"conversation_id": conversation_id, "metadata": dict(changes)}
        )
        return self._record(SetConversationMetadata, payload, conversation_id)

    # --- lookups --------------------------------------------------------------------------

    def find_order(self, ref: str) -> OrderState:
        """An order by number (``ORD-1004`` or ``1004``) or id (or its first characters)."""
        text = ref.strip()
        with self._engine.connect() as conn:
            number = text.upper()
            if number.isdigit():
                number = f"ORD-{number}"
            rows = conn.execute(select(orders).where(orders.c.number == number)).mappings().all()
            if not rows and len(text) >= 4:
                rows = (
                    conn.execute(select(orders).where(orders.c.id.like(f"{text.lower()}%")))
                    .mappings()
                    .all()
                )
        if not rows:
            raise ActionError(f"no order {text}: `inboop orders` lists them")
        if len(rows) > 1:
            raise ActionError(f"{text!r} matches {len(rows)} orders: give more of the id")
        return _state(OrderState, rows[0])

    def find_lead(self, ref: str) -> LeadState:
        text = ref.strip().lower()
        if len(text) < 4:
            raise ActionError(f"{ref!r}: give at least the first 4 characters of the lead's id")
        with self._engine.connect() as conn:
            rows = conn.execute(select(leads).where(leads.c.id.like(f"{text}%"))).mappings().all()
        if not rows:
            raise ActionError(f"no lead {ref}: `inboop leads` lists them")
        if len(rows) > 1:
            raise ActionError(f"{ref!r} matches {len(rows)} leads: give more of the id")
        return _state(LeadState, rows[0])

    def _open_lead(self, ref: str) -> LeadState:
        lead = self.find_lead(ref)
        if lead.status != "NEW":
            raise ActionError(
                f"lead {short_id(lead.id)} is {lead.status}: closed leads are read-only"
            )
        return lead

    def _contact(self, contact_id: str) -> Any:
        with self._engine.connect() as conn:
            row = (
                conn.execute(select(contacts).where(contacts.c.id == contact_id)).mappings().first()
            )
        if row is None:
            raise ActionError(f"no contact {contact_id} on this replica")
        return row

    def _payment_config(self) -> PaymentConfig | None:
        with self._engine.connect() as conn:
            text = conn.execute(select(workspace.c.payment_config)).scalar()
        return PaymentConfig.from_json(text)

    def _assignee(self, name: str | None) -> str | None:
        if name is None or not name.strip():
            return None
        return self._teammate(name, self._me())

    def _currency(self, text: str | None) -> str:
        if not text:
            raise ActionError("name the currency: --currency INR (or USD, EUR …)")
        try:
            return currency_of(text)
        except MoneyError as exc:
            raise ActionError(str(exc)) from None

    def _money(self, value: str | None, currency: str | None) -> dict[str, Any] | None:
        if value is None or not value.strip():
            return None
        code = self._currency(currency)
        try:
            return {"amount": parse_amount(value, code), "currency": code}
        except MoneyError as exc:
            raise ActionError(str(exc)) from None

    def _item(self, item: ItemInput, currency: str) -> dict[str, Any]:
        try:
            price = parse_amount(item.unit_price, currency)
        except MoneyError as exc:
            raise ActionError(f"{item.name}: {exc}") from None
        return {
            "name": item.name,
            "quantity": item.quantity,
            "unit_price": price,
            "retailer_id": item.retailer_id,
        }


def _state(kind: type[Any], row: Any) -> Any:
    fields = kind.__dataclass_fields__
    return kind(**{k: v for k, v in row.items() if k in fields})
