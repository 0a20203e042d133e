"""The rules of agents' mutations, in words first, then as tests (domain: no I/O)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboop_tui.domain.conversations import (
    ConversationState,
    effective_status,
    new_conversation,
    normalise_tag,
    over_sla,
)
from inboop_tui.domain.mutations import apply_mutation
from inboop_tui.domain.notes import mentions_in
from inboop_tui.domain.reducer import Slice, needs
from inboop_tui.domain.timing import TimeError, parse_until
from relay.protocol import Mutation, format_time, parse_mutation

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONV = new_conversation("WHATSAPP", "1555", "9190")


def mutation(
    kind: str, payload: dict[str, Any], *, author: str = "ana", at: datetime = NOW
) -> Mutation:
    return parse_mutation(
        {
            "id": str(uuid.uuid4()),
            "author": author,
            "client_time": format_time(at),
            "type": kind,
            "payload": payload,
        }
    )


def assign(who: str | None, **kw: Any) -> Mutation:
    return mutation("conversation.assign", {"conversation_id": CONV.id, "assignee": who}, **kw)


def status(value: str, until: datetime | None = None, **kw: Any) -> Mutation:
    payload: dict[str, Any] = {"conversation_id": CONV.id, "status": value}
    if until is not None:
        payload["snoozed_until"] = format_time(until)
    return mutation("conversation.status", payload, **kw)


def tags(add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> Mutation:
    return mutation("conversation.tags", {"conversation_id": CONV.id, "add": add, "remove": remove})


def reduce(mutations: list[Mutation], start: ConversationState = CONV) -> Slice:
    piece = Slice(conversations={start.id: start})
    for seq, m in enumerate(mutations, start=1):
        assert apply_mutation(piece, m, seq) is None
    return piece


def test_last_writer_wins_per_field_in_log_order() -> None:
    piece = reduce([assign("bo"), status("PENDING"), assign("ana"), tags(("vip",))])
    conv = piece.conversations[CONV.id]
    assert (conv.assignee, conv.status, conv.tags) == ("ana", "PENDING", '["vip"]')
    # The other order of the two assignments: the later one in the log wins.
    assert reduce([assign("ana"), assign("bo")]).conversations[CONV.id].assignee == "bo"
    assert reduce([assign("bo"), assign(None)]).conversations[CONV.id].assignee is None


def test_tags_are_added_and_removed_one_by_one() -> None:
    # Two agents tag at once: both tags stay; a removal removes only its own tag.
    piece = reduce(
        [tags(("vip",)), tags(("cod",)), tags(remove=("vip",)), tags(("wholesale", "cod"))]
    )
    assert json.loads(piece.conversations[CONV.id].tags) == ["cod", "wholesale"]


def test_a_note_is_added_once_under_its_id() -> None:
    note = mutation(
        "conversation.note", {"conversation_id": CONV.id, "text": "call back", "mentions": ["bo"]}
    )
    piece = Slice(conversations={CONV.id: CONV})
    assert apply_mutation(piece, note, None) is None  # pending first
    assert piece.notes[note.id].seq is None and piece.new_notes == []
    assert apply_mutation(piece, note, 7) is None  # then its log entry comes back
    assert piece.notes[note.id].seq == 7 and [n.id for n in piece.new_notes] == [note.id]
    assert apply_mutation(piece, note, 7) is None
    assert len(piece.notes) == 1 and len(piece.new_notes) == 1


def test_a_mutation_on_a_missing_conversation_is_a_conflict() -> None:
    piece = Slice()
    conflict = apply_mutation(piece, assign("bo"), 12)
    assert conflict is not None and conflict.seq == 12 and "does not exist" in conflict.reason
    assert piece.changed_conversations == set()


def test_needs_names_what_mutations_touch() -> None:
    note = mutation("conversation.note", {"conversation_id": CONV.id, "text": "x"})
    sla = mutation("workspace.sla", {"expected_first_response_minutes": 30})
    wanted = needs([], [assign("bo"), note, sla])
    assert wanted.conversations == {CONV.id} and wanted.notes == {note.id} and wanted.workspace


def test_the_sla_setting_is_last_writer_wins() -> None:
    piece = Slice()
    for minutes in (30, None, 45):
        apply_mutation(
            piece, mutation("workspace.sla", {"expected_first_response_minutes": minutes}), 1
        )
    assert piece.workspace.sla_minutes == 45 and piece.changed_workspace


def test_status_payloads_are_checked() -> None:
    with pytest.raises(ValueError, match="snoozed_until is required"):
        status("SNOOZED")
    with pytest.raises(ValueError, match="snoozed_until is required for SNOOZED and only"):
        status("OPEN", NOW)
    with pytest.raises(ValueError):
        mutation("conversation.tags", {"conversation_id": CONV.id, "add": ["a b"]})


T0 = "2026-11-25T10:00:00.000Z"
LATER = "2026-11-25T11:00:00.000Z"


@pytest.mark.parametrize(
    ("stored", "status_at", "until", "last_inbound", "now", "shown"),
    [
        ("RESOLVED", T0, None, "2026-11-25T09:00:00.000Z", LATER, "RESOLVED"),
        ("RESOLVED", T0, None, LATER, LATER, "OPEN"),  # the customer wrote after: re-opened
        ("SNOOZED", T0, LATER, None, "2026-11-25T10:30:00.000Z", "SNOOZED"),
        ("SNOOZED", T0, LATER, None, LATER, "OPEN"),  # woke at its time
        ("SNOOZED", T0, "2026-11-26T00:00:00.000Z", "2026-11-25T10:05:00.000Z", LATER, "OPEN"),
        ("PENDING", T0, None, LATER, LATER, "PENDING"),  # pending waits for us, not them
        ("OPEN", None, None, None, LATER, "OPEN"),
    ],
)
def test_effective_status(
    stored: str,
    status_at: str | None,
    until: str | None,
    last_inbound: str | None,
    now: str,
    shown: str,
) -> None:
    assert effective_status(stored, status_at, until, last_inbound, now) == shown


def test_over_sla_is_a_customer_waiting_longer_than_the_setting() -> None:
    waiting = format_time(NOW - timedelta(minutes=61))
    assert over_sla(waiting, "OPEN", 60, NOW)
    assert not over_sla(waiting, "OPEN", 90, NOW)
    assert not over_sla(waiting, "RESOLVED", 60, NOW)
    assert not over_sla(waiting, "OPEN", None, NOW)
    assert not over_sla(None, "OPEN", 60, NOW)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("VIP", "vip"),
        ("#Big order", "big-order"),
        ("  cod ", "cod"),
        ("a,b", "a-b"),
        ("", None),
        ("x" * 65, None),
    ],
)
def test_tags_are_normalised(typed: str, stored: str | None) -> None:
    assert normalise_tag(typed) == stored


def test_mentions_are_teammates_named_with_an_at() -> None:
    team = ["ana", "bo", "chen.li"]
    assert mentions_in("@bo, can you call? cc @Chen.Li.", team) == ["bo", "chen.li"]
    assert mentions_in("mail ana@example.com or @nobody", team) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("30m", NOW + timedelta(minutes=30)),
        ("2h", NOW + timedelta(hours=2)),
        ("3 days", NOW + timedelta(days=3)),
        ("1w", NOW + timedelta(weeks=1)),
        ("tomorrow", datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),
        ("17:30", datetime(2026, 11, 25, 17, 30, tzinfo=UTC)),
        ("09:00", datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),
        ("2026-12-01T09:00Z", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
    ],
)
def test_snooze_times_as_people_type_them(typed: str, expected: datetime) -> None:
    assert parse_until(typed, NOW, UTC) == expected


@pytest.mark.parametrize("typed", ["yesterday", "2020-01-01", "25:00", "[b]soon[/b]", ""])
def test_snooze_times_that_cannot_be_used_say_so(typed: str) -> None:
    with pytest.raises(TimeError):
        parse_until(typed, NOW, UTC)


_times = st.sampled_from(
    [
        None,
        "2026-11-25T09:00:00.000Z",
        T0,
        "2026-11-25T10:30:00.000Z",
        LATER,
        "2026-11-26T00:00:00.000Z",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    stored=st.sampled_from(["OPEN", "PENDING", "RESOLVED", "SNOOZED"]),
    status_at=_times,
    until=_times,
    last_inbound=_times,
    now=_times.filter(lambda t: t is not None),
)
def test_the_inbox_query_shows_the_same_status_as_the_rule(
    stored: str, status_at: str | None, until: str | None, last_inbound: str | None, now: str
) -> None:
    """The SQL the inbox filters with and the domain rule agree on every combination."""
    from sqlalchemy import create_engine, insert, select

    from inboop_tui.store.queries import shown_status
    from inboop_tui.store.tables import conversations, metadata

    engine = _engine(create_engine, metadata)
    with engine.begin() as conn:
        conn.execute(conversations.delete())
        conn.execute(
            insert(conversations).values(
                id="cv_x",
                channel="WHATSAPP",
                account_id="a",
                customer_id="c",
                contact_id="ct",
                status=stored,
                status_at=status_at,
                snoozed_until=until,
                last_inbound_at=last_inbound,
                tags="[]",
                message_count=0,
            )
        )
        in_sql = conn.execute(select(shown_status(now))).scalar_one()
    assert in_sql == effective_status(stored, status_at, until, last_inbound, now)


_ENGINES: dict[str, Any] = {}


def _engine(create_engine: Any, metadata: Any) -> Any:
    if "e" not in _ENGINES:
        engine = create_engine("sqlite://")
        metadata.create_all(engine)
        _ENGINES["e"] = engine
    return _ENGINES["e"]


def test_a_reply_is_read_only_after_the_channel_had_it() -> None:
    """Written at 10:00 offline, read-watermark at 10:30 (older messages), sent at noon: the
    reply is SENT, not READ, whatever order the relay's events come in; a later watermark
    reads it."""
    from itertools import permutations

    from inboop_tui.domain.messages import reply_key
    from inboop_tui.domain.reducer import apply_event
    from relay.protocol import ReplySent, Watermark

    conv = new_conversation("MESSENGER", "PAGE", "PSID")
    reply = parse_mutation(
        {
            "id": str(uuid.uuid4()),
            "author": "ana",
            "client_time": "2026-11-25T10:00:00.000Z",
            "type": "message.reply",
            "payload": {
                "conversation_id": conv.id,
                "channel": "MESSENGER",
                "account_id": "PAGE",
                "customer_id": "PSID",
                "text": "on my way",
            },
        }
    )
    identity = {"channel": "MESSENGER", "account_id": "PAGE", "customer_id": "PSID"}
    early = Watermark(
        dedup_key="w1",
        occurred_at=datetime(2026, 11, 25, 10, 30, tzinfo=UTC),
        status="READ",
        watermark=datetime(2026, 11, 25, 10, 30, tzinfo=UTC),
        **identity,
    )
    sent = ReplySent(
        dedup_key="s",
        occurred_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        reply_id=reply.id,
        channel_message_id="m_OUT",
        **identity,
    )
    late = Watermark(
        dedup_key="w2",
        occurred_at=datetime(2026, 11, 25, 12, 5, tzinfo=UTC),
        status="READ",
        watermark=datetime(2026, 11, 25, 12, 5, tzinfo=UTC),
        **identity,
    )
    key = ("MESSENGER", reply_key(reply.id))
    for events, expected in (((early, sent), "SENT"), ((early, sent, late), "READ")):
        for order in permutations(events):
            piece = Slice(conversations={conv.id: conv})
            assert apply_mutation(piece, reply, 1) is None
            for event in order:
                apply_event(piece, event)
            assert piece.messages[key].delivery_status == expected, order
