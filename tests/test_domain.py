"""The pure rules of inboop_tui.domain."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from inboop_tui.domain import states
from inboop_tui.domain.conversations import (
    ContactState,
    ConversationState,
    conversation_id,
    fold_message,
    new_conversation,
    watermark_status,
    with_watermark,
)
from inboop_tui.domain.messages import (
    MessageState,
    empty_message,
    later_status,
    preview_text,
    with_body,
    with_delete,
    with_edit,
    with_reaction,
    with_status,
)
from inboop_tui.domain.notes import CannedState, NoteState, WorkspaceState
from inboop_tui.domain.selling import LeadState, OrderState
from inboop_tui.domain.timing import relative, reply_window
from relay.protocol import (
    Channel,
    ContentType,
    DeliveryState,
    Direction,
    MessageBody,
    MessageDeleted,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    MessageStatus,
    ReactionRemoved,
    ReactionSet,
    SenderType,
)

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
COMMON = {"channel": Channel.MESSENGER, "account_id": "P", "customer_id": "C"}
CID = conversation_id("MESSENGER", "P", "C")


def received(mid: str, at: datetime, text: str = "hi") -> MessageReceived:
    body = MessageBody(
        channel_message_id=mid,
        direction=Direction.INBOUND,
        sender_type=SenderType.CUSTOMER,
        content_type=ContentType.TEXT,
        text=text,
    )
    return MessageReceived(dedup_key=f"msg:{mid}", occurred_at=at, message=body, **COMMON)


def echoed(mid: str, at: datetime, text: str = "hello") -> MessageEchoed:
    body = MessageBody(
        channel_message_id=mid,
        direction=Direction.OUTBOUND,
        sender_type=SenderType.USER,
        content_type=ContentType.TEXT,
        text=text,
    )
    return MessageEchoed(dedup_key=f"msg:{mid}", occurred_at=at, message=body, **COMMON)


def status(mid: str, state: DeliveryState, at: datetime) -> MessageStatus:
    return MessageStatus(
        dedup_key=f"st:{mid}:{state}",
        occurred_at=at,
        channel_message_id=mid,
        status=state,
        **COMMON,
    )


def test_conversation_id_is_deterministic_and_distinct() -> None:
    assert conversation_id("WHATSAPP", "PN", "91") == conversation_id("WHATSAPP", "PN", "91")
    assert conversation_id("WHATSAPP", "PN", "91") != conversation_id("WHATSAPP", "PN2", "91")
    assert conversation_id("WHATSAPP", "PN", "91") != conversation_id("INSTAGRAM", "PN", "91")


def test_delivery_state_only_moves_forward() -> None:
    assert later_status("READ", "DELIVERED") == "READ"
    assert later_status("SENT", "DELIVERED") == "DELIVERED"
    assert later_status(None, "SENT") == "SENT"
    assert later_status("DELIVERED", "FAILED") == "DELIVERED"
    m = with_body(empty_message("MESSENGER", "m1", CID), echoed("m1", T))
    m = with_status(
        with_status(m, status("m1", DeliveryState.READ, T)),
        status("m1", DeliveryState.DELIVERED, T + timedelta(seconds=5)),
    )
    assert m.delivery_status == "READ"


def test_status_before_its_message_is_kept_and_applied_when_it_arrives() -> None:
    early = with_status(
        empty_message("MESSENGER", "m1", CID), status("m1", DeliveryState.DELIVERED, T)
    )
    assert not early.has_body and early.delivery_status == "DELIVERED"
    arrived = with_body(early, echoed("m1", T - timedelta(seconds=1)))
    assert arrived.has_body and arrived.delivery_status == "DELIVERED"


def test_newest_edit_wins_and_delete_is_final() -> None:
    m = with_body(empty_message("MESSENGER", "m1", CID), received("m1", T, "blue"))
    first = MessageEdited(
        dedup_key="e1",
        occurred_at=T + timedelta(minutes=1),
        channel_message_id="m1",
        text="red",
        edit_count=1,
        **COMMON,
    )
    second = MessageEdited(
        dedup_key="e2",
        occurred_at=T + timedelta(minutes=2),
        channel_message_id="m1",
        text="green",
        edit_count=2,
        **COMMON,
    )
    assert with_edit(with_edit(m, second), first).text == "green"
    assert with_edit(with_edit(m, first), second).text == "green"
    deleted = with_delete(
        m,
        MessageDeleted(
            dedup_key="d", occurred_at=T + timedelta(minutes=3), channel_message_id="m1", **COMMON
        ),
    )
    assert with_edit(deleted, second).is_deleted
    assert preview_text(deleted) == "(message deleted)"


def test_reactions_newest_wins_per_side() -> None:
    m = with_body(empty_message("MESSENGER", "m1", CID), echoed("m1", T))
    heart = ReactionSet(
        dedup_key="r1",
        occurred_at=T + timedelta(seconds=1),
        channel_message_id="m1",
        emoji="❤️",
        **COMMON,
    )
    removed = ReactionRemoved(
        dedup_key="r2", occurred_at=T + timedelta(seconds=2), channel_message_id="m1", **COMMON
    )
    assert with_reaction(with_reaction(m, heart), removed).reaction_map() == {
        "CUSTOMER": (
            removed.occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "",
        )
    }
    assert with_reaction(with_reaction(m, removed), heart) == with_reaction(
        with_reaction(m, heart), removed
    )


def test_fold_keeps_the_newest_message_as_preview_in_any_order() -> None:
    conv = new_conversation("MESSENGER", "P", "C")
    a = with_body(empty_message("MESSENGER", "a", CID), received("a", T, "first"))
    b = with_body(
        empty_message("MESSENGER", "b", CID), echoed("b", T + timedelta(minutes=1), "second")
    )
    one = fold_message(fold_message(conv, None, a), None, b)
    two = fold_message(fold_message(conv, None, b), None, a)
    assert one == two
    assert (one.preview, one.preview_direction, one.message_count) == ("second", "OUTBOUND", 2)
    assert one.last_inbound_at == a.sent_at and one.first_message_at == a.sent_at


def test_watermark_reaches_outbound_messages_up_to_its_time() -> None:
    conv = with_watermark(
        new_conversation("MESSENGER", "P", "C"), "READ", "2026-11-20T10:05:00.000Z"
    )
    before = with_body(empty_message("MESSENGER", "b", CID), echoed("b", T))
    after = with_body(empty_message("MESSENGER", "c", CID), echoed("c", T + timedelta(minutes=10)))
    inbound = with_body(empty_message("MESSENGER", "i", CID), received("i", T))
    assert watermark_status(conv, before) == "READ"
    assert watermark_status(conv, after) is None
    assert watermark_status(conv, inbound) is None


def test_relative_times_and_reply_window() -> None:
    now = T + timedelta(hours=5)
    assert relative("2026-11-20T10:00:00.000Z", now) == "5h"
    assert relative("2026-11-20T14:59:30.000Z", now) == "now"
    assert relative("2026-11-01T10:00:00.000Z", now) == "01 Nov"
    window = reply_window("2026-11-20T10:00:00.000Z", now)
    assert window.open and window.remaining == timedelta(hours=19)
    assert "19h 00m left" in window.describe("WHATSAPP")
    closed = reply_window("2026-11-18T10:00:00.000Z", now)
    assert not closed.open and "templates" in closed.describe("WHATSAPP")
    assert not reply_window(None, now).open


# --- copying states ------------------------------------------------------------------------


STATE_TYPES = [
    ContactState,
    ConversationState,
    MessageState,
    CannedState,
    NoteState,
    WorkspaceState,
    LeadState,
    OrderState,
]


def test_a_copied_state_is_the_record_dataclasses_replace_makes() -> None:
    for kind in STATE_TYPES:
        fields = dataclasses.fields(kind)
        original = kind(**{f.name: f"{f.name}-0" for f in fields})
        for field in fields:
            changes = {field.name: f"{field.name}-1"}
            copy = states._replace(original, **changes)
            assert copy == dataclasses.replace(original, **changes), kind.__name__
            assert type(copy) is kind and copy is not original
            assert getattr(original, field.name) == f"{field.name}-0"  # the original stays
            assert hash(copy) == hash(dataclasses.replace(original, **changes))


def test_copying_a_state_refuses_what_it_cannot_copy_exactly() -> None:
    conv = new_conversation("messenger", "page", "psid")
    with pytest.raises(TypeError, match="ConversationState has no field colour"):
        states._replace(conv, colour="red")

    @dataclasses.dataclass(frozen=True)
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    with pytest.raises(TypeError, match="every field must be set by __init__"):
        states._replace(Derived(1), a=2)

    @dataclasses.dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            assert self.a >= 0

    with pytest.raises(TypeError, match="plain frozen dataclasses only"):
        states._replace(Checked(1), a=2)
