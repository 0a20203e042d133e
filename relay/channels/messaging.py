"""Instagram and Messenger: ``entry[].messaging[]`` and ``entry[].standby[]`` items.

Both channels share Meta's Messenger Platform shapes; where they differ (Instagram's
read-by-mid, unsend, reels and story mentions) the item itself says which form it is.
"""

from __future__ import annotations

from typing import Any, Literal

from relay.channels.normalised import (
    ItemError,
    ItemFailure,
    as_float,
    from_millis,
    optional_dict,
    optional_str,
    require_str,
    unexpected,
)
from relay.protocol import (
    Attachment,
    AttachmentType,
    Channel,
    ChannelEvent,
    ContentType,
    DeliveryState,
    Direction,
    MessageBody,
    MessageDeleted,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    ReactionRemoved,
    ReactionSet,
    SenderType,
    Watermark,
    reply_id_from_tag,
)

# Item kinds that carry nothing for the inbox (handover protocol, opt-ins, referrals, policy
# notices). They are neither events nor failures.
IGNORED_ITEM_KINDS = frozenset(
    {
        "pass_thread_control",
        "take_thread_control",
        "request_thread_control",
        "app_roles",
        "referral",
        "optin",
        "account_linking",
        "policy_enforcement",
        "messaging_feedback",
        "game_play",
        "checkout_update",
        "payment",
    }
)

_ATTACHMENT_TYPES: dict[str, AttachmentType] = {
    "image": AttachmentType.IMAGE,
    "video": AttachmentType.VIDEO,
    "audio": AttachmentType.AUDIO,
    "file": AttachmentType.FILE,
    "location": AttachmentType.LOCATION,
    "share": AttachmentType.SHARE,
    "ig_post": AttachmentType.SHARE,
    "story_mention": AttachmentType.STORY_MENTION,
    "ig_reel": AttachmentType.REEL,
    "reel": AttachmentType.REEL,
    "template": AttachmentType.TEMPLATE,
    "fallback": AttachmentType.FALLBACK,
    "sticker": AttachmentType.STICKER,
    "like_heart": AttachmentType.STICKER,
    "animated_image_share": AttachmentType.IMAGE,
}

_CONTENT_OF_ATTACHMENT: dict[AttachmentType, ContentType] = {
    AttachmentType.IMAGE: ContentType.IMAGE,
    AttachmentType.VIDEO: ContentType.VIDEO,
    AttachmentType.AUDIO: ContentType.AUDIO,
    AttachmentType.FILE: ContentType.FILE,
    AttachmentType.STICKER: ContentType.STICKER,
    AttachmentType.LOCATION: ContentType.LOCATION,
    AttachmentType.SHARE: ContentType.SHARE,
    AttachmentType.STORY_MENTION: ContentType.STORY_MENTION,
    AttachmentType.REEL: ContentType.REEL,
    AttachmentType.CONTACTS: ContentType.CONTACTS,
    AttachmentType.TEMPLATE: ContentType.TEXT,
    AttachmentType.FALLBACK: ContentType.SHARE,
}


def content_type_of(text: str | None, attachments: tuple[Attachment, ...]) -> ContentType:
    if attachments:
        return _CONTENT_OF_ATTACHMENT[attachments[0].type]
    return ContentType.TEXT if text else ContentType.UNSUPPORTED


def normalise_entry(
    channel: Channel, entry: dict[str, Any], path: str
) -> tuple[list[ChannelEvent], list[ItemFailure]]:
    events: list[ChannelEvent] = []
    failures: list[ItemFailure] = []
    account_id = require_str(entry, "id", path)
    for list_key in ("messaging", "standby"):
        items = entry.get(list_key)
        if items is None:
            continue
        if not isinstance(items, list):
            failures.append(ItemFailure("malformed_item", f"{list_key} is not a list", path))
            continue
        for index, item in enumerate(items):
            item_path = f"{path}.{list_key}[{index}]"
            try:
                events.extend(_normalise_item(channel, account_id, item, entry, item_path))
            except ItemError as exc:
                failures.append(ItemFailure(exc.kind, exc.detail, item_path))
            except Exception as exc:
                failures.append(unexpected(exc, item_path))
    for index, change in enumerate(entry.get("changes") or []):
        field = change.get("field") if isinstance(change, dict) else None
        failures.append(
            ItemFailure(
                "unknown_item",
                f"{channel.value.lower()} change field {field!r} is not handled",
                f"{path}.changes[{index}]",
            )
        )
    return events, failures


