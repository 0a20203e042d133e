"""Shuffled and duplicated channel events give identical projections; a rebuild reproduces them.

Runs the real store (``inboop_tui.store.apply``) on a real SQLite file for every example.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboop_tui.domain.conversations import conversation_id
from inboop_tui.store.apply import apply_channel_events, apply_entries
from inboop_tui.store.db import open_replica, writing
from inboop_tui.store.queries import thread
from inboop_tui.store.rebuild import digest, rebuild
from relay import simulator as mp
from relay.channels import normalise_delivery
from relay.protocol import AttachmentFetched, Channel, ChannelEvent
from tests.harness import log_entries

PAGE, IG, PN, T0 = mp.PAGE_ID, mp.IG_ACCOUNT_ID, mp.PHONE_NUMBER_ID, mp.T0_MS
S0 = T0 // 1000


def _events() -> list[ChannelEvent]:
    deliveries = [
        mp.messenger(mp.text_message(PAGE, "P1", "m_1", "is the blue one in stock?")),
        mp.messenger(mp.echo(PAGE, "P1", "m_2", "yes!", ts=T0 + 1000)),
        mp.messenger(mp.delivery_watermark(PAGE, "P1", T0 + 10_000, ["m_2"])),
        mp.messenger(mp.read_watermark(PAGE, "P1", T0 + 20_000, T0 + 20_001)),
        mp.messenger(mp.echo(PAGE, "P1", "m_3", "anything else?", ts=T0 + 30_000)),
        mp.messenger(mp.edit(PAGE, "P1", "m_1", "is the red one in stock?", 1, T0 + 40_000)),
        mp.messenger(mp.edit(PAGE, "P1", "m_1", "is the green one in stock?", 2, T0 + 50_000)),
        mp.instagram(mp.text_message(IG, "I1", "ig_1", "price?", ts=T0)),
        mp.instagram(mp.echo(IG, "I1", "ig_e1", "₹999", ts=T0 + 2000)),
        mp.instagram(mp.read_by_mid(IG, "I1", "ig_e1", T0 + 3000)),
        mp.instagram(mp.reaction(IG, "I1", "ig_e1", T0 + 4000)),
        mp.instagram(mp.reaction(IG, "I1", "ig_e1", T0 + 5000, action="unreact")),
        mp.instagram(mp.reaction(IG, "I1", "ig_e1", T0 + 6000, emoji="😮")),
        mp.instagram(mp.unsend(IG, "I1", "ig_1", T0 + 7000)),
        mp.instagram(mp.text_message(IG, "I1", "ig_2", "ok thanks", ts=T0 + 8000)),
        mp.whatsapp(
            mp.wa_value(
                messages=[mp.wa_text("91", "wamid.1", S0, "namaste")],
                contacts=[mp.wa_contact("91", "Asha")],
            )
        ),
        mp.whatsapp(
            mp.wa_value(
                messages=[mp.wa_text("91", "wamid.2", S0 + 60, "hello?")],
                contacts=[mp.wa_contact("91", "Asha V")],
            )
        ),
        mp.whatsapp(
            mp.wa_value(
                statuses=[
                    mp.wa_status("wamid.O", "sent", S0 + 31, "91"),
                    mp.wa_status("wamid.O", "delivered", S0 + 32, "91"),
                ]
            )
        ),
        mp.whatsapp(mp.wa_value(statuses=[mp.wa_status("wamid.O", "read", S0 + 33, "91")])),
        mp.whatsapp(
            mp.wa_value(
                statuses=[
                    mp.wa_status(
                        "wamid.F",
                        "failed",
                        S0 + 40,
                        "91",
                        errors=[{"code": 131047, "title": "Re-engagement message"}],
                    )
                ]
            )
        ),
        mp.whatsapp(
            mp.wa_value(
                messages=[
                    mp.wa_message(
                        "91",
                        "wamid.R",
                        S0 + 50,
                        "reaction",
                        {"message_id": "wamid.O", "emoji": "👍"},
                    )
                ]
            )
        ),
    ]
    echo_value = mp.wa_value()
    echo_value["message_echoes"] = [
        {
            "from": "1555",
            "to": "91",
            "id": "wamid.O",
            "timestamp": str(S0 + 30),
            "type": "text",
            "text": {"body": "We have it"},
        },
        {
            "from": "1555",
            "to": "91",
            "id": "wamid.F",
            "timestamp": str(S0 + 39),
            "type": "text",
            "text": {"body": "late reply"},
        },
    ]
    deliveries.append(mp.whatsapp(echo_value, field="smb_message_echoes"))
    photo = mp.wa_message("91", "wamid.I", S0 + 70, "image", {"id": "MEDIA1", "caption": "this"})
    deliveries.append(mp.whatsapp(mp.wa_value(messages=[photo])))
    events: list[ChannelEvent] = []
    for delivery in deliveries:
        result = normalise_delivery(mp.body(delivery))
        assert result.failures == []
        events.extend(result.events)
    # What the relay's media fetcher appends once it has each file, and once the retention
    # removed the second one: in any order, removed beats stored.
    photo2 = mp.wa_message("91", "wamid.J", S0 + 80, "image", {"id": "MEDIA2"})
    result = normalise_delivery(mp.body(mp.whatsapp(mp.wa_value(messages=[photo2]))))
    events.extend(result.events)
    for mid, ending, facts in (
        ("wamid.I", "stored", {"size": 245_000, "content_type": "image/jpeg"}),
        ("wamid.J", "stored", {"size": 9_000, "content_type": "image/jpeg"}),
        ("wamid.J", "expired", {"error": "removed after 90 days", "expired": True}),
    ):
        events.append(
            AttachmentFetched(
                dedup_key=f"media:WHATSAPP:{mid}:0:{ending}",
                channel=Channel.WHATSAPP,
                account_id=PN,
                customer_id="91",
                occurred_at=datetime.fromtimestamp(S0 + 85, UTC),
                channel_message_id=mid,
                index=0,
                **facts,
            )
        )
    return events


EVENTS = _events()


def _project(order: list[int], sizes: list[int]) -> tuple[dict[str, str], bool]:
    """Apply the events as log entries in batches; return the digest and whether a rebuild matches."""
    entries = log_entries([EVENTS[i] for i in order])
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_replica(Path(tmp) / "replica.db")
        try:
            position = 0
            for size in [*sizes, len(entries)]:
                batch = entries[position : position + size]
                if not batch:
                    break
                position += len(batch)
                with writing(engine) as conn:
                    apply_entries(conn, batch, cursor=batch[-1]["seq"], relay_head=len(entries))
            with engine.connect() as conn:
                projected = digest(conn)
            report = rebuild(engine)
            return projected, report.identical and report.after == projected
        finally:
            engine.dispose()


BASELINE, _ = _project(list(range(len(EVENTS))), [])


def test_baseline_has_the_expected_meaning() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_replica(Path(tmp) / "replica.db")
        with writing(engine) as conn:
            apply_channel_events(conn, EVENTS)
        with engine.connect() as conn:
            messenger = {
                m.channel_message_id: m
                for m in thread(conn, conversation_id("MESSENGER", PAGE, "P1"))
            }
            instagram = {
                m.channel_message_id: m
                for m in thread(conn, conversation_id("INSTAGRAM", IG, "I1"))
            }
            whatsapp = {
                m.channel_message_id: m for m in thread(conn, conversation_id("WHATSAPP", PN, "91"))
            }
        engine.dispose()
    assert messenger["m_1"].text == "is the green one in stock?"
    assert (messenger["m_1"].reactions, messenger["m_1"].attachments) == ({}, ())
    assert messenger["m_2"].delivery_status == "READ"  # read watermark after it
    assert messenger["m_3"].delivery_status == "SENT"  # sent after the watermark
    assert instagram["ig_1"].is_deleted
    assert instagram["ig_e1"].delivery_status == "READ"  # read-by-mid
    assert instagram["ig_e1"].reactions == {"CUSTOMER": "😮"}
    assert whatsapp["wamid.O"].delivery_status == "READ"
    assert whatsapp["wamid.O"].reactions == {"CUSTOMER": "👍"}
    assert whatsapp["wamid.F"].delivery_status == "FAILED"
    assert whatsapp["wamid.I"].attachments[0].size == 245_000
    removed = whatsapp["wamid.J"].attachments[0]
    assert (removed.size, removed.unavailable) == (None, "removed after 90 days")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.permutations(list(range(len(EVENTS))))
    .flatmap(
        lambda perm: st.lists(st.sampled_from(perm), max_size=8).map(lambda extra: perm + extra)
    )
    .flatmap(st.permutations),
    sizes=st.lists(st.integers(1, 7), max_size=12),
)
def test_shuffled_and_duplicated_events_give_identical_projections(
    order: list[int], sizes: list[int]
) -> None:
    projected, rebuilt = _project(order, sizes)
    assert projected == BASELINE
    assert rebuilt
