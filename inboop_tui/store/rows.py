"""The replica's records as screens, the CLI and tests see them: plain, frozen data.

Kept apart from the statements that read them (``queries``, ``diagnostics``): the app's first
screen shows them before SQLAlchemy is loaded (``first_screen``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

THREAD_LIMIT = 500


STATUSES = ("OPEN", "PENDING", "RESOLVED", "SNOOZED")
ACTIVE = "ACTIVE"  # a status filter: open or pending (resolved and snoozed ones are hidden)


@dataclass(frozen=True)
class InboxFilter:
    """Plain, serialisable values, so saved views can come later."""

    channel: str | None = None
    unread_only: bool = False
    search: str | None = None
    assigned: str | None = None  # "me", "unassigned", or None for anyone
    status: str | None = None  # one of STATUSES (as shown now), ACTIVE, or None for any
    tag: str | None = None
    over_sla: bool = False
    new_lead: bool = False  # only conversations with a NEW lead
    has_orders: bool = False


# The inbox's view when the app starts, and when its filters are cleared: what needs work
# (resolved conversations, and snoozed ones until they wake, are a status filter away, S). Its
# first keys are compiled ahead (``first_screen``).
DEFAULT_VIEW = InboxFilter(status=ACTIVE)


@dataclass(frozen=True)
class Viewpoint:
    """Who is looking, and when: "mine", snoozes that have ended and the SLA clock depend on it."""

    me: str | None
    now: str  # ISO-8601 UTC
    sla_deadline: str | None = None  # a customer waiting since before this is over SLA

    @property
    def sla_on(self) -> bool:
        return self.sla_deadline is not None


@dataclass(frozen=True)
class ConversationRow:
    id: str
    channel: str
    customer_id: str
    name: str | None
    username: str | None
    preview: str | None
    preview_direction: str | None
    last_message_at: str | None
    last_inbound_at: str | None
    unread: bool
    status: str  # as shown now: a snooze that ended, or a new customer message, re-opens
    assignee: str | None
    message_count: int
    snoozed_until: str | None = None
    tags: tuple[str, ...] = ()
    over_sla: bool = False
    awaiting_since: str | None = None
    phone: str | None = None
    pending: int = 0  # this replica's changes not yet confirmed by the relay
    account_id: str = ""  # the business side: Instagram account, Page, WhatsApp number
    lead_id: str | None = None  # its NEW lead
    order_count: int = 0
    contact_id: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.username or self.customer_id


@dataclass(frozen=True)
class Attachment:
    type: str
    url: str | None = None
    media_id: str | None = None
    caption: str | None = None
    title: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    catalog_id: str | None = None
    items: tuple[dict[str, Any], ...] | None = None  # a cart's lines
    # What the relay's fetch of the file ended with (``attachment.fetched``): its size once
    # the relay keeps it, or why it does not; neither while the fetch is under way.
    size: int | None = None
    unavailable: str | None = None


@dataclass(frozen=True)
class MessageRow:
    channel_message_id: str
    direction: str
    sender_type: str
    content_type: str
    text: str | None
    original_text: str | None
    edited: bool
    is_deleted: bool
    sent_at: str
    delivery_status: str | None
    delivery_error: str | None
    reactions: dict[str, str]  # side -> emoji, removed reactions left out
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    reply_to: str | None = None
    provider_type: str | None = None
    reply_id: str | None = None  # one of our replies
    sent_by: str | None = None  # the teammate who sent it
    pending: bool = False  # still in this replica's outbox: not at the relay yet


@dataclass(frozen=True)
class NoteRow:
    id: str
    conversation_id: str
    author: str
    text: str
    mentions: tuple[str, ...]
    created_at: str
    pending: bool


@dataclass(frozen=True)
class Member:
    name: str
    role: str


@dataclass(frozen=True)
class AttachmentRef:
    """An attachment of a conversation's message, by what the relay knows it by."""

    channel: str
    message_id: str
    index: int
    type: str
    sent_at: str
    direction: str
    filename: str | None
    mime_type: str | None
    caption: str | None
    size: int | None = None  # once the relay keeps the file
    unavailable: str | None = None  # why the relay does not keep it


FILES = ("IMAGE", "VIDEO", "AUDIO", "FILE", "STICKER")
PICTURES = ("IMAGE", "STICKER")


# How many columns `_row_columns` selects, one per field (a query may add its own after them).
ROW_COLUMNS = len(fields(ConversationRow))


def conversation_row(row: Sequence[Any]) -> ConversationRow:
    """A row read with :func:`queries._row_columns`, by position (any columns after them are left).
    Read so, not by name through a dict, a block of 50 rows is made in a third of the time."""
    (
        id_, channel, customer_id, name, username, phone, preview, preview_direction,
        last_message_at, last_inbound_at, unread, status, assignee, message_count, snoozed_until,
        tags, over_sla, awaiting_since, pending, account_id, lead_id, order_count, contact_id,
    ) = row[:ROW_COLUMNS]  # fmt: skip
    return ConversationRow(
        id=id_,
        channel=channel,
        customer_id=customer_id,
        name=name,
        username=username,
        preview=preview,
        preview_direction=preview_direction,
        last_message_at=last_message_at,
        last_inbound_at=last_inbound_at,
        unread=bool(unread),
        status=status,
        assignee=assignee,
        message_count=message_count,
        snoozed_until=snoozed_until if status == "SNOOZED" else None,
        tags=() if tags == "[]" else tuple(json.loads(tags)),
        over_sla=bool(over_sla),
        awaiting_since=awaiting_since,
        phone=phone,
        pending=pending,
        account_id=account_id,
        lead_id=lead_id,
        order_count=order_count,
        contact_id=contact_id,
    )


@dataclass(frozen=True)
class SyncStatus:
    cursor: int
    relay_head: int
    last_ok_at: str | None
    last_attempt_at: str | None
    last_error: str | None
    last_error_kind: str | None = None
    pending: int = 0  # mutations in the outbox

    @property
    def offline(self) -> bool:
        return self.last_error is not None and self.last_error_kind != "auth"

    @property
    def signed_out(self) -> bool:
        """The relay refused the token: syncing cannot work until the user signs in again."""
        return self.last_error_kind == "auth"


@dataclass(frozen=True)
class Change:
    """A mutation of this replica's: pending in the outbox, or rejected by the relay."""

    id: str
    type: str
    conversation_id: str | None
    summary: str
    at: str  # made (pending) or rejected (rejected)
    pushed_seq: int | None = None
    reason: str | None = None
