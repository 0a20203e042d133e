"""One WhatsApp person is one conversation, whichever ids their messages carry: a phone's
wa_id, a business-scoped user_id (since usernames), or both. The real relay and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from relay import simulator as mp
from relay.fake_graph import FakeGraph
from tests.harness import RelayProcess, inboop

T = 1_764_000_000


def by_user_id(
    user_id: str, wamid: str, ts: int, text: str, username: str | None = None
) -> dict[str, Any]:
    """A message from someone WhatsApp names only by their business-scoped id."""
    message = mp.wa_text("", wamid, ts, text)
    del message["from"]
    message["from_user_id"] = user_id
    contact: dict[str, Any] = {"profile": {"name": "Kabir"}, "user_id": user_id}
    if username:
        contact["profile"]["username"] = username
    return mp.wa_value(messages=[message], contacts=[contact])


def conversations(relay: RelayProcess, home: Path) -> dict[str, int]:
    assert inboop(home, "sync").returncode == 0
    rows = json.loads(inboop(home, "conversations", "--json").stdout)
    return {r["customer"]["id"]: r["message_count"] for r in rows}


def test_ids_seen_alone_or_together_lead_to_one_conversation(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    home = tmp_path / "agent"
    assert inboop(home, "login", relay.url, "--token", admin_token).returncode == 0
    phone, user = "919000000055", "IN.1502576394655843"
    steps = [
        # Known by the phone first …
        mp.wa_value(
            messages=[mp.wa_text(phone, "wamid.A", T, "hi")],
            contacts=[mp.wa_contact(phone, "Kabir")],
        ),
        # … then both ids together (the link) …
        mp.wa_value(
            messages=[mp.wa_text(phone, "wamid.B", T + 60, "still me")],
            contacts=[mp.wa_contact(phone, "Kabir", user)],
        ),
        # … then only the user_id, once the number is hidden behind a username.
        by_user_id(user, "wamid.C", T + 120, "me again", username="kabir.k"),
    ]
    for value in steps:
        assert relay.post(mp.body(mp.whatsapp(value))).status_code == 200
    status = mp.wa_status("wamid.C", "read", T + 130, "")
    del status["recipient_id"]
    status["recipient_user_id"] = user
    assert relay.post(mp.body(mp.whatsapp(mp.wa_value(statuses=[status])))).status_code == 200
    assert conversations(relay, home) == {phone: 3}

    # Someone WhatsApp names by user_id first keeps that conversation when their phone shows up.
    other_user, other_phone = "IN.7777", "919000000077"
    assert (
        relay.post(mp.body(mp.whatsapp(by_user_id(other_user, "wamid.D", T, "hello")))).status_code
        == 200
    )
    linked = mp.wa_value(
        messages=[mp.wa_text(other_phone, "wamid.E", T + 60, "my number now")],
        contacts=[mp.wa_contact(other_phone, "Zoya", other_user)],
    )
    assert relay.post(mp.body(mp.whatsapp(linked))).status_code == 200
    assert conversations(relay, home) == {phone: 3, other_user: 2}
    shown = json.loads(inboop(home, "show", phone, "--json").stdout)
    assert [m["text"] for m in shown["messages"]] == ["hi", "still me", "me again"]


def test_a_customer_known_only_by_user_id_gets_replies(
    sending_relay: RelayProcess, graph: FakeGraph, tmp_path: Path
) -> None:
    """Cloud API takes a business-scoped id in ``recipient`` (``to`` is for phone numbers);
    its statuses come back with ``recipient_user_id`` and land on the same conversation."""
    home = tmp_path / "agent"
    token = sending_relay.add_user("admin", admin=True)
    assert inboop(home, "login", sending_relay.url, "--token", token).returncode == 0
    user = "IN.1502576394655843"
    now = int(time.time())
    inbound = mp.body(mp.whatsapp(by_user_id(user, "wamid.U1", now, "price?", "kabir.k")))
    assert sending_relay.post(inbound).status_code == 200
    assert inboop(home, "sync").returncode == 0
    replied = inboop(home, "reply", user, "₹1,499")
    assert replied.returncode == 0, replied.stderr

    def delivered() -> bool:
        inboop(home, "sync")
        shown = json.loads(inboop(home, "show", user, "--json").stdout)["messages"]
        return [m["delivery_status"] for m in shown if m["direction"] == "OUTBOUND"] == [
            "DELIVERED"
        ]

    deadline = time.monotonic() + 30
    while not delivered():
        assert time.monotonic() < deadline, "the reply was never delivered"
        time.sleep(0.2)
    (sent,) = graph.sent
    assert sent.body["recipient"] == user and "to" not in sent.body
    assert conversations(sending_relay, home) == {user: 2}