def _normalise_item(
    channel: Channel, account_id: str, item: Any, entry: dict[str, Any], path: str
) -> list[ChannelEvent]:
    if not isinstance(item, dict):
        raise ItemError("malformed_item", "item is not an object")
    sender = require_str(optional_dict(item, "sender") or {"id": None}, "id", "sender")
    recipient = optional_str(optional_dict(item, "recipient"), "id") or account_id
    occurred_at = from_millis(item.get("timestamp", entry.get("time")))

    if "message" in item:
        return [_message(channel, account_id, sender, recipient, occurred_at, item["message"])]
    if "message_edit" in item:
        edit = item["message_edit"]
        mid = require_str(edit, "mid", "message_edit")
        count = edit.get("num_edit") if isinstance(edit.get("num_edit"), int) else None
        return [
            MessageEdited(
                dedup_key=f"edit:{channel}:{mid}:{count if count is not None else occurred_at.timestamp()}",
                channel=channel,
                account_id=account_id,
                customer_id=_customer(sender, recipient, account_id),
                occurred_at=occurred_at,
                channel_message_id=mid,
                text=optional_str(edit, "text"),
                edit_count=count,
            )
        ]
    if "reaction" in item:
        return [_reaction(channel, account_id, sender, recipient, occurred_at, item["reaction"])]
    if "delivery" in item:
        delivery = item["delivery"]
        if not isinstance(delivery, dict):
            raise ItemError("malformed_item", "delivery is not an object")
        return [
            _watermark(channel, account_id, sender, occurred_at, delivery, DeliveryState.DELIVERED)
        ]
    if "read" in item:
        read = item["read"]
        if not isinstance(read, dict):
            raise ItemError("malformed_item", "read is not an object")
        return [_watermark(channel, account_id, sender, occurred_at, read, DeliveryState.READ)]
    if "postback" in item:
        return [_postback(channel, account_id, sender, occurred_at, item["postback"])]
    kinds = sorted(k for k in item if k not in {"sender", "recipient", "timestamp"})
    if kinds and all(k in IGNORED_ITEM_KINDS for k in kinds):
        return []
    raise ItemError(
        "unknown_item", f"messaging item of kind {', '.join(kinds) or 'none'} is not handled"
    )


def _customer(sender: str, recipient: str, account_id: str) -> str:
    """The customer's id: whichever side of the item is not the business."""
    return recipient if sender == account_id else sender


def _message(
    channel: Channel,
    account_id: str,
    sender: str,
    recipient: str,
    occurred_at: Any,
    message: Any,
) -> ChannelEvent:
    if not isinstance(message, dict):
        raise ItemError("malformed_item", "message is not an object")
    mid = require_str(message, "mid", "message")
    echo = bool(message.get("is_echo"))
    customer = recipient if echo else sender
    common: dict[str, Any] = {
        "channel": channel,
        "account_id": account_id,
        "customer_id": customer,
        "occurred_at": occurred_at,
    }
    if message.get("is_deleted"):
        return MessageDeleted(dedup_key=f"del:{channel}:{mid}", channel_message_id=mid, **common)

    text = optional_str(message, "text")
    attachments = tuple(
        _attachment(a) for a in message.get("attachments") or [] if isinstance(a, dict)
    )
    reply = optional_dict(message, "reply_to")
    reply_to = optional_str(reply, "mid")
    provider_type = None
    story = optional_dict(reply, "story")
    if story:
        provider_type = "story_reply"
        attachments += (
            Attachment(
                type=AttachmentType.SHARE,
                url=optional_str(story, "url"),
                media_id=optional_str(story, "id"),
                title="story",
            ),
        )
    if message.get("is_unsupported"):
        content_type = ContentType.UNSUPPORTED
        provider_type = "unsupported"
    else:
        content_type = (
            content_type_of(text, attachments)
            if not (text and attachments and story)
            else ContentType.TEXT
        )
    if optional_dict(message, "quick_reply"):
        provider_type = "quick_reply"
    body = MessageBody(
        channel_message_id=mid,
        direction=Direction.OUTBOUND if echo else Direction.INBOUND,
        sender_type=SenderType.USER if echo else SenderType.CUSTOMER,
        content_type=content_type,
        text=text,
        attachments=attachments,
        reply_to=reply_to,
        provider_type=provider_type,
        reply_id=reply_id_from_tag(message.get("metadata")) if echo else None,
    )
    if echo:
        return MessageEchoed(dedup_key=f"msg:{channel}:{mid}", message=body, **common)
    return MessageReceived(dedup_key=f"msg:{channel}:{mid}", message=body, **common)


