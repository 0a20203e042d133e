"""``reduce(log)``: log entries applied to an in-memory slice of the projections.

The store loads the rows a batch touches into a :class:`Slice`, calls :func:`apply_event` for
each channel event (``domain.mutations.apply_mutation`` for each mutation) and writes the slice
back. Nothing here does I/O. Watermarks also reach outbound messages that are not in the slice;
:attr:`Slice.watermarks` lists them for the store to apply to the stored rows with the same
forward-only rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from inboop_tui.domain.conversations import (
    ContactState,
    ConversationState,
    contact_id,
    conversation_id,
    fold_message,
    new_conversation,
    watermark_status,
    with_profile,
    with_watermark,
)
from inboop_tui.domain.messages import (
    MessageState,
    empty_message,
    merge_facts,
    reply_key,
    with_body,
    with_delete,
    with_edit,
    with_explicit_delivery,
    with_fetched,
    with_reaction,
    with_read_mark,
    with_reply_failed,
    with_sent,
    with_status,
)
from inboop_tui.domain.notes import CannedState, NoteState, WorkspaceState
from inboop_tui.domain.selling import LeadState, OrderState
from inboop_tui.domain.states import replace
from relay.protocol import (
    AttachmentFetched,
    ChannelEvent,
    ContactProfile,
    MessageDeleted,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    MessageStatus,
    Mutation,
    ReactionRemoved,
    ReactionSet,
    ReplyFailed,
    ReplySent,
    SendReply,
    Watermark,
    format_time,
)

MessageKey = tuple[str, str]  # (channel, channel_message_id)


@dataclass
class Slice:
    messages: dict[MessageKey, MessageState] = field(default_factory=dict)
    conversations: dict[str, ConversationState] = field(default_factory=dict)
    contacts: dict[str, ContactState] = field(default_factory=dict)
    notes: dict[str, NoteState] = field(default_factory=dict)
    workspace: WorkspaceState = field(default_factory=WorkspaceState)
    watermarks: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (conversation, status, at)
    changed_messages: set[MessageKey] = field(default_factory=set)
    changed_conversations: set[str] = field(default_factory=set)
    new_conversations: set[str] = field(default_factory=set)  # made by this slice
    changed_contacts: set[str] = field(default_factory=set)
    # The contacts as they were before this slice's changes.
    loaded_contacts: dict[str, ContactState] = field(default_factory=dict)
    changed_notes: set[str] = field(default_factory=set)
    changed_workspace: bool = False
    canned: dict[str, CannedState] = field(default_factory=dict)
    changed_canned: set[str] = field(default_factory=set)
    removed_canned: set[str] = field(default_factory=set)
    # The channel's ids of our replies: (channel, channel id) -> (channel, reply key).
    aliases: dict[MessageKey, MessageKey] = field(default_factory=dict)
    new_aliases: dict[MessageKey, MessageKey] = field(default_factory=dict)
    removed_messages: set[MessageKey] = field(default_factory=set)
    # What is new to a person: messages whose body arrived, notes the log confirmed.
    arrived: list[MessageKey] = field(default_factory=list)
    new_notes: list[NoteState] = field(default_factory=list)
    leads: dict[str, LeadState] = field(default_factory=dict)
    orders: dict[str, OrderState] = field(default_factory=dict)
    changed_leads: set[str] = field(default_factory=set)
    changed_orders: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Needs:
    """The rows a batch of log entries touches."""

    messages: frozenset[MessageKey] = frozenset()
    conversations: frozenset[str] = frozenset()
    contacts: frozenset[str] = frozenset()
    notes: frozenset[str] = frozenset()
    workspace: bool = False
    canned: bool = False
    leads: frozenset[str] = frozenset()
    orders: frozenset[str] = frozenset()
    # Also the contacts of the conversations (an order names its customer), and the contacts
    # merged into the wanted ones (a merge moves them too).
    conversation_contacts: bool = False
    merged_contacts: bool = False


def needs(events: Sequence[ChannelEvent], mutations: Sequence[Mutation] = ()) -> Needs:
    messages: set[MessageKey] = set()
    conversations: set[str] = set()
    contacts: set[str] = set()
    notes: set[str] = set()
    workspace = False
    canned = False
    leads: set[str] = set()
    orders: set[str] = set()
    conversation_contacts = merged_contacts = False
    for event in events:
        conversations.add(conversation_id(event.channel.value, event.account_id, event.customer_id))
        contacts.add(contact_id(event.channel.value, event.account_id, event.customer_id))
        for mid in message_ids_of(event):
            messages.add((event.channel.value, mid))
    for mutation in mutations:
        target = getattr(mutation.payload, "conversation_id", None)
        if target is not None:
            conversations.add(target)
        if mutation.type == "conversation.note":
            notes.add(mutation.id)
        if mutation.type.startswith("workspace."):
            workspace = True
        if mutation.type.startswith("canned."):
            canned = True
        if isinstance(mutation, SendReply):
            messages.add((mutation.payload.channel.value, reply_key(mutation.id)))
        lead = getattr(mutation.payload, "lead_id", None)
        if lead is not None:
            leads.add(lead)
        order = getattr(mutation.payload, "order_id", None)
        if order is not None:
            orders.add(order)
        if mutation.type == "order.create":
            workspace = conversation_contacts = True
        if mutation.type.startswith("contact."):
            contacts.add(mutation.payload.contact_id)  # type: ignore[union-attr]
            merged = getattr(mutation.payload, "merged_id", None)
            if merged is not None:
                contacts.add(merged)
                merged_contacts = True
    return Needs(
        frozenset(messages),
        frozenset(conversations),
        frozenset(contacts),
        frozenset(notes),
        workspace,
        canned,
        frozenset(leads),
        frozenset(orders),
        conversation_contacts,
        merged_contacts,
    )


def message_ids_of(event: ChannelEvent) -> tuple[str, ...]:
    """The messages an event is about (for one of our replies, both of its ids)."""
    if isinstance(event, MessageReceived | MessageEchoed):
        if event.message.reply_id:
            return (event.message.channel_message_id, reply_key(event.message.reply_id))
        return (event.message.channel_message_id,)
    if isinstance(event, MessageStatus) and event.reply_id:
        return (event.channel_message_id, reply_key(event.reply_id))
    if isinstance(event, ReplySent):
        return (event.channel_message_id, reply_key(event.reply_id))
    if isinstance(event, ReplyFailed):
        return (reply_key(event.reply_id),)
    if isinstance(
        event,
        MessageEdited
        | MessageDeleted
        | ReactionSet
        | ReactionRemoved
        | MessageStatus
        | AttachmentFetched,
    ):
        return (event.channel_message_id,)
    if isinstance(event, Watermark):
        ids = event.channel_message_ids
        return (*ids, event.up_to_message_id) if event.up_to_message_id else ids
    return ()


def apply_event(s: Slice, event: ChannelEvent) -> None:
    channel = event.channel.value
    cid = conversation_id(channel, event.account_id, event.customer_id)
    if cid not in s.conversations:
        s.conversations[cid] = new_conversation(channel, event.account_id, event.customer_id)
        s.changed_conversations.add(cid)
        s.new_conversations.add(cid)
    ctid = contact_id(channel, event.account_id, event.customer_id)
    if ctid not in s.contacts:
        s.contacts[ctid] = ContactState(ctid, channel, event.account_id, event.customer_id)
        s.changed_contacts.add(ctid)

    if isinstance(event, ContactProfile):
        profiled = with_profile(s.contacts[ctid], event)
        if profiled is not s.contacts[ctid]:
            s.contacts[ctid] = profiled
            s.changed_contacts.add(ctid)
    elif isinstance(event, MessageEchoed) and event.message.reply_id:
        # The channel echoes one of our replies: it was sent; it is the reply's row.
        target = _link(s, channel, event.message.channel_message_id, event.message.reply_id)
        at = format_time(event.occurred_at)
        mid = event.message.channel_message_id
        change_message(s, cid, channel, target, lambda m: with_sent(with_body(m, event), mid, at))
    elif isinstance(event, MessageReceived | MessageEchoed):
        change_message(
            s, cid, channel, event.message.channel_message_id, lambda m: with_body(m, event)
        )
    elif isinstance(event, ReplySent):
        target = _link(s, channel, event.channel_message_id, event.reply_id)
        at = format_time(event.occurred_at)
        change_message(
            s, cid, channel, target, lambda m: with_sent(m, event.channel_message_id, at)
        )
    elif isinstance(event, ReplyFailed):
        error = event.error.model_dump_json(exclude_none=True)
        change_message(
            s, cid, channel, reply_key(event.reply_id), lambda m: with_reply_failed(m, error)
        )
    elif isinstance(event, MessageStatus) and event.reply_id:
        target = _link(s, channel, event.channel_message_id, event.reply_id)
        change_message(s, cid, channel, target, lambda m: with_status(m, event))
    elif isinstance(event, MessageEdited):
        change_message(s, cid, channel, event.channel_message_id, lambda m: with_edit(m, event))
    elif isinstance(event, MessageDeleted):
        change_message(s, cid, channel, event.channel_message_id, lambda m: with_delete(m, event))
    elif isinstance(event, ReactionSet | ReactionRemoved):
        change_message(s, cid, channel, event.channel_message_id, lambda m: with_reaction(m, event))
    elif isinstance(event, MessageStatus):
        change_message(s, cid, channel, event.channel_message_id, lambda m: with_status(m, event))
    elif isinstance(event, AttachmentFetched):
        change_message(s, cid, channel, event.channel_message_id, lambda m: with_fetched(m, event))
    elif isinstance(event, Watermark):
        status = event.status.value
        for mid in event.channel_message_ids:
            change_message(s, cid, channel, mid, lambda m: with_explicit_delivery(m, status))
        if event.watermark is not None:
            _watermark(s, cid, status, format_time(event.watermark))
        if event.up_to_message_id is not None:
            change_message(
                s, cid, channel, event.up_to_message_id, lambda m: with_read_mark(m, status)
            )


def _watermark(s: Slice, cid: str, status: str, at: str) -> None:
    conv = with_watermark(s.conversations[cid], status, at)
    if conv != s.conversations[cid]:
        s.conversations[cid] = conv
        s.changed_conversations.add(cid)
    s.watermarks.append((cid, status, at))
    for key, message in s.messages.items():
        if message.conversation_id == cid and message.has_body:
            reached = watermark_status(conv, message)
            if reached is not None:
                updated = with_explicit_delivery(message, reached)
                if updated != message:
                    s.messages[key] = updated
                    s.changed_messages.add(key)


def _link(s: Slice, channel: str, channel_message_id: str, reply_id: str) -> str:
    """The channel's id of one of our replies: from now on, events under it apply to the
    reply's row, and what was already said under it (a status, a reaction that came first)
    is folded into that row. Returns the reply's key."""
    alias, target = (channel, channel_message_id), (channel, reply_key(reply_id))
    if s.aliases.get(alias) != target:
        s.aliases[alias] = target
        s.new_aliases[alias] = target
    stray = s.messages.pop(alias, None)
    if stray is not None:
        s.removed_messages.add(alias)
        s.changed_messages.discard(alias)
        into = s.messages.get(target) or empty_message(channel, target[1], stray.conversation_id)
        s.messages[target] = merge_facts(into, stray)
        s.changed_messages.add(target)
        if stray.has_body:  # counted once as its own message: it is the reply
            conv = s.conversations[stray.conversation_id]
            s.conversations[conv.id] = replace(conv, message_count=max(0, conv.message_count - 1))
            s.changed_conversations.add(conv.id)
    return target[1]


