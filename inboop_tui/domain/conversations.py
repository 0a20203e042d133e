"""Conversations and contacts: identity and the order-independent summary of a thread."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from inboop_tui.domain.messages import MessageState, later_status, preview_text
from inboop_tui.domain.states import replace
from relay.protocol import ContactProfile, conversation_id, format_time


@lru_cache(maxsize=1 << 14)  # as conversation_id: a few times per event
def contact_id(channel: str, account_id: str, customer_id: str) -> str:
    digest = hashlib.sha256(
        f"contact\x1f{channel}\x1f{account_id}\x1f{customer_id}".encode()
    ).hexdigest()
    return f"ct_{digest[:24]}"


@dataclass(frozen=True)
class ContactState:
    id: str
    channel: str
    account_id: str
    customer_id: str
    name: str | None = None
    username: str | None = None
    phone: str | None = None
    profile_at: str | None = None  # provider time of the profile that won
    # What the team keeps about the person (contact.update): their words win over the channel's.
    agent_name: str | None = None
    agent_phone: str | None = None
    email: str | None = None
    notes: str = ""
    metadata: str = "{}"  # a JSON object, keys sorted
    merged_into: str | None = None  # the contact this one was merged into (the same person)

    @property
    def display_name(self) -> str:
        return self.agent_name or self.name or self.username or self.customer_id


def with_profile(state: ContactState, event: ContactProfile) -> ContactState:
    """The whole profile, last writer wins by provider time; at the same time the larger name."""
    at = format_time(event.occurred_at)
    if state.profile_at is not None and (state.profile_at, state.name or "") >= (
        at,
        event.name or "",
    ):
        return state
    return replace(
        state, name=event.name, username=event.username, phone=event.phone, profile_at=at
    )


@dataclass(frozen=True)
class ConversationState:
    id: str
    channel: str
    account_id: str
    customer_id: str
    contact_id: str
    status: str = "OPEN"  # as agents set it; see effective_status
    status_at: str | None = None  # the client time of the status change that won
    snoozed_until: str | None = None
    assignee: str | None = None
    tags: str = "[]"  # a sorted JSON list
    first_message_at: str | None = None
    last_message_at: str | None = None
    last_inbound_at: str | None = None
    last_message_key: str | None = None  # "<sent_at>|<channel_message_id>" of the newest message
    preview: str | None = None
    preview_direction: str | None = None
    message_count: int = 0
    delivered_watermark: str | None = None
    read_watermark: str | None = None
    last_outbound_at: str | None = None
    # The customer's oldest message since the business last wrote. It needs every message of
    # the conversation, so the store computes it (store.apply) after each batch.
    awaiting_since: str | None = None
    lead_id: str | None = None  # the conversation's NEW lead, if it has one
    order_count: int = 0
    metadata: str = "{}"  # a JSON object, keys sorted


def new_conversation(channel: str, account_id: str, customer_id: str) -> ConversationState:
    return ConversationState(
        id=conversation_id(channel, account_id, customer_id),
        channel=channel,
        account_id=account_id,
        customer_id=customer_id,
        contact_id=contact_id(channel, account_id, customer_id),
    )


def fold_message(
    conv: ConversationState, before: MessageState | None, after: MessageState
) -> ConversationState:
    """The conversation after one of its messages changed from ``before`` to ``after``."""
    if not after.has_body or after.sent_at is None:
        return conv
    changes: dict[str, object] = {}
    if before is None or not before.has_body:
        changes["message_count"] = conv.message_count + 1
        changes["first_message_at"] = _min(conv.first_message_at, after.sent_at)
        changes["last_message_at"] = _max(conv.last_message_at, after.sent_at)
        if after.direction == "INBOUND":
            changes["last_inbound_at"] = _max(conv.last_inbound_at, after.sent_at)
        else:
            changes["last_outbound_at"] = _max(conv.last_outbound_at, after.sent_at)
    key = f"{after.sent_at}|{after.channel_message_id}"
    if conv.last_message_key is None or key >= conv.last_message_key:
        changes["last_message_key"] = key
        changes["preview"] = preview_text(after)
        changes["preview_direction"] = after.direction
    return replace(conv, **changes) if changes else conv  # type: ignore[arg-type]


def with_watermark(conv: ConversationState, status: str, at: str) -> ConversationState:
    if status == "READ":
        return replace(conv, read_watermark=_max(conv.read_watermark, at))
    return replace(conv, delivered_watermark=_max(conv.delivered_watermark, at))


def watermark_status(conv: ConversationState, message: MessageState) -> str | None:
    """The state the conversation's watermarks give an outbound message, if any: only once the
    channel has it (a reply written at 10:00 and sent at noon is not "read up to 10:30")."""
    at = message.channel_at
    if message.direction != "OUTBOUND" or at is None:
        return None
    status: str | None = None
    if conv.delivered_watermark is not None and at <= conv.delivered_watermark:
        status = "DELIVERED"
    if conv.read_watermark is not None and at <= conv.read_watermark:
        status = later_status(status, "READ")
    return status


def _min(a: str | None, b: str) -> str:
    return b if a is None or b < a else a


def _max(a: str | None, b: str) -> str:
    return b if a is None or b > a else a


REOPENED_BY_INBOUND = frozenset({"RESOLVED", "SNOOZED"})


def effective_status(
    status: str,
    status_at: str | None,
    snoozed_until: str | None,
    last_inbound_at: str | None,
    now: str,
) -> str:
    """The status a conversation shows at ``now`` (ISO-8601 UTC text, like every stored time).

    A customer message newer than the change re-opens a RESOLVED or SNOOZED conversation, and a
    snooze ends by itself at its time: every replica agrees without anyone pushing anything.
    """
    if status in REOPENED_BY_INBOUND and last_inbound_at is not None:
        if status_at is None or last_inbound_at > status_at:
            return "OPEN"
    if status == "SNOOZED" and (snoozed_until is None or snoozed_until <= now):
        return "OPEN"
    return status


def over_sla(
    awaiting_since: str | None, status: str, sla_minutes: int | None, now: datetime
) -> bool:
    """Informational: a customer has waited longer than the workspace's first-response time.

    ``status`` is the effective one: a resolved or snoozed conversation is not waiting on us.
    """
    if sla_minutes is None or awaiting_since is None or status not in ("OPEN", "PENDING"):
        return False
    return awaiting_since <= format_time(now - timedelta(minutes=sla_minutes))


_TAG_SPACE = re.compile(r"[\s,]+")
MAX_TAG = 64


def normalise_tag(text: str) -> str | None:
    """A tag as stored: lower case, no leading ``#``, words joined by ``-``; None if empty or
    longer than 64 characters."""
    tag = _TAG_SPACE.sub("-", text.strip().lstrip("#").strip()).strip("-").lower()
    return tag if 0 < len(tag) <= MAX_TAG else None
