"""WhatsApp Cloud API: ``entry[].changes[]`` with ``value.messages``, ``value.statuses`` and
``value.message_echoes`` (messages the business sent from the WhatsApp Business app).

A conversation's business side is the phone number id (replies are sent from it); the customer
is the ``wa_id``, or WhatsApp's business-scoped ``user_id`` for customers without a number.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from relay.channels.messaging import content_type_of
from relay.channels.normalised import (
    ItemError,
    ItemFailure,
    as_float,
    from_seconds,
    optional_dict,
    optional_str,
    require_str,
    unexpected,
)
from relay.protocol import (
    Attachment,
    AttachmentType,
    CartItem,
    Channel,
    ChannelEvent,
    ContactProfile,
    ContentType,
    DeliveryState,
    Direction,
    MessageBody,
    MessageDeleted,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    MessageStatus,
    ProviderError,
    ReactionRemoved,
    ReactionSet,
    SenderType,
    reply_id_from_tag,
)

CHANNEL = Channel.WHATSAPP

# Fields about the account, templates or billing: nothing for the inbox, and not failures.
IGNORED_FIELDS = frozenset(
    {
        "message_template_status_update",
        "message_template_quality_update",
        "message_template_components_update",
        "template_category_update",
        "phone_number_quality_update",
        "phone_number_name_update",
        "account_update",
        "account_review_update",
        "account_alerts",
        "business_capability_update",
        "business_status_update",
        "security",
        "user_preferences",
        "history",  # Coexistence: the phone's past messages, synced once; not the inbox's
        "smb_app_state_sync",  # Coexistence: the phone's contact list
        "calls",  # the Calling API: calls are not conversations here
    }
)

_MEDIA_TYPES: dict[str, AttachmentType] = {
    "image": AttachmentType.IMAGE,
    "video": AttachmentType.VIDEO,
    "audio": AttachmentType.AUDIO,
    "document": AttachmentType.FILE,
    "sticker": AttachmentType.STICKER,
}

_STATUSES: dict[str, DeliveryState] = {
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "played": DeliveryState.READ,  # a voice note was listened to: read, as far as we care
    "failed": DeliveryState.FAILED,
}


def normalise_entry(
    entry: dict[str, Any], path: str
) -> tuple[list[ChannelEvent], list[ItemFailure]]:
    events: list[ChannelEvent] = []
    failures: list[ItemFailure] = []
    changes = entry.get("changes")
    if not isinstance(changes, list):
        return events, [ItemFailure("malformed_item", "entry has no changes list", path)]
    for index, change in enumerate(changes):
        change_path = f"{path}.changes[{index}]"
        if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
            failures.append(
                ItemFailure("malformed_item", "change has no value object", change_path)
            )
            continue
        field = change.get("field")
        value = change["value"]
        if field in IGNORED_FIELDS:
            continue
        if field not in ("messages", "smb_message_echoes"):
            failures.append(
                ItemFailure(
                    "unknown_item", f"whatsapp change field {field!r} is not handled", change_path
                )
            )
            continue
        try:
            account_id = require_str(
                optional_dict(value, "metadata") or {"phone_number_id": None},
                "phone_number_id",
                "metadata",
            )
        except ItemError as exc:
            failures.append(ItemFailure(exc.kind, exc.detail, change_path))
            continue
        contacts = _contacts(value.get("contacts"))
        for key, handler in (
            ("messages", _inbound),
            ("message_echoes", _echo),
            ("statuses", _status),
        ):
            items = value.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                failures.append(ItemFailure("malformed_item", f"{key} is not a list", change_path))
                continue
            for item_index, item in enumerate(items):
                item_path = f"{change_path}.value.{key}[{item_index}]"
                try:
                    if not isinstance(item, dict):
                        raise ItemError("malformed_item", "item is not an object")
                    events.extend(handler(account_id, item, contacts))
                    if key == "messages":
                        # What WhatsApp could not deliver to us (131051 unsupported type, …):
                        # the message stays, and the error is an integration failure too.
                        for error in item.get("errors") or []:
                            detail = _error(error).model_dump_json(exclude_none=True)
                            failures.append(ItemFailure("provider_error", detail, item_path))
                except ItemError as exc:
                    failures.append(ItemFailure(exc.kind, exc.detail, item_path))
                except Exception as exc:
                    failures.append(unexpected(exc, item_path))
        for error in value.get("errors") or []:
            failures.append(
                ItemFailure(
                    "provider_error", _error(error).model_dump_json(exclude_none=True), change_path
                )
            )
    return events, failures


def _contacts(raw: Any) -> dict[str, dict[str, Any]]:
    """Contacts of a change keyed by every id they can be referred to by."""
    found: dict[str, dict[str, Any]] = {}
    for contact in raw or []:
        if not isinstance(contact, dict):
            continue
        for key in ("wa_id", "user_id"):
            ident = optional_str(contact, key)
            if ident:
                found[ident] = contact
    return found


def _customer_of(item: dict[str, Any], id_key: str, user_id_key: str) -> str:
    customer = optional_str(item, id_key) or optional_str(item, user_id_key)
    if not customer:
        raise ItemError("malformed_item", f"{id_key} and {user_id_key} are both missing")
    return customer


def _inbound(
    account_id: str, msg: dict[str, Any], contacts: dict[str, dict[str, Any]]
) -> list[ChannelEvent]:
    customer = _customer_of(msg, "from", "from_user_id")
    wamid = require_str(msg, "id", "message")
    occurred_at = from_seconds(msg.get("timestamp"))
    events: list[ChannelEvent] = []
    contact = contacts.get(customer)
    if contact is not None:
        profile = optional_dict(contact, "profile")
        events.append(
            ContactProfile(
                dedup_key=f"profile:{CHANNEL}:{account_id}:{customer}:{wamid}",
                channel=CHANNEL,
                account_id=account_id,
                customer_id=customer,
                occurred_at=occurred_at,
                name=optional_str(profile, "name"),
                username=optional_str(profile, "username"),
                phone=optional_str(contact, "wa_id"),
                wa_id=optional_str(contact, "wa_id"),
                user_id=optional_str(contact, "user_id"),
                parent_user_id=optional_str(contact, "parent_user_id"),
            )
        )
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "account_id": account_id,
        "customer_id": customer,
        "occurred_at": occurred_at,
    }
    if msg.get("type") == "reaction":
        reaction = optional_dict(msg, "reaction")
        target = require_str(reaction, "message_id", "reaction")
        emoji = optional_str(reaction, "emoji")
        if emoji:
            events.append(
                ReactionSet(
                    dedup_key=f"react:{CHANNEL}:{wamid}",
                    channel_message_id=target,
                    emoji=emoji,
                    **common,
                )
            )
        else:
            events.append(
                ReactionRemoved(
                    dedup_key=f"react:{CHANNEL}:{wamid}", channel_message_id=target, **common
                )
            )
        return events
    changed = _edit_or_revoke(msg, wamid, common)
    if changed is not None:
        return [*events, changed]
    body = _body(msg, wamid, Direction.INBOUND)
    events.append(MessageReceived(dedup_key=f"msg:{CHANNEL}:{wamid}", message=body, **common))
    return events


def _edit_or_revoke(msg: dict[str, Any], wamid: str, common: dict[str, Any]) -> ChannelEvent | None:
    """Coexistence: a message edited or deleted (revoked) after it was sent, by the customer or
    from the WhatsApp Business app; the event names the original message."""
    kind = msg.get("type")
    if kind == "revoke":
        target = require_str(optional_dict(msg, "revoke"), "original_message_id", "revoke")
        return MessageDeleted(
            dedup_key=f"del:{CHANNEL}:{target}", channel_message_id=target, **common
        )
    if kind == "edit":
        edit = optional_dict(msg, "edit")
        target = require_str(edit, "original_message_id", "edit")
        new = optional_dict(edit, "message")
        new_kind = str(new.get("type") or "text")
        text = optional_str(optional_dict(new, "text"), "body") or optional_str(
            optional_dict(new, new_kind), "caption"
        )
        return MessageEdited(
            dedup_key=f"edit:{CHANNEL}:{target}:{wamid}",
            channel_message_id=target,
            text=text,
            **common,
        )
    return None


def _echo(
    account_id: str, msg: dict[str, Any], _contacts: dict[str, dict[str, Any]]
) -> list[ChannelEvent]:
    customer = _customer_of(msg, "to", "to_user_id")
    wamid = require_str(msg, "id", "message echo")
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "account_id": account_id,
        "customer_id": customer,
        "occurred_at": from_seconds(msg.get("timestamp")),
    }
    changed = _edit_or_revoke(msg, wamid, common)
    if changed is not None:
        return [changed]
    return [
        MessageEchoed(
            dedup_key=f"msg:{CHANNEL}:{wamid}",
            channel=CHANNEL,
            account_id=account_id,
            customer_id=customer,
            occurred_at=from_seconds(msg.get("timestamp")),
            message=_body(msg, wamid, Direction.OUTBOUND),
        )
    ]


def _body(msg: dict[str, Any], wamid: str, direction: Direction) -> MessageBody:
    kind = str(msg.get("type") or "")
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    provider_type: str | None = None
    sender_type = SenderType.CUSTOMER if direction is Direction.INBOUND else SenderType.USER
    content_type: ContentType | None = None
    if kind == "text":
        text = optional_str(optional_dict(msg, "text"), "body")
    elif kind in _MEDIA_TYPES:
        media = optional_dict(msg, kind)
        attachments = (
            Attachment(
                type=_MEDIA_TYPES[kind],
                media_id=optional_str(media, "id"),
                url=optional_str(media, "url") or optional_str(media, "link"),
                mime_type=optional_str(media, "mime_type"),
                caption=optional_str(media, "caption"),
                filename=optional_str(media, "filename"),
            ),
        )
        text = optional_str(media, "caption")
    elif kind == "location":
        loc = optional_dict(msg, "location")
        attachments = (
            Attachment(
                type=AttachmentType.LOCATION,
                title=optional_str(loc, "name") or optional_str(loc, "address"),
                url=optional_str(loc, "url"),
                latitude=as_float(loc.get("latitude")),
                longitude=as_float(loc.get("longitude")),
            ),
        )
    elif kind == "contacts":
        names = [
            optional_str(optional_dict(c, "name"), "formatted_name") or "contact"
            for c in msg.get("contacts") or []
            if isinstance(c, dict)
        ]
        attachments = (Attachment(type=AttachmentType.CONTACTS, title=", ".join(names) or None),)
    elif kind == "interactive":
        interactive = optional_dict(msg, "interactive")
        reply = optional_dict(interactive, "button_reply") or optional_dict(
            interactive, "list_reply"
        )
        text = optional_str(reply, "title")
        provider_type = "interactive"
        flow = optional_dict(interactive, "nfm_reply")
        if flow:
            text = _flow_answers(flow)
            provider_type = "nfm_reply"
    elif kind == "button":
        text = optional_str(optional_dict(msg, "button"), "text")
        provider_type = "button"
    elif kind == "system":
        text = optional_str(optional_dict(msg, "system"), "body")
        sender_type = SenderType.SYSTEM
        provider_type = "system"
    elif kind == "order":
        order = optional_dict(msg, "order")
        text = optional_str(order, "text")
        provider_type = "order"
        content_type = ContentType.CART
        attachments = (
            Attachment(
                type=AttachmentType.CART,
                catalog_id=optional_str(order, "catalog_id"),
                items=_cart_items(order),
            ),
        )
    else:
        provider_type = kind or "unknown"
        content_type = ContentType.UNSUPPORTED
        errors = msg.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            text = _error(errors[0]).title
    if content_type is None:
        content_type = content_type_of(text, attachments)
    context = optional_dict(msg, "context")
    return MessageBody(
        channel_message_id=wamid,
        direction=direction,
        sender_type=sender_type,
        content_type=content_type,
        text=text,
        attachments=attachments,
        reply_to=optional_str(context, "id"),
        provider_type=provider_type,
    )


def _status(
    account_id: str, status: dict[str, Any], _contacts: dict[str, dict[str, Any]]
) -> list[ChannelEvent]:
    wamid = require_str(status, "id", "status")
    raw_state = optional_str(status, "status")
    if raw_state == "deleted":  # Coexistence: the message was deleted
        return [
            MessageDeleted(
                dedup_key=f"del:{CHANNEL}:{wamid}",
                channel=CHANNEL,
                account_id=account_id,
                customer_id=_customer_of(status, "recipient_id", "recipient_user_id"),
                occurred_at=from_seconds(status.get("timestamp")),
                channel_message_id=wamid,
            )
        ]
    state = _STATUSES.get(raw_state or "")
    if state is None:
        raise ItemError("unknown_item", f"status {raw_state!r} is not handled")
    errors = status.get("errors")
    error = (
        _error(errors[0])
        if isinstance(errors, list) and errors and isinstance(errors[0], dict)
        else None
    )
    return [
        MessageStatus(
            dedup_key=f"status:{CHANNEL}:{wamid}:{state.value}",
            channel=CHANNEL,
            account_id=account_id,
            customer_id=_customer_of(status, "recipient_id", "recipient_user_id"),
            occurred_at=from_seconds(status.get("timestamp")),
            channel_message_id=wamid,
            status=state,
            error=error,
            reply_id=reply_id_from_tag(status.get("biz_opaque_callback_data")),
        )
    ]


def _error(raw: Any) -> ProviderError:
    if not isinstance(raw, dict):
        return ProviderError(message=str(raw))
    details = optional_str(optional_dict(raw, "error_data"), "details")
    return ProviderError(
        code=optional_str(raw, "code"),
        title=optional_str(raw, "title"),
        message=optional_str(raw, "message") or details,
    )


def _flow_answers(flow: dict[str, Any]) -> str:
    """A WhatsApp Flows reply as readable text: the form's answers, ``field: value`` a line."""
    raw = flow.get("response_json")
    try:
        answers = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        answers = {}
    lines = [
        f"{key.replace('_', ' ')}: {value}"
        for key, value in (answers.items() if isinstance(answers, dict) else [])
        if key != "flow_token" and value not in (None, "")
    ]
    heading = optional_str(flow, "body") or "Form reply"
    return "\n".join([heading, *lines])


def _cart_items(order: dict[str, Any] | None) -> tuple[CartItem, ...]:
    """A catalog cart's lines; prices stay text (``item_price`` is a JSON number: 1499.5)."""
    found = []
    for item in (order or {}).get("product_items") or []:
        if not isinstance(item, dict):
            continue
        quantity = str(item.get("quantity", "1")).strip()
        price = item.get("item_price", 0)
        try:
            exact = format(Decimal(str(price)), "f")
        except InvalidOperation:
            exact = "0"
        found.append(
            CartItem(
                retailer_id=str(item.get("product_retailer_id") or "?")[:100],
                quantity=int(quantity) if quantity.isdigit() else 1,
                item_price=exact,
                currency=str(item.get("currency") or "").upper()[:3],
            )
        )
    return tuple(found)
