"""The v1 wire format shared by the relay and every replica.

Two kinds of entries share the log. Channel events are what the relay's normalisers make of
Meta's webhooks: channel-agnostic, each with a deterministic ``dedup_key`` so that a retried or
re-batched delivery appends nothing. Mutations are the changes agents make (assign, status,
tags, notes, settings): each carries a client-made id, so pushing it twice appends it once.
``docs/protocol.md`` documents the same models for people.

This module imports nothing but pydantic and the standard library: the replica imports it too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_serializer,
    field_validator,
    model_validator,
)

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


# --- Mutations: the changes agents make ------------------------------------------------------

MUTATION_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CONVERSATION_ID = r"^cv_[0-9a-f]{24}$"
USER_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"
TAG = r"^[^\s,]{1,64}$"
MAX_NOTE_CHARS = 10_000
MAX_SLA_MINUTES = 7 * 24 * 60


class ConversationStatus(StrEnum):
    OPEN = "OPEN"
    PENDING = "PENDING"
    RESOLVED = "RESOLVED"
    SNOOZED = "SNOOZED"


class _Mutation(_Model):
    """What every mutation carries: its client-made id, its author and the author's clock."""

    id: Annotated[str, Field(pattern=MUTATION_ID)]
    author: Annotated[str, Field(pattern=USER_NAME)]
    client_time: datetime

    @field_validator("client_time")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return utc(value)

    @field_serializer("client_time")
    def _ser_client_time(self, value: datetime) -> str:
        return format_time(value)


class AssignPayload(_Model):
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    assignee: Annotated[str, Field(pattern=USER_NAME)] | None = None  # None: unassigned


class StatusPayload(_Model):
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    status: ConversationStatus
    snoozed_until: datetime | None = None

    @field_validator("snoozed_until")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)

    @model_validator(mode="after")
    def _snooze_needs_a_time(self) -> StatusPayload:
        if (self.status is ConversationStatus.SNOOZED) != (self.snoozed_until is not None):
            raise ValueError("snoozed_until is required for SNOOZED and only for SNOOZED")
        return self

    @field_serializer("snoozed_until")
    def _ser_until(self, value: datetime | None) -> str | None:
        return None if value is None else format_time(value)


class TagsPayload(_Model):
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    add: tuple[Annotated[str, Field(pattern=TAG)], ...] = ()
    remove: tuple[Annotated[str, Field(pattern=TAG)], ...] = ()

    @model_validator(mode="after")
    def _something_to_do(self) -> TagsPayload:
        if not self.add and not self.remove:
            raise ValueError("add or remove at least one tag")
        if set(self.add) & set(self.remove):
            raise ValueError("a tag cannot be added and removed at once")
        return self


class NotePayload(_Model):
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS)]
    mentions: tuple[Annotated[str, Field(pattern=USER_NAME)], ...] = ()


class SlaPayload(_Model):
    # Expected first-response minutes; None turns the SLA badge off.
    expected_first_response_minutes: Annotated[int, Field(ge=1, le=MAX_SLA_MINUTES)] | None


class AssignConversation(_Mutation):
    type: Literal["conversation.assign"] = "conversation.assign"
    payload: AssignPayload


class SetConversationStatus(_Mutation):
    type: Literal["conversation.status"] = "conversation.status"
    payload: StatusPayload


class TagConversation(_Mutation):
    type: Literal["conversation.tags"] = "conversation.tags"
    payload: TagsPayload


class AddNote(_Mutation):
    """An internal note: shown to the team in the thread, never sent to the customer."""

    type: Literal["conversation.note"] = "conversation.note"
    payload: NotePayload


class SetSla(_Mutation):
    type: Literal["workspace.sla"] = "workspace.sla"
    payload: SlaPayload


Mutation = Annotated[
    AssignConversation | SetConversationStatus | TagConversation | AddNote | SetSla,
    Field(discriminator="type"),
]

MUTATION_TYPES: frozenset[str] = frozenset(
    {
        "conversation.assign",
        "conversation.status",
        "conversation.tags",
        "conversation.note",
        "workspace.sla",
    }
)
# Mutation types only an ADMIN may push, with what they do in words.
ADMIN_ONLY_MUTATIONS: dict[str, str] = {"workspace.sla": "change the workspace's SLA"}

mutation_adapter: TypeAdapter[Mutation] = TypeAdapter(Mutation)


def parse_mutation(data: dict[str, Any] | str | bytes) -> Mutation:
    if isinstance(data, str | bytes):
        return mutation_adapter.validate_json(data)
    return mutation_adapter.validate_python(data)


def mutation_dedup_key(mutation_id: str) -> str:
    return f"mut:{mutation_id}"


MAX_PUSH = 500


class PushRequest(BaseModel):
    """``POST /v1/mutations``: each item is validated on its own, so one bad item fails alone."""

    mutations: Annotated[list[dict[str, Any]], Field(max_length=MAX_PUSH)]


class PushResult(BaseModel):
    id: str | None
    status: Literal["accepted", "rejected"]
    seq: int | None = None  # accepted: the mutation's place in the log
    reason: str | None = None  # rejected: why, for a person


class PushResponse(BaseModel):
    results: list[PushResult]
    head: int


class TeamMember(BaseModel):
    name: str
    role: Literal["ADMIN", "MEMBER"]


# --- The log as the API serves it ------------------------------------------------------------


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
