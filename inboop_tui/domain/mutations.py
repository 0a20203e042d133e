"""Agents' mutations applied to a slice of the projections, in log order.

Unlike channel events, mutations are applied in the order the relay's log gives them, so every
replica resolves two agents' changes the same way:

- last writer wins per field: an assignment, a status (with its snooze time) and each tag are
  decided by the latest mutation that set them; other fields of the conversation are untouched;
- tags are added and removed one by one, so two agents tagging at once both keep their tags;
- a note is added once, under its mutation's id;
- a reply becomes an outbound message under its own id (``reply:<id>``), QUEUED until the
  relay's send queue says more; the channel's echo, statuses and the relay's result join it;
- canned replies: last writer wins per canned reply; a shortcode another canned reply already
  has is a conflict;
- a mutation that is no longer valid when its turn comes (its conversation does not exist) is
  not applied: it becomes a :class:`Conflict`, the same on every replica.

The same function applies a pending mutation (``seq`` None) from this replica's outbox on top
of the confirmed state, so the screen shows it at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from inboop_tui.domain.messages import MessageState, later_status, reply_key
from inboop_tui.domain.notes import CannedState, NoteState
from inboop_tui.domain.reducer import Slice, change_message
from inboop_tui.domain.selling_rules import apply_selling
from inboop_tui.domain.states import replace
from relay.protocol import (
    AddNote,
    AssignConversation,
    DeleteCanned,
    Mutation,
    SaveCanned,
    SendReply,
    SetConversationStatus,
    SetSla,
    TagConversation,
    format_time,
)
from relay.protocol.selling import SELLING_MUTATIONS


@dataclass(frozen=True)
class Conflict:
    seq: int
    mutation_id: str
    type: str
    author: str
    conversation_id: str | None
    reason: str
    client_time: str


def conversation_of(mutation: Mutation) -> str | None:
    """The conversation a mutation changes, if it changes one."""
    payload = mutation.payload
    return getattr(payload, "conversation_id", None)


def apply_mutation(s: Slice, mutation: Mutation, seq: int | None) -> Conflict | None:
    """Apply one mutation to the slice; a mutation that cannot apply is returned as a Conflict.

    The slice must hold the mutation's conversation if it exists (see ``reducer.needs``).
    """
    if isinstance(mutation, SELLING_MUTATIONS):
        reason = apply_selling(s, mutation, seq)
        return None if reason is None else _conflict(mutation, seq, reason)
    if isinstance(mutation, SaveCanned | DeleteCanned):
        return _canned(s, mutation, seq)
    if isinstance(mutation, SetSla):
        s.workspace = replace(
            s.workspace, sla_minutes=mutation.payload.expected_first_response_minutes
        )
        s.changed_workspace = True
        return None
    cid = conversation_of(mutation)
    assert cid is not None
    conv = s.conversations.get(cid)
    if conv is None:
        return _conflict(mutation, seq, "the conversation does not exist in this workspace")
    if isinstance(mutation, AssignConversation):
        changed = replace(conv, assignee=mutation.payload.assignee)
    elif isinstance(mutation, SetConversationStatus):
        until = mutation.payload.snoozed_until
        changed = replace(
            conv,
            status=mutation.payload.status.value,
            status_at=format_time(mutation.client_time),
            snoozed_until=None if until is None else format_time(until),
        )
    elif isinstance(mutation, TagConversation):
        tags = set(json.loads(conv.tags))
        tags.update(mutation.payload.add)
        tags.difference_update(mutation.payload.remove)
        changed = replace(conv, tags=json.dumps(sorted(tags), ensure_ascii=False))
    elif isinstance(mutation, SendReply):
        reply = mutation.payload
        body = _reply_body(mutation)
        change_message(
            s,
            cid,
            reply.channel.value,
            reply_key(mutation.id),
            lambda m: _as_reply(m, body, mutation),
        )
        return None
    elif isinstance(mutation, AddNote):
        existing = s.notes.get(mutation.id)
        note = NoteState(
            id=mutation.id,
            conversation_id=cid,
            author=mutation.author,
            text=mutation.payload.text,
            mentions=json.dumps(sorted(set(mutation.payload.mentions))),
            created_at=format_time(mutation.client_time),
            seq=seq,
        )
        if existing != note:
            s.notes[mutation.id] = note
            s.changed_notes.add(mutation.id)
            if seq is not None and (existing is None or existing.seq is None):
                s.new_notes.append(note)
        return None
    else:  # pragma: no cover - the union is closed; a new type must be handled above
        raise TypeError(f"no rule for {type(mutation).__name__}")
    if changed != conv:
        s.conversations[cid] = changed
        s.changed_conversations.add(cid)
    return None


def _conflict(mutation: Mutation, seq: int | None, reason: str) -> Conflict:
    return Conflict(
        seq=seq or 0,
        mutation_id=mutation.id,
        type=mutation.type,
        author=mutation.author,
        conversation_id=conversation_of(mutation),
        reason=reason,
        client_time=format_time(mutation.client_time),
    )


def _reply_body(mutation: SendReply) -> tuple[str, str | None, str]:
    """(content type, text, attachments JSON) of a reply as the thread shows it."""
    reply = mutation.payload
    if reply.template is not None:
        template = reply.template
        text = template.text or f"template {template.name}"
        attachments = [{"type": "TEMPLATE", "title": template.name}]
        return "TEXT", text, json.dumps(attachments)
    if reply.attachment is not None:
        file = reply.attachment
        attachments = [
            {
                "type": file.type,
                "filename": file.filename,
                "mime_type": file.mime_type,
                "media_id": file.upload_id,
            }
        ]
        return file.type, reply.text, json.dumps(attachments)
    return "TEXT", reply.text, "[]"


def _as_reply(
    state: MessageState, body: tuple[str, str | None, str], mutation: SendReply
) -> MessageState:
    content_type, text, attachments = body
    if state.has_body:
        return state
    return replace(
        state,
        has_body=True,
        direction="OUTBOUND",
        sender_type="USER",
        content_type=content_type,
        original_text=text,
        attachments=attachments,
        sent_at=format_time(mutation.client_time),
        delivery_status=later_status(state.delivery_status, "QUEUED"),
        reply_id=mutation.id,
        sent_by=mutation.author,
    )


def _canned(s: Slice, mutation: SaveCanned | DeleteCanned, seq: int | None) -> Conflict | None:
    canned_id = mutation.payload.canned_id
    if isinstance(mutation, DeleteCanned):
        if s.canned.pop(canned_id, None) is not None:
            s.removed_canned.add(canned_id)
            s.changed_canned.discard(canned_id)
        return None
    payload = mutation.payload
    taken = next(
        (c for c in s.canned.values() if c.shortcode == payload.shortcode and c.id != canned_id),
        None,
    )
    if taken is not None:
        reason = f"the shortcode /{payload.shortcode} is taken by the canned reply “{taken.title}”"
        return _conflict(mutation, seq, reason)
    s.canned[canned_id] = CannedState(
        id=canned_id,
        shortcode=payload.shortcode,
        title=payload.title,
        text=payload.text,
        updated_by=mutation.author,
        updated_at=format_time(mutation.client_time),
    )
    s.changed_canned.add(canned_id)
    s.removed_canned.discard(canned_id)
    return None
