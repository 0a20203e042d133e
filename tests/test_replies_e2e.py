"""Replies end to end: the CLI as a user runs it, the real relay process and its send queue, and
a local Graph API that answers like Meta (including its errors and its webhooks back)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relay import simulator as mp
from relay.fake_graph import (
    OUTSIDE_WINDOW_WHATSAPP,
    PERSON_UNAVAILABLE,
    RATE_LIMITED_MESSENGER,
    RATE_LIMITED_WHATSAPP,
    SERVER_ERROR,
    FakeGraph,
)
from relay.protocol import reply_tag
from tests.harness import RelayProcess, inboop


def now_ms() -> int:
    return int(time.time() * 1000)


def customers_write(relay: RelayProcess, at_ms: int | None = None) -> None:
    """A customer on each channel (WhatsApp's wrote two days ago unless ``at_ms``)."""
    at = at_ms or now_ms()
    bodies = [
        mp.messenger(
            mp.text_message(mp.PAGE_ID, "PSID1", "m_in1", "is the kurta in stock?", ts=at)
        ),
        mp.instagram(mp.text_message(mp.IG_ACCOUNT_ID, "IGSID1", "ig_in1", "price?", ts=at)),
        mp.whatsapp(
            mp.wa_value(
                messages=[mp.wa_text("919000000001", "wamid.IN1", at // 1000, "namaste")],
                contacts=[mp.wa_contact("919000000001", "Asha Verma")],
            )
        ),
    ]
    for body in bodies:
        assert relay.post(mp.body(body)).status_code == 200


@pytest.fixture
def agent(sending_relay: RelayProcess, tmp_path: Path) -> Path:
    token = sending_relay.add_user("admin", admin=True)
    home = tmp_path / "agent"
    assert inboop(home, "login", sending_relay.url, "--token", token).returncode == 0
    return home


def run(home: Path, *args: str) -> str:
    result = inboop(home, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def messages(home: Path, conv: str) -> list[dict[str, Any]]:
    return list(json.loads(run(home, "show", conv, "--json"))["messages"])


def outbound(home: Path, conv: str) -> list[dict[str, Any]]:
    return [m for m in messages(home, conv) if m["direction"] == "OUTBOUND"]


def wait_for(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds:.0f} s")
        time.sleep(0.2)


def synced_state(home: Path, conv: str, wanted: str) -> Callable[[], bool]:
    def check() -> bool:
        run(home, "sync")
        found = outbound(home, conv)
        return bool(found) and all(m["delivery_status"] == wanted for m in found)

    return check


def test_replies_go_out_on_each_channel_once(
    sending_relay: RelayProcess, graph: FakeGraph, agent: Path
) -> None:
    customers_write(sending_relay)
    run(agent, "sync")
    sent = json.loads(run(agent, "reply", "PSID1", "Yes! M and L. [b]₹1,499[/b]", "--json"))
    assert sent["sent"] is True and sent["type"] == "message.reply"
    run(agent, "reply", "IGSID1", "It's ₹1,499")
    run(agent, "reply", "Asha Verma", "Namaste! 🙏\nIt ships tomorrow.")
    wait_for(lambda: len(graph.sent) == 3)
    wait_for(synced_state(agent, "PSID1", "SENT"))  # the echo confirms it: still one message
    wait_for(synced_state(agent, "IGSID1", "SENT"))
    wait_for(synced_state(agent, "Asha Verma", "DELIVERED"))  # WhatsApp's statuses
    for conv in ("PSID1", "IGSID1", "Asha Verma"):
        assert len(outbound(agent, conv)) == 1
    by_account = {s.account_id: s for s in graph.sent}
    messenger = by_account[mp.PAGE_ID].body
    assert messenger["recipient"] == {"id": "PSID1"} and messenger["messaging_type"] == "RESPONSE"
    assert messenger["message"]["text"] == "Yes! M and L. [b]₹1,499[/b]"
    reply_id = outbound(agent, "PSID1")[0]["reply_id"]
    assert messenger["message"]["metadata"] == reply_tag(reply_id)
    whatsapp = by_account[mp.PHONE_NUMBER_ID].body
    assert whatsapp["type"] == "text" and whatsapp["to"] == "919000000001"
    assert whatsapp["text"]["body"] == "Namaste! 🙏\nIt ships tomorrow."
    assert outbound(agent, "Asha Verma")[0]["text"] == "Namaste! 🙏\nIt ships tomorrow."


def test_files_templates_and_canned_replies(
    sending_relay: RelayProcess, graph: FakeGraph, agent: Path, tmp_path: Path
) -> None:
    customers_write(sending_relay, at_ms=now_ms() - 2 * 86_400_000)  # two days ago
    customers_write_fresh = mp.messenger(
        mp.text_message(mp.PAGE_ID, "PSID1", "m_in2", "any photos?", ts=now_ms())
    )
    assert sending_relay.post(mp.body(customers_write_fresh)).status_code == 200
    run(agent, "sync")
    photo = tmp_path / "kurta blue.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"jpeg" * 500)
    run(agent, "reply", "PSID1", "the blue one", "--file", str(photo))  # two messages here
    wait_for(lambda: len(graph.sent) == 2)
    assert graph.uploads == [(mp.PAGE_ID, "kurta blue.jpg", photo.stat().st_size)]
    first, second = (s.body["message"] for s in graph.sent)
    assert first["attachment"]["type"] == "image" and "text" not in first
    assert second["text"] == "the blue one"

    refused = inboop(agent, "reply", "Asha Verma", "hello?")
    assert refused.returncode == 1
    assert "reply window is closed: WhatsApp takes only an approved template" in refused.stderr
    listed = run(agent, "templates", "Asha Verma")
    assert "order_update\ten_US\t2 param(s)" in listed and "draft_one" not in listed
    run(
        agent,
        "reply",
        "Asha Verma",
        "--template",
        "order_update",
        "--param",
        "Asha",
        "--param",
        "ORD-1001",
    )
    wait_for(lambda: len(graph.sent) == 3)
    template = graph.sent[-1].body["template"]
    assert template["name"] == "order_update" and template["language"] == {"code": "en_US"}
    assert [p["text"] for p in template["components"][0]["parameters"]] == ["Asha", "ORD-1001"]
    assert outbound(agent, "Asha Verma")[0]["text"] == "Hi Asha, your order ORD-1001 is on its way."

    run(agent, "canned", "add", "thanks", "Thank you", "Thanks {first_name}! — {agent}")
    listing = run(agent, "canned")
    assert "/thanks\tThank you\tThanks {first_name}! — {agent}" in listing
    run(agent, "reply", "PSID1", "--canned", "thanks")
    wait_for(lambda: len(graph.sent) == 4)
    assert graph.sent[-1].body["message"]["text"] == "Thanks there! — admin"
    run(agent, "canned", "edit", "thanks", "--text", "Thank you {name}")
    assert "Thank you {name}" in run(agent, "canned")
    assert "taken" in inboop(agent, "canned", "add", "thanks", "Again", "x").stderr
    run(agent, "canned", "delete", "thanks")
    assert "no canned replies yet" in run(agent, "canned")


def test_transient_errors_are_retried_and_permanent_ones_fail_with_the_reason(
    sending_relay: RelayProcess, graph: FakeGraph, agent: Path
) -> None:
    customers_write(sending_relay)
    run(agent, "sync")
    graph.answer_next(mp.PAGE_ID, SERVER_ERROR, RATE_LIMITED_MESSENGER)
    graph.answer_next(mp.PHONE_NUMBER_ID, RATE_LIMITED_WHATSAPP)
    graph.answer_next(mp.IG_ACCOUNT_ID, PERSON_UNAVAILABLE)
    run(agent, "reply", "PSID1", "third time lucky")
    run(agent, "reply", "PSID1", "and then this one")  # waits for the one before it
    run(agent, "reply", "Asha Verma", "after the pause")
    run(agent, "reply", "IGSID1", "hello?")
    wait_for(synced_state(agent, "PSID1", "SENT"), 60)
    wait_for(synced_state(agent, "Asha Verma", "DELIVERED"), 60)
    wait_for(synced_state(agent, "IGSID1", "FAILED"), 60)
    failed = outbound(agent, "IGSID1")[0]
    error = json.loads(failed["delivery_error"])
    assert error["code"] == "551" and error["message"] == "This person isn't available right now."
    assert len(graph.sends_tagged(reply_tag(failed["reply_id"]))) == 0  # refused, never taken
    page = [s.body["message"]["text"] for s in graph.sent if s.account_id == mp.PAGE_ID]
    assert page == ["third time lucky", "and then this one"]  # each once, in order


def test_a_reply_outside_the_window_fails_with_whatsapps_words(
    sending_relay: RelayProcess, graph: FakeGraph, agent: Path
) -> None:
    customers_write(sending_relay)
    run(agent, "sync")
    graph.answer_next(mp.PHONE_NUMBER_ID, OUTSIDE_WINDOW_WHATSAPP)
    run(agent, "reply", "Asha Verma", "hello")
    wait_for(synced_state(agent, "Asha Verma", "FAILED"))
    error = json.loads(outbound(agent, "Asha Verma")[0]["delivery_error"])
    assert error["code"] == "131047"
    assert error["message"].startswith("Message failed to send because more than 24 hours")


def test_a_reply_written_offline_is_sent_after_the_next_sync(
    sending_relay: RelayProcess, graph: FakeGraph, agent: Path
) -> None:
    customers_write(sending_relay)
    run(agent, "sync")
    sending_relay.stop()
    queued = run(agent, "reply", "PSID1", "written on the train")
    assert "(queued; the next sync sends it" in queued
    assert outbound(agent, "PSID1")[0]["delivery_status"] == "QUEUED"
    assert outbound(agent, "PSID1")[0]["pending"] is True
    sending_relay.start()
    graph.relay_url = sending_relay.url
    wait_for(synced_state(agent, "PSID1", "SENT"))
    assert len(graph.sent) == 1 and graph.sent[0].body["message"]["text"] == "written on the train"


def test_a_relay_killed_mid_send_reconciles_and_never_sends_twice(
    sending_relay: RelayProcess, graph: FakeGraph, agent: Path, tmp_path: Path
) -> None:
    customers_write(sending_relay)
    run(agent, "sync")
    teammate_token = sending_relay.add_user("maria")
    teammate = tmp_path / "maria"
    run(teammate, "login", sending_relay.url, "--token", teammate_token)
    # Meta takes the message, but its answer never comes back: the relay is killed while it
    # waits, with the reply SENDING. Meta's echo (held until now, then retried until the relay
    # answers) is what tells the restarted relay the reply went out.
    graph.answer_next(mp.PAGE_ID, "accept-then-hang")
    run(agent, "reply", "PSID1", "exactly once, please")
    wait_for(lambda: len(graph.sent) == 1)
    time.sleep(0.5)
    sending_relay.kill()
    graph.release()
    sending_relay.start()
    wait_for(synced_state(agent, "PSID1", "SENT"))
    wait_for(synced_state(teammate, "PSID1", "SENT"))
    time.sleep(4)  # past the relay's confirmation window: nothing is tried again
    assert len(graph.sent) == 1
    with sqlite3.connect(sending_relay.home / "relay.db") as db:
        assert db.execute("select state, attempts from outbound").fetchall() == [("SENT", 1)]
    for home in (agent, teammate):
        run(home, "sync")
        assert [m["text"] for m in outbound(home, "PSID1")] == ["exactly once, please"]


def test_receive_only_accounts_are_refused_clearly(tmp_path: Path, graph: FakeGraph) -> None:
    relay = RelayProcess(tmp_path / "relay", INBOOP_GRAPH_API_URL=graph.url).start()  # no tokens
    try:
        token = relay.add_user("admin", admin=True)
        customers_write(relay)
        home = tmp_path / "agent"
        run(home, "login", relay.url, "--token", token)
        offline_first = inboop(home, "reply", "PSID1", "hi")  # before any sync: the relay says no
        assert offline_first.returncode == 1
        run(home, "sync")
        refused = inboop(home, "reply", "PSID1", "hi")
        assert refused.returncode == 1
        assert "receive only: the relay has no send token for this Page" in refused.stderr
        assert graph.sent == []
    finally:
        relay.stop()


def test_a_file_too_large_for_the_relay_rejects_its_reply_and_nothing_else(
    tmp_path: Path, graph: FakeGraph
) -> None:
    relay = RelayProcess(
        tmp_path / "relay",
        INBOOP_GRAPH_API_URL=graph.url,
        INBOOP_PAGE_TOKENS=f"{mp.PAGE_ID}=page-token",
        INBOOP_RELAY_MAX_UPLOAD_BYTES="1000",
    ).start()
    graph.tokens[mp.PAGE_ID] = "page-token"
    graph.relay_url = relay.url
    try:
        token = relay.add_user("admin", admin=True)
        customers_write(relay)
        home = tmp_path / "agent"
        run(home, "login", relay.url, "--token", token)
        run(home, "sync")
        relay.stop()  # written offline: the refusal comes at the next sync
        big = tmp_path / "catalogue.pdf"
        big.write_bytes(b"%PDF" + b"x" * 5000)
        run(home, "reply", "PSID1", "our catalogue", "--file", str(big))
        run(home, "reply", "PSID1", "and this line after it")
        relay.start()
        graph.relay_url = relay.url
        synced = inboop(home, "sync")
        assert synced.returncode == 0, synced.stderr
        assert "Traceback" not in synced.stderr
        assert "the relay refused the file catalogue.pdf" in synced.stderr
        assert "at most 1,000 bytes" in synced.stderr
        wait_for(synced_state(home, "PSID1", "SENT"))
        # Messenger takes no caption: the file and its text were two messages, and only the
        # file is refused (the agent is told); everything after it still goes, in order.
        sent = ["our catalogue", "and this line after it"]
        assert [m["text"] for m in outbound(home, "PSID1")] == sent
        assert [s.body["message"]["text"] for s in graph.sent] == sent
        assert graph.uploads == []
        assert "reply with catalogue.pdf: the relay refused the file" in run(home, "doctor")
    finally:
        relay.stop()
