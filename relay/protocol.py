"""The v1 wire format shared by the relay and every replica.

Channel events are what the relay's normalisers make of Meta's webhooks: channel-agnostic,
each with a deterministic ``dedup_key`` so that a retried or re-batched delivery appends
nothing. ``docs/protocol.md`` documents the same models for people.

This module imports nothing but pydantic and the standard library: the replica imports it too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer

PROTOCOL_VERSION = 1


class Channel(StrEnum):
    INSTAGRAM = "INSTAGRAM"
    WHATSAPP = "WHATSAPP"
    MESSENGER = "MESSENGER"


class Direction(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class SenderType(StrEnum):
    CUSTOMER = "CUSTOMER"
    USER = "USER"
    SYSTEM = "SYSTEM"


class ContentType(StrEnum):
    """What a message mainly is; the first attachment decides when there is no text."""

    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    FILE = "FILE"
    STICKER = "STICKER"
    LOCATION = "LOCATION"
    SHARE = "SHARE"
    STORY_MENTION = "STORY_MENTION"
    REEL = "REEL"
    CONTACTS = "CONTACTS"
    REACTION = "REACTION"
    UNSUPPORTED = "UNSUPPORTED"


class AttachmentType(StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    FILE = "FILE"
    STICKER = "STICKER"
    LOCATION = "LOCATION"
    SHARE = "SHARE"
    STORY_MENTION = "STORY_MENTION"
    REEL = "REEL"
    CONTACTS = "CONTACTS"
    TEMPLATE = "TEMPLATE"
    FALLBACK = "FALLBACK"


class DeliveryState(StrEnum):
    """Delivery state of an outbound message. Only moves forward; FAILED stands apart."""

    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def utc(dt: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are taken as UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def format_time(dt: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``: sortable as text, the same on every side."""
    return utc(dt).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Attachment(_Model):
    type: AttachmentType
    url: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None
    title: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class ProviderError(_Model):
    code: str | None = None
    title: str | None = None
    message: str | None = None


class MessageBody(_Model):
    channel_message_id: str
    direction: Direction
    sender_type: SenderType
    content_type: ContentType
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None
    # The provider's own name for a type we keep as UNSUPPORTED or fold into TEXT.
    provider_type: str | None = None


class _ChannelEvent(_Model):
    """What every channel event carries: its identity, its conversation and provider time."""

    dedup_key: str
    channel: Channel
    account_id: str  # the business side: Instagram account, Page, WhatsApp phone number id
    customer_id: str  # IGSID, PSID, wa_id (or WhatsApp's business-scoped user id)
    occurred_at: datetime  # the provider's timestamp, UTC

    @field_serializer("occurred_at")
    def _ser_time(self, value: datetime) -> str:
        return format_time(value)

    @property
    def conversation_key(self) -> tuple[str, str, str]:
        return (self.channel.value, self.account_id, self.customer_id)


class MessageReceived(_ChannelEvent):
    type: Literal["message.received"] = "message.received"
    message: MessageBody


class MessageEchoed(_ChannelEvent):
    """A message the business sent from elsewhere (the phone app, another tool)."""

    type: Literal["message.echoed"] = "message.echoed"
    message: MessageBody


class MessageEdited(_ChannelEvent):
    type: Literal["message.edited"] = "message.edited"
    channel_message_id: str
    text: str | None = None
    edit_count: int | None = None


class MessageDeleted(_ChannelEvent):
    type: Literal["message.deleted"] = "message.deleted"
    channel_message_id: str


class ReactionSet(_ChannelEvent):
    type: Literal["reaction.set"] = "reaction.set"
    channel_message_id: str
    emoji: str
    reaction: str | None = None  # the provider's name for it ("love"), when given
    sender_type: SenderType = SenderType.CUSTOMER


class ReactionRemoved(_ChannelEvent):
    type: Literal["reaction.removed"] = "reaction.removed"
    channel_message_id: str
    sender_type: SenderType = SenderType.CUSTOMER


class MessageStatus(_ChannelEvent):
    """The delivery state of one outbound message (WhatsApp statuses, send results)."""

    type: Literal["message.status"] = "message.status"
    channel_message_id: str
    status: DeliveryState
    error: ProviderError | None = None


class Watermark(_ChannelEvent):
    """Everything outbound up to a point was delivered or read.

    The point is a provider time (Messenger's watermarks) or a message (Instagram's
    read-by-mid); ``channel_message_ids`` lists messages named explicitly as well.
    """

    type: Literal["message.watermark"] = "message.watermark"
    status: Literal[DeliveryState.DELIVERED, DeliveryState.READ]
    watermark: datetime | None = None
    up_to_message_id: str | None = None
    channel_message_ids: tuple[str, ...] = ()

    @field_serializer("watermark")
    def _ser_watermark(self, value: datetime | None) -> str | None:
        return None if value is None else format_time(value)


class ContactProfile(_ChannelEvent):
    type: Literal["contact.profile"] = "contact.profile"
    name: str | None = None
    username: str | None = None
    phone: str | None = None
    wa_id: str | None = None
    user_id: str | None = None


ChannelEvent = Annotated[
    MessageReceived
    | MessageEchoed
    | MessageEdited
    | MessageDeleted
    | ReactionSet
    | ReactionRemoved
    | MessageStatus
    | Watermark
    | ContactProfile,
    Field(discriminator="type"),
]

CHANNEL_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "message.received",
        "message.echoed",
        "message.edited",
        "message.deleted",
        "reaction.set",
        "reaction.removed",
        "message.status",
        "message.watermark",
        "contact.profile",
    }
)

channel_event_adapter: TypeAdapter[ChannelEvent] = TypeAdapter(ChannelEvent)


def parse_channel_event(data: dict[str, Any] | str | bytes) -> ChannelEvent:
    if isinstance(data, str | bytes):
        return channel_event_adapter.validate_json(data)
    return channel_event_adapter.validate_python(data)


class LogEntry(BaseModel):
    """One event of the relay's log as ``GET /v1/events`` returns it."""

    seq: int
    origin: Literal["channel", "mutation"]
    type: str
    recorded_at: str
    event: dict[str, Any]


class EventsPage(BaseModel):
    events: list[LogEntry]
    next_after: int  # pass as ``after`` to continue
    head: int  # the newest seq in the log when the page was read


class WhoAmI(BaseModel):
    name: str
    role: Literal["ADMIN", "MEMBER"]
    protocol_version: int = PROTOCOL_VERSION
