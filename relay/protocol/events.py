"""Channel events: what the relay's normalisers make of Meta's webhooks (and what its outbound
queue learns from Meta's send API), channel-agnostic, each with a deterministic ``dedup_key``
so that a retried or re-batched delivery appends nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_serializer,
)

from relay.protocol.plain import (
    AttachmentType,
    Channel,
    ContentType,
    DeliveryState,
    Direction,
    SenderType,
    format_time,
)

# Longest ids the log keeps (the relay's columns on PostgreSQL hold them; anything longer is
# not an id Meta sends, and the item it is in fails alone instead of its whole delivery).
PartyId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
DedupKey = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CartItem(_Model):
    """One line of a WhatsApp catalog cart, as the customer sent it."""

    retailer_id: str
    quantity: int
    item_price: str  # in the currency's units, as the channel wrote it ("1499.5"): never a float
    currency: str


class Attachment(_Model):
    type: AttachmentType
    url: str | None = None
    media_id: MessageId | None = None
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None
    title: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    catalog_id: str | None = None  # CART
    items: tuple[CartItem, ...] | None = None  # CART: the products, quantities and prices


class ProviderError(_Model):
    code: str | None = None
    title: str | None = None
    message: str | None = None


class MessageBody(_Model):
    channel_message_id: MessageId
    direction: Direction
    sender_type: SenderType
    content_type: ContentType
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None
    # The provider's own name for a type we keep as UNSUPPORTED or fold into TEXT.
    provider_type: str | None = None
    # An echo of one of our replies names it (see REPLY_TAG).
    reply_id: str | None = None


class _ChannelEvent(_Model):
    """What every channel event carries: its identity, its conversation and provider time."""

    dedup_key: DedupKey
    channel: Channel
    account_id: PartyId  # the business side: Instagram account, Page, WhatsApp phone number id
    customer_id: PartyId  # IGSID, PSID, wa_id (or WhatsApp's business-scoped user id)
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
    channel_message_id: MessageId
    text: str | None = None
    edit_count: int | None = None


class MessageDeleted(_ChannelEvent):
    type: Literal["message.deleted"] = "message.deleted"
    channel_message_id: MessageId


class ReactionSet(_ChannelEvent):
    type: Literal["reaction.set"] = "reaction.set"
    channel_message_id: MessageId
    emoji: str
    reaction: str | None = None  # the provider's name for it ("love"), when given
    sender_type: SenderType = SenderType.CUSTOMER


class ReactionRemoved(_ChannelEvent):
    type: Literal["reaction.removed"] = "reaction.removed"
    channel_message_id: MessageId
    sender_type: SenderType = SenderType.CUSTOMER


class MessageStatus(_ChannelEvent):
    """The delivery state of one outbound message (WhatsApp statuses, send results)."""

    type: Literal["message.status"] = "message.status"
    channel_message_id: MessageId
    status: DeliveryState
    error: ProviderError | None = None
    reply_id: str | None = None  # the status of one of our replies (see REPLY_TAG)


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
    # WhatsApp: the id shared across a business's linked portfolios, where Meta sends one.
    parent_user_id: str | None = None


class AttachmentFetched(_ChannelEvent):
    """The relay fetched a message's attachment into its store (``size``, ``content_type``),
    gave up on it (``error``: too large, not media, the link expired), or, later, removed it
    after the retention time (``expired``, with the ``error`` that says so)."""

    type: Literal["attachment.fetched"] = "attachment.fetched"
    channel_message_id: MessageId
    index: int
    size: int | None = None
    content_type: str | None = None
    error: str | None = None
    expired: bool = False


class ReplySent(_ChannelEvent):
    """The relay sent one of our replies; the channel knows it by ``channel_message_id``."""

    type: Literal["reply.sent"] = "reply.sent"
    reply_id: str
    channel_message_id: MessageId


class ReplyFailed(_ChannelEvent):
    """The relay could not send one of our replies and will not try again."""

    type: Literal["reply.failed"] = "reply.failed"
    reply_id: str
    error: ProviderError


ChannelEvent = Annotated[
    MessageReceived
    | MessageEchoed
    | MessageEdited
    | MessageDeleted
    | ReactionSet
    | ReactionRemoved
    | MessageStatus
    | Watermark
    | ContactProfile
    | AttachmentFetched
    | ReplySent
    | ReplyFailed,
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
        "attachment.fetched",
        "reply.sent",
        "reply.failed",
    }
)

channel_event_adapter: TypeAdapter[ChannelEvent] = TypeAdapter(ChannelEvent)


def parse_channel_event(data: dict[str, Any] | str | bytes) -> ChannelEvent:
    if isinstance(data, str | bytes):
        return channel_event_adapter.validate_json(data)
    return channel_event_adapter.validate_python(data)
