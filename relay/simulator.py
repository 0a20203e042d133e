"""Real-shaped Meta webhook deliveries, written from Meta's documented payloads.

Used by the demo, the benchmarks and the tests to play the part of Meta. Messenger
(``object: page``) and Instagram (``object: instagram``) share the Messenger Platform's
``entry[].messaging[]`` items; WhatsApp Cloud API uses ``entry[].changes[].value``.
Timestamps: milliseconds for messaging, seconds-as-string for WhatsApp.
"""

from __future__ import annotations

import json
from typing import Any

PAGE_ID = "104587465432101"
IG_ACCOUNT_ID = "17841400000000001"
WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
T0_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# --- Messenger and Instagram -------------------------------------------------------------


def messaging_delivery(
    obj: str, account_id: str, *items: dict[str, Any], standby: bool = False
) -> dict[str, Any]:
    key = "standby" if standby else "messaging"
    return {"object": obj, "entry": [{"id": account_id, "time": T0_MS + 999, key: list(items)}]}


def messenger(*items: dict[str, Any], standby: bool = False) -> dict[str, Any]:
    return messaging_delivery("page", PAGE_ID, *items, standby=standby)


def instagram(*items: dict[str, Any], standby: bool = False) -> dict[str, Any]:
    return messaging_delivery("instagram", IG_ACCOUNT_ID, *items, standby=standby)


def inbound(account_id: str, customer: str, ts: int, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "sender": {"id": customer},
        "recipient": {"id": account_id},
        "timestamp": ts,
        "message": message,
    }


def text_message(
    account_id: str, customer: str, mid: str, text: str, ts: int = T0_MS
) -> dict[str, Any]:
    return inbound(account_id, customer, ts, {"mid": mid, "text": text})


def attachment_message(
    account_id: str, customer: str, mid: str, kind: str, payload: dict[str, Any], ts: int = T0_MS
) -> dict[str, Any]:
    return inbound(
        account_id, customer, ts, {"mid": mid, "attachments": [{"type": kind, "payload": payload}]}
    )


def echo(account_id: str, customer: str, mid: str, text: str, ts: int = T0_MS) -> dict[str, Any]:
    return {
        "sender": {"id": account_id},
        "recipient": {"id": customer},
        "timestamp": ts,
        "message": {"mid": mid, "text": text, "is_echo": True, "app_id": 1517776481860111},
    }


def edit(
    account_id: str, customer: str, mid: str, text: str, num_edit: int, ts: int
) -> dict[str, Any]:
    return {
        "sender": {"id": customer},
        "recipient": {"id": account_id},
        "timestamp": ts,
        "message_edit": {"mid": mid, "text": text, "num_edit": num_edit},
    }


def unsend(account_id: str, customer: str, mid: str, ts: int) -> dict[str, Any]:
    return inbound(account_id, customer, ts, {"mid": mid, "is_deleted": True})


def reaction(
    account_id: str,
    customer: str,
    mid: str,
    ts: int,
    emoji: str | None = "\u2764\ufe0f",
    action: str = "react",
) -> dict[str, Any]:
    r: dict[str, Any] = {"mid": mid, "action": action}
    if action == "react":
        r.update({"reaction": "love", "emoji": emoji})
    return {
        "sender": {"id": customer},
        "recipient": {"id": account_id},
        "timestamp": ts,
        "reaction": r,
    }


def delivery_watermark(
    account_id: str, customer: str, watermark: int, mids: list[str] | None = None
) -> dict[str, Any]:
    d: dict[str, Any] = {"watermark": watermark}
    if mids:
        d["mids"] = mids
    return {"sender": {"id": customer}, "recipient": {"id": account_id}, "delivery": d}


def read_watermark(account_id: str, customer: str, watermark: int, ts: int) -> dict[str, Any]:
    return {
        "sender": {"id": customer},
        "recipient": {"id": account_id},
        "timestamp": ts,
        "read": {"watermark": watermark},
    }


def read_by_mid(account_id: str, customer: str, mid: str, ts: int) -> dict[str, Any]:
    return {
        "sender": {"id": customer},
        "recipient": {"id": account_id},
        "timestamp": ts,
        "read": {"mid": mid},
    }


# --- WhatsApp ----------------------------------------------------------------------------


def whatsapp(*values: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": field, "value": v} for v in values]}],
    }


def wa_value(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return value


def wa_contact(wa_id: str, name: str, user_id: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"profile": {"name": name}, "wa_id": wa_id}
    if user_id:
        c["user_id"] = user_id
    return c


def wa_message(
    sender: str, wamid: str, ts: int, kind: str, content: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    m: dict[str, Any] = {"from": sender, "id": wamid, "timestamp": str(ts), "type": kind}
    if content is not None:
        m[kind] = content
    m.update(extra)
    return m


def wa_text(sender: str, wamid: str, ts: int, text: str) -> dict[str, Any]:
    return wa_message(sender, wamid, ts, "text", {"body": text})


def wa_cart(
    sender: str, wamid: str, ts: int, items: list[tuple[str, int, float | str, str]], text: str = ""
) -> dict[str, Any]:
    """A catalog cart (``type: order``): (retailer id, quantity, price, currency) per line, with
    the price as WhatsApp writes it, a JSON number."""
    order: dict[str, Any] = {
        "catalog_id": "CATALOG_1",
        "product_items": [
            {"product_retailer_id": rid, "quantity": qty, "item_price": price, "currency": cur}
            for rid, qty, price, cur in items
        ],
    }
    if text:
        order["text"] = text
    return wa_message(sender, wamid, ts, "order", order)


def wa_status(
    wamid: str, status: str, ts: int, recipient: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(ts),
        "recipient_id": recipient,
    }
    if status != "failed":
        s["conversation"] = {"id": "CONVERSATION_ID", "origin": {"type": "service"}}
        s["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if errors:
        s["errors"] = errors
    return s