def _attachment(raw: dict[str, Any]) -> Attachment:
    provider_type = str(raw.get("type") or "")
    payload = optional_dict(raw, "payload")
    kind = _ATTACHMENT_TYPES.get(provider_type, AttachmentType.FALLBACK)
    if kind is AttachmentType.IMAGE and payload.get("sticker_id") is not None:
        kind = AttachmentType.STICKER
    coordinates = optional_dict(payload, "coordinates")
    title = optional_str(payload, "title") or optional_str(raw, "title")
    if kind is AttachmentType.FALLBACK and provider_type not in _ATTACHMENT_TYPES:
        title = title or provider_type or None
    return Attachment(
        type=kind,
        url=optional_str(payload, "url") or optional_str(raw, "url"),
        media_id=optional_str(payload, "reel_video_id")
        or optional_str(payload, "sticker_id")
        or optional_str(payload, "id"),
        title=title,
        latitude=as_float(coordinates.get("lat")),
        longitude=as_float(coordinates.get("long")),
    )


def _reaction(
    channel: Channel, account_id: str, sender: str, recipient: str, occurred_at: Any, reaction: Any
) -> ChannelEvent:
    if not isinstance(reaction, dict):
        raise ItemError("malformed_item", "reaction is not an object")
    mid = require_str(reaction, "mid", "reaction")
    action = reaction.get("action") or "react"
    emoji = optional_str(reaction, "emoji")
    name = optional_str(reaction, "reaction")
    by_business = sender == account_id
    common: dict[str, Any] = {
        "channel": channel,
        "account_id": account_id,
        "customer_id": _customer(sender, recipient, account_id),
        "occurred_at": occurred_at,
        "channel_message_id": mid,
        "sender_type": SenderType.USER if by_business else SenderType.CUSTOMER,
    }
    stamp = int(occurred_at.timestamp() * 1000)
    if action == "unreact" or not (emoji or name):
        return ReactionRemoved(dedup_key=f"react:{channel}:{mid}:{sender}:-:{stamp}", **common)
    if action != "react":
        raise ItemError("malformed_item", f"reaction action {action!r} is not react or unreact")
    return ReactionSet(
        dedup_key=f"react:{channel}:{mid}:{sender}:{emoji or name}:{stamp}",
        emoji=emoji or name or "",
        reaction=name,
        **common,
    )


def _watermark(
    channel: Channel,
    account_id: str,
    sender: str,
    occurred_at: Any,
    body: dict[str, Any],
    status: Literal[DeliveryState.DELIVERED, DeliveryState.READ],
) -> ChannelEvent:
    mark = body.get("watermark")
    up_to = optional_str(body, "mid")
    mids = tuple(str(m) for m in body.get("mids") or [] if isinstance(m, str | int))
    if mark is None and up_to is None and not mids:
        raise ItemError("malformed_item", f"{status.value.lower()} has neither watermark nor mid")
    watermark = from_millis(mark) if mark is not None else None
    point = (
        str(int(watermark.timestamp() * 1000)) if watermark is not None else up_to or ",".join(mids)
    )
    return Watermark(
        dedup_key=f"wm:{channel}:{account_id}:{sender}:{status.value}:{point}",
        channel=channel,
        account_id=account_id,
        customer_id=sender,
        occurred_at=watermark or occurred_at,
        status=status,
        watermark=watermark,
        up_to_message_id=up_to,
        channel_message_ids=mids,
    )


def _postback(
    channel: Channel, account_id: str, sender: str, occurred_at: Any, postback: Any
) -> ChannelEvent:
    if not isinstance(postback, dict):
        raise ItemError("malformed_item", "postback is not an object")
    stamp = int(occurred_at.timestamp() * 1000)
    mid = optional_str(postback, "mid") or f"postback:{sender}:{stamp}"
    title = optional_str(postback, "title") or optional_str(postback, "payload")
    return MessageReceived(
        dedup_key=f"msg:{channel}:{mid}",
        channel=channel,
        account_id=account_id,
        customer_id=sender,
        occurred_at=occurred_at,
        message=MessageBody(
            channel_message_id=mid,
            direction=Direction.INBOUND,
            sender_type=SenderType.CUSTOMER,
            content_type=ContentType.TEXT if title else ContentType.UNSUPPORTED,
            text=title,
            provider_type="postback",
        ),
    )
