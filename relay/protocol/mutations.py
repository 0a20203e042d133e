"""Mutations: the changes agents make. Each carries a client-made id, so pushing it twice
appends it once; replicas apply them in log order (``inboop_tui.domain.mutations``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from relay.protocol.events import _Model
from relay.protocol.plain import Channel, conversation_id, format_time, utc

MUTATION_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CONVERSATION_ID = r"^cv_[0-9a-f]{24}$"
USER_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"
TAG = r"^[^\s,]{1,64}$"
MAX_NOTE_CHARS = 10_000
MAX_SLA_MINUTES = 7 * 24 * 60
SHORTCODE = r"^[a-z0-9][a-z0-9_-]{0,31}$"
TEMPLATE_NAME = r"^[a-z0-9_]{1,512}$"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
UPLOAD_ID = r"^[0-9a-f]{64}$"  # the file's SHA-256
# The longest text each channel takes in one message.
REPLY_LIMITS = {Channel.INSTAGRAM: 1000, Channel.MESSENGER: 2000, Channel.WHATSAPP: 4096}


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


class OutgoingAttachment(_Model):
    """A file uploaded to the relay (``POST /v1/uploads``) to send with a reply."""

    upload_id: Annotated[str, Field(pattern=UPLOAD_ID)]
    type: Literal["IMAGE", "VIDEO", "AUDIO", "FILE"]
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    mime_type: Annotated[str, Field(min_length=3, max_length=127)]
    size: Annotated[int, Field(ge=1, le=MAX_UPLOAD_BYTES)]


class TemplateMessage(_Model):
    """An approved WhatsApp template, the only kind of message outside the reply window."""

    name: Annotated[str, Field(pattern=TEMPLATE_NAME)]
    language: Annotated[str, Field(min_length=2, max_length=15)]
    parameters: tuple[Annotated[str, Field(min_length=1, max_length=1024)], ...] = ()
    text: str | None = None  # the body as the agent saw it, parameters filled in


class ReplyPayload(_Model):
    """A message to the customer. The identity is spelled out so the relay can send it (and
    checks it against ``conversation_id``)."""

    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    channel: Channel
    account_id: Annotated[str, Field(min_length=1, max_length=128)]
    customer_id: Annotated[str, Field(min_length=1, max_length=128)]
    text: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    attachment: OutgoingAttachment | None = None
    template: TemplateMessage | None = None

    @model_validator(mode="after")
    def _one_message(self) -> ReplyPayload:
        if (
            conversation_id(self.channel.value, self.account_id, self.customer_id)
            != self.conversation_id
        ):
            raise ValueError("conversation_id does not match the channel, account and customer")
        if self.template is not None:
            if self.channel is not Channel.WHATSAPP:
                raise ValueError("templates are sent on WhatsApp only")
            if self.text is not None or self.attachment is not None:
                raise ValueError("a template is sent alone")
        elif self.text is None and self.attachment is None:
            raise ValueError("a reply needs text, a file or a template")
        elif self.attachment is not None and self.text is not None:
            if self.channel is not Channel.WHATSAPP or self.attachment.type == "AUDIO":
                raise ValueError("this file is sent without text: send the text on its own")
        if self.text is not None and len(self.text) > REPLY_LIMITS[self.channel]:
            raise ValueError(
                f"{self.channel.value.title()} takes at most {REPLY_LIMITS[self.channel]:,} characters"
            )
        return self


class CannedPayload(_Model):
    canned_id: Annotated[str, Field(pattern=MUTATION_ID)]
    shortcode: Annotated[str, Field(pattern=SHORTCODE)]
    title: Annotated[str, Field(min_length=1, max_length=100)]
    text: Annotated[str, Field(min_length=1, max_length=4096)]


class CannedRef(_Model):
    canned_id: Annotated[str, Field(pattern=MUTATION_ID)]


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


class SendReply(_Mutation):
    """A message to the customer; the mutation's id is the reply's id."""

    type: Literal["message.reply"] = "message.reply"
    payload: ReplyPayload


class SaveCanned(_Mutation):
    """Add or change one of the team's canned replies (the same ``canned_id`` edits it)."""

    type: Literal["canned.save"] = "canned.save"
    payload: CannedPayload


class DeleteCanned(_Mutation):
    type: Literal["canned.delete"] = "canned.delete"
    payload: CannedRef
