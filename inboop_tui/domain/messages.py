"""Message state and the order-independent rules that change it.

A message row is a merge of every fact the log holds about it. Each rule below is commutative
and idempotent, so the same set of events gives the same row in any order, with any repeats:

- the body comes from the one ``message.received`` / ``message.echoed`` event (deduplicated);
- delivery state only moves forward (``QUEUED < SENT < FAILED < DELIVERED < READ``);
- edits: the newest by provider time wins (then by edit count);
- a delete is final;
- reactions: per side (customer, business), the newest set/remove wins;
- what the relay's fetch of each attachment ended with: one fact per attachment, kept apart
  from the body so either may come first.

Facts about a message that has not arrived yet (a status, a reaction, a read-by-mid) make a
placeholder row (``has_body`` false) that the body fills in when it comes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inboop_tui.domain.states import replace
from relay.protocol import DeliveryState, format_time

if TYPE_CHECKING:  # the rules read events; the app shows rows without loading the models
    from relay.protocol import (
        AttachmentFetched,
        MessageBody,
        MessageDeleted,
        MessageEchoed,
        MessageEdited,
        MessageReceived,
        MessageStatus,
        ReactionRemoved,
        ReactionSet,
    )

DELIVERY_RANK: dict[str, int] = {
    DeliveryState.QUEUED: 0,
    DeliveryState.SENT: 1,
    DeliveryState.FAILED: 2,
    DeliveryState.DELIVERED: 3,
    DeliveryState.READ: 4,
}


def later_status(current: str | None, new: str | None) -> str | None:
    """The further of two delivery states: a late "delivered" never downgrades "read"."""
    if new is None:
        return current
    if current is None:
        return new
    return new if DELIVERY_RANK[new] > DELIVERY_RANK[current] else current


# What json.dumps writes for none of them, the common case (readers skip decoding it).
NO_ATTACHMENTS = "[]"
NO_REACTIONS = "{}"


@dataclass(frozen=True)
class MessageState:
    channel: str
    channel_message_id: str
    conversation_id: str
    has_body: bool = False
    direction: str | None = None
    sender_type: str | None = None
    content_type: str | None = None
    original_text: str | None = None
    attachments: str = NO_ATTACHMENTS  # JSON list, as the wire format has it
    reply_to: str | None = None
    provider_type: str | None = None
    sent_at: str | None = None
    delivery_status: str | None = None
    delivery_error: str | None = None
    edit_text: str | None = None
    edit_key: str | None = None  # "<occurred_at>|<edit count>" of the winning edit
    is_deleted: bool = False
    deleted_at: str | None = None
    # {"CUSTOMER": ["<time>", "<emoji or empty when removed>"], "USER": [...]}
    reactions: str = NO_REACTIONS
    # Instagram's read-by-mid names this message as a point of a watermark.
    marks_up_to: str | None = None
    # Our replies (keyed by ``reply_key``): the reply's id, who sent it, the channel's id.
    reply_id: str | None = None
    sent_by: str | None = None
    provider_message_id: str | None = None
    # When the channel had it: watermarks ("read up to t") reach a message only from then.
    # A message received or echoed had it at once; one of our replies once it is sent.
    channel_at: str | None = None
    # The relay's store, per attachment index: {"0": {"size": n, "content_type": t}} once it
    # has the file, {"0": {"error": why}} when it gave up, {"expired": true, …} once removed.
    media: str = "{}"

    @property
    def text(self) -> str | None:
        return self.edit_text if self.edit_text is not None else self.original_text

    def reaction_map(self) -> dict[str, tuple[str, str]]:
        raw: dict[str, list[str]] = json.loads(self.reactions)
        return {side: (v[0], v[1]) for side, v in raw.items()}


def empty_message(channel: str, channel_message_id: str, conversation_id: str) -> MessageState:
    return MessageState(
        channel=channel, channel_message_id=channel_message_id, conversation_id=conversation_id
    )


def with_body(state: MessageState, event: MessageReceived | MessageEchoed) -> MessageState:
    if state.has_body:
        return state
    body: MessageBody = event.message
    outbound = body.direction.value == "OUTBOUND"
    sent_at = format_time(event.occurred_at)
    return replace(
        state,
        has_body=True,
        direction=body.direction.value,
        sender_type=body.sender_type.value,
        content_type=body.content_type.value,
        original_text=body.text,
        attachments=json.dumps(
            [a.model_dump(mode="json", exclude_none=True) for a in body.attachments]
        )
        if body.attachments
        else NO_ATTACHMENTS,
        reply_to=body.reply_to,
        provider_type=body.provider_type,
        sent_at=sent_at,
        channel_at=_earliest(state.channel_at, sent_at),
        # An echo was sent; a status may already have taken it further.
        delivery_status=later_status(state.delivery_status, DeliveryState.SENT)
        if outbound
        else state.delivery_status,
    )


def with_status(state: MessageState, event: MessageStatus) -> MessageState:
    status = later_status(state.delivery_status, event.status.value)
    error = state.delivery_error
    if event.status is DeliveryState.FAILED and event.error is not None:
        error = either_error(error, event.error.model_dump_json(exclude_none=True))
    at = state.channel_at
    if event.status is not DeliveryState.FAILED:
        at = _earliest(at, format_time(event.occurred_at))
    return replace(state, delivery_status=status, delivery_error=error, channel_at=at)


def either_error(a: str | None, b: str | None) -> str | None:
    """Two reports of what went wrong: the same one whatever their order."""
    if a is None or b is None:
        return a or b
    return max(a, b)


def _earliest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def with_explicit_delivery(state: MessageState, status: str) -> MessageState:
    return replace(state, delivery_status=later_status(state.delivery_status, status))


def with_edit(state: MessageState, event: MessageEdited) -> MessageState:
    key = f"{format_time(event.occurred_at)}|{event.edit_count if event.edit_count is not None else 0:09d}"
    if state.edit_key is not None and state.edit_key >= key:
        return state
    return replace(state, edit_text=event.text, edit_key=key)


def with_delete(state: MessageState, event: MessageDeleted) -> MessageState:
    at = format_time(event.occurred_at)
    if state.is_deleted and state.deleted_at is not None and state.deleted_at <= at:
        return state
    return replace(state, is_deleted=True, deleted_at=at)


def with_reaction(state: MessageState, event: ReactionSet | ReactionRemoved) -> MessageState:
    reactions: dict[str, Any] = json.loads(state.reactions)
    side = event.sender_type.value
    at = format_time(event.occurred_at)
    emoji = event.emoji if event.type == "reaction.set" else ""
    current = reactions.get(side)
    # Newest wins; at the same instant a removal wins, then the larger emoji: any order agrees.
    candidate = [at, emoji]
    if current is not None and (current[0], _removal_first(current[1])) >= (
        at,
        _removal_first(emoji),
    ):
        return state
    reactions[side] = candidate
    return replace(state, reactions=json.dumps(reactions, sort_keys=True, ensure_ascii=False))


def _removal_first(emoji: str) -> tuple[int, str]:
    return (1, "") if emoji == "" else (0, emoji)


def with_fetched(state: MessageState, event: AttachmentFetched) -> MessageState:
    found: dict[str, Any] = json.loads(state.media)
    outcome = {
        key: value
        for key, value in (
            ("size", event.size),
            ("content_type", event.content_type),
            ("error", event.error),
            ("expired", event.expired or None),
        )
        if value is not None
    }
    found[str(event.index)] = _either_outcome(found.get(str(event.index)), outcome)
    return replace(state, media=json.dumps(found, sort_keys=True, ensure_ascii=False))


def _either_outcome(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    """Two reports on one file (stored, then removed after the retention; or two relays'
    fetches): removed beats stored beats failed, then the smaller report: any order agrees."""
    if a is None:
        return b

    def rank(o: dict[str, Any]) -> tuple[int, str]:
        ending = 2 if o.get("expired") else 1 if "size" in o else 0
        return (-ending, json.dumps(o, sort_keys=True))

    return min(a, b, key=rank)


def with_read_mark(state: MessageState, status: str) -> MessageState:
    return replace(state, marks_up_to=later_status(state.marks_up_to, status))


def reply_key(reply_id: str) -> str:
    """The row of one of our replies, before and after the channel gives it an id of its own."""
    return f"reply:{reply_id}"


def with_sent(state: MessageState, channel_message_id: str, at: str) -> MessageState:
    """The channel has the reply (the relay's result, or its echo), as ``channel_message_id``."""
    provider = state.provider_message_id
    return replace(
        state,
        delivery_status=later_status(state.delivery_status, DeliveryState.SENT),
        provider_message_id=channel_message_id
        if provider is None
        else min(provider, channel_message_id),
        channel_at=_earliest(state.channel_at, at),
    )


def with_reply_failed(state: MessageState, error: str) -> MessageState:
    return replace(
        state,
        delivery_status=later_status(state.delivery_status, DeliveryState.FAILED),
        delivery_error=either_error(state.delivery_error, error),
    )


def merge_facts(target: MessageState, other: MessageState) -> MessageState:
    """What the log said about one message under the channel's id (``other``), folded into its
    row under our reply's id (``target``); the same rules as each event's, so any order agrees."""
    merged = replace(
        target,
        delivery_status=later_status(target.delivery_status, other.delivery_status),
        delivery_error=either_error(target.delivery_error, other.delivery_error),
        marks_up_to=later_status(target.marks_up_to, other.marks_up_to),
        channel_at=_earliest(target.channel_at, other.channel_at),
    )
    if other.edit_key is not None and (merged.edit_key is None or other.edit_key > merged.edit_key):
        merged = replace(merged, edit_text=other.edit_text, edit_key=other.edit_key)
    if other.is_deleted and (
        not merged.is_deleted or (other.deleted_at or "") < (merged.deleted_at or "~")
    ):
        merged = replace(merged, is_deleted=True, deleted_at=other.deleted_at)
    mine: dict[str, Any] = json.loads(merged.reactions)
    for side, value in json.loads(other.reactions).items():
        current = mine.get(side)
        if current is None or (value[0], _removal_first(value[1])) > (
            current[0],
            _removal_first(current[1]),
        ):
            mine[side] = value
    media: dict[str, Any] = json.loads(merged.media)
    for index, outcome in json.loads(other.media).items():
        media[index] = _either_outcome(media.get(index), outcome)
    return replace(
        merged,
        reactions=json.dumps(mine, sort_keys=True, ensure_ascii=False),
        media=json.dumps(media, sort_keys=True, ensure_ascii=False),
    )


def preview_text(state: MessageState) -> str:
    """One line for the inbox list."""
    if state.is_deleted:
        return "(message deleted)"
    text = state.text
    if text:
        return " ".join(text.split())
    attachments = json.loads(state.attachments)
    if attachments:
        return f"[{attachments[0]['type'].lower().replace('_', ' ')}]"
    return f"[{(state.content_type or 'unsupported').lower()}]"


def file_size(size: int) -> str:
    """A file's size as people read it: ``812 B``, ``245 KB``, ``3.4 MB``."""
    if size < 1000:
        return f"{size} B"
    value, unit = float(size), "B"
    for larger in ("KB", "MB", "GB"):
        value, unit = value / 1000, larger
        if value < 999.5:
            break
    return f"{value:.1f} {unit}" if value < 9.95 else f"{value:.0f} {unit}"
