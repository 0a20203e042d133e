"""No single delivery can wedge the relay: text no database can store, a flood of bad items,
timestamps that are not times, a locked database; the API's pages are not served by default.
The real relay process on loopback; a property test of the normaliser at every nesting level."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from relay import simulator as mp
from relay.channels import normalise_delivery
from relay.signing import sign
from tests.harness import APP_SECRET, RelayProcess


def failures(relay: RelayProcess, token: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{relay.url}/v1/integration-failures",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200
    return list(answer.json())


def messages(relay: RelayProcess, token: str) -> dict[str, str]:
    return {
        e["event"]["message"]["channel_message_id"]: e["event"]["message"].get("text")
        for e in relay.all_events(token)
        if e["type"] == "message.received"
    }


def test_half_a_surrogate_pair_is_stored_as_a_replacement_character(
    relay: RelayProcess, admin_token: str
) -> None:
    body = mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, "P1", "m_s1", "TEXT")))
    body = body.replace(b'"TEXT"', b'"\\ud800 hi \\ud83d\\ude00"')
    assert relay.post(body).status_code == 200
    assert relay.post(body).status_code == 200  # Meta's retry: stored once
    assert messages(relay, admin_token) == {"m_s1": "\ufffd hi \U0001f600"}


def test_a_body_that_is_not_utf8_is_one_failure_not_a_retry_loop(
    relay: RelayProcess, admin_token: str
) -> None:
    body = mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, "P1", "m_u1", "hi")))
    for bad in (b"\xed\xa0\x80", b"\xff\xfe", b"\xc3"):  # an encoded surrogate; not UTF-8
        for field in (b'"page"', b'"hi"', b'"m_u1"'):
            answer = relay.post(body.replace(field, b'"' + bad + b'"'))
            assert answer.status_code == 200, answer.text  # acknowledged: a retry cannot help
    assert messages(relay, admin_token) == {}
    rows = [f for f in failures(relay, admin_token) if f["kind"] == "malformed_json"]
    assert sum(r["count"] for r in rows) == 9 and all("utf-8" in r["detail"] for r in rows)
    assert relay.post(body).status_code == 200
    assert messages(relay, admin_token) == {"m_u1": "hi"}


def test_a_flood_of_bad_items_is_one_failure_row_and_holds_nobody_up(
    relay: RelayProcess, admin_token: str
) -> None:
    flood = b'{"object":"page","entry":[' + b",".join([b"1"] * 300_000) + b"]}"
    good = mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, "P2", "m_good", "still here")))
    answers: list[int] = []
    sender = threading.Thread(target=lambda: answers.append(relay.post(flood).status_code))
    sender.start()
    assert relay.post(good).status_code == 200
    sender.join(120)
    assert answers == [200]
    (row,) = [f for f in failures(relay, admin_token) if f["kind"] == "malformed_item"]
    assert row["count"] == 300_000
    assert row["detail"].startswith("300,000 items, e.g. entry[0]: entry is not an object;")
    assert messages(relay, admin_token) == {"m_good": "still here"}


def test_a_timestamp_that_is_not_a_time_fails_its_item_alone(
    relay: RelayProcess, admin_token: str
) -> None:
    stamps: list[Any] = ["abc", 1e30, 2**63, "NaN", None]
    items = [mp.text_message(mp.PAGE_ID, "P3", f"m_bad{i}", "bad") for i in range(len(stamps))]
    for item, stamp in zip(items, stamps, strict=True):
        item["timestamp"] = stamp
    payload = mp.messenger(mp.text_message(mp.PAGE_ID, "P3", "m_fine", "fine"), *items)
    payload["entry"][0].pop("time", None)  # no fallback time: each item stands on its own
    wa = mp.wa_value(messages=[mp.wa_text("919000000001", "wamid.OK", 1_764_000_000, "ok")])
    wa["messages"].append({**wa["messages"][0], "id": "wamid.BAD", "timestamp": "1e400"})
    assert relay.post(json.dumps(payload).encode()).status_code == 200
    assert relay.post(mp.body(mp.whatsapp(wa))).status_code == 200
    assert messages(relay, admin_token) == {"m_fine": "fine", "wamid.OK": "ok"}
    rows = [f for f in failures(relay, admin_token) if f["kind"] == "malformed_item"]
    assert sum(r["count"] for r in rows) == len(stamps) + 1


def test_a_locked_database_answers_every_waiting_delivery_at_once(tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path / "relay", INBOOP_RELAY_BUSY_TIMEOUT_SECONDS="1").start()
    try:
        token = relay.add_user("admin", admin=True)
        note = {
            "id": "0b6f3c1e-8d2a-4c1b-9e7f-2a4d5c6b7e8f",
            "author": "admin",
            "client_time": "2026-11-25T10:00:00.000Z",
            "type": "conversation.note",
            "payload": {"conversation_id": "cv_" + "a" * 24, "text": "hi", "mentions": []},
        }

        def push() -> httpx.Response:
            return httpx.post(
                f"{relay.url}/v1/mutations",
                json={"mutations": [note]},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )

        lock = sqlite3.connect(relay.home / "relay.db", isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        refused = push()  # an agent's push: the relay's condition, not a bug
        assert refused.status_code == 503, refused.text
        assert refused.json() == {
            "detail": "the relay's database is unavailable (database is locked): try again later"
        }
        assert refused.headers["Retry-After"] == "5"
        answers: list[int] = []
        bodies = [
            mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, f"L{i}", f"m_l{i}", "x")))
            for i in range(4)
        ]
        senders = [
            threading.Thread(target=lambda b=b: answers.append(relay.post(b).status_code))
            for b in bodies
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
        lock.execute("ROLLBACK")
        lock.close()
        assert answers == [503] * 4  # Meta retries them
        assert "retrying one by one" not in relay.log() and "Traceback" not in relay.log()
        assert [relay.post(b).status_code for b in bodies] == [200] * 4
        assert push().json()["results"][0]["status"] == "accepted"
    finally:
        relay.stop()


def test_the_api_pages_are_off_unless_asked_for(relay: RelayProcess, tmp_path: Path) -> None:
    assert httpx.get(f"{relay.url}/openapi.json", timeout=10).status_code == 404
    assert httpx.get(f"{relay.url}/docs", timeout=10).status_code == 404
    documented = RelayProcess(tmp_path / "documented", INBOOP_RELAY_API_DOCS="true").start()
    try:
        schema = httpx.get(f"{documented.url}/openapi.json", timeout=10)
        assert schema.status_code == 200 and "/v1/mutations" in schema.json()["paths"]
    finally:
        documented.stop()


# --- any mix of good and bad items, at any level ----------------------------------------------

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), junk), min_size=1, max_size=8))
def test_valid_items_survive_any_mix_of_invalid_ones(plan: list[tuple[bool, bool, Any]]) -> None:
    """Per entry: valid (True) or junk; per item inside a valid entry: valid or junk."""
    entries: list[Any] = []
    wanted: set[str] = set()
    bad = 0
    for index, (entry_ok, item_ok, garbage) in enumerate(plan):
        if not entry_ok:
            entries.append(garbage if not isinstance(garbage, dict) else [garbage])
            bad += 1
            continue
        item = mp.text_message(mp.PAGE_ID, f"C{index}", f"m_{index}", "hi")
        entry = {"id": mp.PAGE_ID, "time": mp.T0_MS, "messaging": [item]}
        wanted.add(f"m_{index}")
        if not item_ok:
            entry["messaging"].append(garbage if not isinstance(garbage, dict) else {"x": garbage})
            bad += 1
        entries.append(entry)
    result = normalise_delivery(json.dumps({"object": "page", "entry": entries}).encode())
    assert {e.message.channel_message_id for e in result.events} == wanted
    assert len(result.failures) == bad


def test_deliveries_from_a_second_meta_app_are_verified_with_its_secret(tmp_path: Path) -> None:
    """Instagram API with Instagram Login is a second Meta app, with its own secret."""
    relay = RelayProcess(
        tmp_path / "relay", INBOOP_META_APP_SECRET=f"{APP_SECRET}, instagram-login-secret"
    ).start()
    try:
        token = relay.add_user("admin", admin=True)
        ig = mp.body(mp.instagram(mp.text_message(mp.IG_ACCOUNT_ID, "IG9", "ig_9", "from app 2")))
        fb = mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, "P9", "m_9", "from app 1")))
        assert relay.post(ig, signature=sign("instagram-login-secret", ig)).status_code == 200
        assert relay.post(fb).status_code == 200
        assert relay.post(ig, signature=sign("someone-else", ig)).status_code == 401
        assert messages(relay, token) == {"ig_9": "from app 2", "m_9": "from app 1"}
    finally:
        relay.stop()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["good", "change", "item"]), junk), min_size=1, max_size=8)
)
def test_whatsapp_changes_and_items_fail_alone_too(plan: list[tuple[str, Any]]) -> None:
    """WhatsApp nests one level deeper: entry → change → item. A bad change or item fails alone."""
    changes: list[Any] = []
    wanted: set[str] = set()
    bad = 0
    for index, (kind, garbage) in enumerate(plan):
        good = mp.wa_text("919000000001", f"wamid.{index}", 1_764_000_000 + index, "hi")
        if kind == "change":
            changes.append(
                {
                    "field": "messages",
                    "value": garbage if not isinstance(garbage, dict) else [garbage],
                }
            )
            bad += 1
            continue
        value = mp.wa_value(messages=[good])
        wanted.add(f"wamid.{index}")
        if kind == "item":
            value["messages"].append(garbage if not isinstance(garbage, dict) else {"x": garbage})
            bad += 1
        changes.append({"field": "messages", "value": value})
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": mp.WABA_ID, "changes": changes}],
    }
    result = normalise_delivery(json.dumps(body).encode())
    received = {e.message.channel_message_id for e in result.events if e.type == "message.received"}
    assert received == wanted
    assert len(result.failures) == bad


def test_an_id_longer_than_any_meta_sends_fails_its_item_alone(
    relay: RelayProcess, admin_token: str
) -> None:
    """PostgreSQL enforces column widths where SQLite does not: an absurd id must fail its
    item (both databases alike), never the delivery, and never wedge the relay on a retry."""
    long_id = "P" * 300
    payload = mp.messenger(
        mp.text_message(mp.PAGE_ID, long_id, "m_long", "too long"),
        mp.text_message(mp.PAGE_ID, "P1", "m_short", "fine"),
    )
    for _ in range(2):  # and again, as Meta retries
        assert relay.post(mp.body(payload)).status_code == 200
    assert messages(relay, admin_token) == {"m_short": "fine"}
    assert any(f["kind"] == "normaliser_error" for f in failures(relay, admin_token))
    wa = mp.wa_text("91" * 140, "wamid.LONG", 1_764_000_000, "x")
    assert relay.post(mp.body(mp.whatsapp(mp.wa_value(messages=[wa])))).status_code == 200
    assert (
        relay.post(
            mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, "P2", "m_after", "ok")))
        ).status_code
        == 200
    )
    assert messages(relay, admin_token) == {"m_short": "fine", "m_after": "ok"}