def change_message(
    s: Slice, cid: str, channel: str, mid: str, rule: Callable[[MessageState], MessageState]
) -> None:
    """Apply a rule to one message (under the reply's row if ``mid`` is one of our replies'
    channel ids) and fold the change into its conversation."""
    key = s.aliases.get((channel, mid), (channel, mid))
    mid = key[1]
    before = s.messages.get(key)
    after = rule(before or empty_message(channel, mid, cid))
    conv_id = after.conversation_id
    if after.has_body and after.sent_at is not None:
        arrived = before is None or not before.has_body
        old_mark = before.marks_up_to if before is not None else None
        old_at = before.channel_at if before is not None else None
        moved = after.marks_up_to != old_mark or after.channel_at != old_at
        if after.marks_up_to is not None and (arrived or moved):
            # Instagram's read-by-mid: everything outbound up to when the channel had it.
            _watermark(s, conv_id, after.marks_up_to, after.channel_at or after.sent_at)
        reached = watermark_status(s.conversations[conv_id], after)
        if reached is not None:
            after = with_explicit_delivery(after, reached)
    if after == before:
        return
    if after.has_body and (before is None or not before.has_body):
        s.arrived.append(key)
    s.messages[key] = after
    s.changed_messages.add(key)
    folded = fold_message(s.conversations[conv_id], before, after)
    if folded != s.conversations[conv_id]:
        s.conversations[conv_id] = folded
        s.changed_conversations.add(conv_id)
