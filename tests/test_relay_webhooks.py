"""The relay as a real process on loopback, fed signed deliveries over HTTP."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from relay import simulator as mp
from tests.harness import VERIFY_TOKEN, RelayProcess

PAGE = mp.PAGE_ID


def text_delivery(mid: str, text: str = "hello", customer: str = "PSID1") -> bytes:
    return mp.body(mp.messenger(mp.text_message(PAGE, customer, mid, text)))


def failures(relay: RelayProcess, token: str, *, settle: bool = True) -> list[dict]:
    if settle:
        time.sleep(0.6)  # counted failures are written every 0.2 s in tests
    response = relay.get("/v1/integration-failures", token, include_resolved="true")
    assert response.status_code == 200
    return response.json()


def db_rows(relay: RelayProcess, sql: str) -> list[tuple]:
    return relay.rows(sql)


def test_subscription_handshake(relay: RelayProcess) -> None:
    ok = relay.get(
        "/webhooks/meta",
        **{
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = relay.get(
        "/webhooks/meta",
        **{"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403
    wrong_mode = relay.get(
        "/webhooks/meta",
        **{"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    )
    assert wrong_mode.status_code == 403
    assert VERIFY_TOKEN not in relay.log()


def test_signed_delivery_is_readable_from_the_log(relay: RelayProcess, admin_token: str) -> None:
    response = relay.post(text_delivery("m_1", "Do you ship to Pune?"))
    assert response.status_code == 200
    (entry,) = relay.all_events(admin_token)
    assert entry["seq"] == 1
    assert entry["origin"] == "channel"
    assert entry["type"] == "message.received"
    assert entry["event"]["message"]["text"] == "Do you ship to Pune?"
    assert entry["event"]["account_id"] == PAGE
    assert "Do you ship" not in relay.log()  # no message text in the logs


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "garbage"])
def test_missing_or_wrong_signature_is_refused_and_stores_nothing(
    relay: RelayProcess, admin_token: str, signature: str | None
) -> None:
    response = relay.post(text_delivery("m_forged"), signature=signature)
    assert response.status_code == 401
    assert relay.all_events(admin_token) == []
    assert db_rows(relay, "select count(*) from deliveries") == [(0,)]
    kinds = {f["kind"]: f["count"] for f in failures(relay, admin_token)}
    assert kinds == {"missing_signature" if signature is None else "bad_signature": 1}


def test_bad_signature_failures_are_counted_not_written_per_request(
    relay: RelayProcess, admin_token: str
) -> None:
    for _ in range(25):
        assert relay.post(text_delivery("m_forged"), signature="sha256=bad").status_code == 401
    recorded = [f for f in failures(relay, admin_token) if f["kind"] == "bad_signature"]
    assert sum(f["count"] for f in recorded) == 25
    assert len(recorded) < 25


def test_signature_is_checked_over_the_raw_bytes(relay: RelayProcess, admin_token: str) -> None:
    raw = text_delivery("m_raw")
    reformatted = json.dumps(json.loads(raw), indent=2).encode()  # same JSON, other bytes
    from relay.signing import sign

    response = relay.post(reformatted, signature=sign("test-app-secret", raw))
    assert response.status_code == 401


def test_body_over_4_mib_gets_413(relay: RelayProcess, admin_token: str) -> None:
    huge = b'{"object":"page","entry":[],"pad":"' + b"x" * (4 * 1024 * 1024) + b'"}'
    assert relay.post(huge).status_code == 413

    def chunks():
        for _ in range(5):
            yield b"x" * (1024 * 1024)

    chunked = httpx.post(
        f"{relay.url}/webhooks/meta",
        content=chunks(),
        headers={"X-Hub-Signature-256": "sha256=00"},
        timeout=30,
    )
    assert chunked.status_code == 413
    assert relay.all_events(admin_token) == []
    assert any(f["kind"] == "body_too_large" for f in failures(relay, admin_token))


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"{this is not json", "malformed_json"),
        (b'{"object": "telegram", "entry": [{"id": "1"}]}', "unknown_object"),
        (
            mp.body(
                mp.messenger(
                    {
                        "sender": {"id": "PSID1"},
                        "recipient": {"id": PAGE},
                        "timestamp": mp.T0_MS,
                        "teleport": {},
                    }
                )
            ),
            "unknown_item",
        ),
    ],
)
def test_undecodable_delivery_is_kept_answered_200_and_listed(
    relay: RelayProcess, admin_token: str, raw: bytes, kind: str
) -> None:
    assert relay.post(raw).status_code == 200
    assert relay.all_events(admin_token) == []
    (row,) = db_rows(relay, "select body, status from deliveries")
    assert row == (raw, "FAILED")
    listed = [f for f in failures(relay, admin_token, settle=False) if f["kind"] == kind]
    assert len(listed) == 1 and listed[0]["delivery_id"]


def test_duplicates_and_rebatched_items_append_nothing(
    relay: RelayProcess, admin_token: str
) -> None:
    a = mp.text_message(PAGE, "PSID1", "m_a", "a")
    b = mp.text_message(PAGE, "PSID2", "m_b", "b")
    c = mp.text_message(PAGE, "PSID3", "m_c", "c")
    assert relay.post(mp.body(mp.messenger(a))).status_code == 200
    assert relay.post(mp.body(mp.messenger(a))).status_code == 200  # Meta's retry
    assert (
        relay.post(mp.body(mp.messenger(b, a, c))).status_code == 200
    )  # re-batched with new items
    events = relay.all_events(admin_token)
    assert [e["event"]["dedup_key"] for e in events] == [
        "msg:MESSENGER:m_a",
        "msg:MESSENGER:m_b",
        "msg:MESSENGER:m_c",
    ]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert db_rows(relay, "select count(*) from deliveries") == [(3,)]


def test_batched_delivery_of_all_three_channels(relay: RelayProcess, admin_token: str) -> None:
    messenger = mp.messenger(
        mp.text_message(PAGE, "P1", "m_1", "one"), mp.echo(PAGE, "P1", "m_2", "two")
    )
    messenger["entry"].append(
        {
            "id": PAGE,
            "time": mp.T0_MS,
            "messaging": [mp.read_watermark(PAGE, "P1", mp.T0_MS + 5, mp.T0_MS + 6)],
        }
    )
    instagram = mp.instagram(
        mp.text_message(mp.IG_ACCOUNT_ID, "IG1", "ig_1", "hi"),
        mp.reaction(mp.IG_ACCOUNT_ID, "IG1", "ig_1", mp.T0_MS + 1),
    )
    whatsapp = mp.whatsapp(
        mp.wa_value(
            messages=[mp.wa_text("9199", "wamid.1", 1764000000, "namaste")],
            contacts=[mp.wa_contact("9199", "Asha")],
            statuses=[mp.wa_status("wamid.0", "read", 1764000001, "9199")],
        )
    )
    for payload in (messenger, instagram, whatsapp):
        assert relay.post(mp.body(payload)).status_code == 200
    types = [e["type"] for e in relay.all_events(admin_token)]
    assert types == [
        "message.received",
        "message.echoed",
        "message.watermark",
        "message.received",
        "reaction.set",
        "contact.profile",
        "message.received",
        "message.status",
    ]


def test_restart_between_deliveries_loses_and_doubles_nothing(
    relay: RelayProcess, admin_token: str
) -> None:
    assert relay.post(text_delivery("m_1")).status_code == 200
    relay.stop()
    relay.start()
    assert relay.post(text_delivery("m_1")).status_code == 200
    assert relay.post(text_delivery("m_2")).status_code == 200
    relay.kill()  # no clean shutdown: what was answered 200 must be on disk
    relay.start()
    assert relay.post(text_delivery("m_3")).status_code == 200
    events = relay.all_events(admin_token)
    assert [e["event"]["dedup_key"] for e in events] == [
        "msg:MESSENGER:m_1",
        "msg:MESSENGER:m_2",
        "msg:MESSENGER:m_3",
    ]
    assert [e["seq"] for e in events] == [1, 2, 3]


def test_concurrent_deliveries_get_a_gap_free_seq(relay: RelayProcess, admin_token: str) -> None:
    bodies = [text_delivery(f"m_{i}", customer=f"P{i % 7}") for i in range(120)]
    bodies += bodies[:30]  # retries racing the originals
    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(lambda b: relay.post(b).status_code, bodies))
    assert statuses == [200] * len(bodies)
    events = relay.all_events(admin_token)
    assert [e["seq"] for e in events] == list(range(1, 121))
    assert {e["event"]["dedup_key"] for e in events} == {f"msg:MESSENGER:m_{i}" for i in range(120)}


def test_events_pagination_and_long_poll(relay: RelayProcess, admin_token: str) -> None:
    for i in range(5):
        relay.post(text_delivery(f"m_{i}"))
    page = relay.get("/v1/events", admin_token, after=1, limit=2).json()
    assert [e["seq"] for e in page["events"]] == [2, 3]
    assert (page["next_after"], page["head"]) == (3, 5)
    empty = relay.get("/v1/events", admin_token, after=5).json()
    assert (empty["events"], empty["next_after"]) == ([], 5)

    result: dict = {}

    def poll() -> None:
        result["page"] = relay.get("/v1/events", admin_token, after=5, wait=30).json()

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    assert poller.is_alive()  # it is waiting, not answering empty
    relay.post(text_delivery("m_new"))
    poller.join(timeout=30)
    assert [e["event"]["dedup_key"] for e in result["page"]["events"]] == ["msg:MESSENGER:m_new"]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"after": -1}, 422), ({"limit": 0}, 422), ({"limit": 5000}, 422), ({"wait": 600}, 422)],
)
def test_events_rejects_bad_parameters(
    relay: RelayProcess, admin_token: str, params: dict, status: int
) -> None:
    assert relay.get("/v1/events", admin_token, **params).status_code == status


def test_tokens(relay: RelayProcess, admin_token: str) -> None:
    member = relay.add_user("maria")
    assert relay.get("/v1/events").status_code == 401
    assert relay.get("/v1/events", "inb_not-a-token").status_code == 401
    assert relay.get("/v1/events", member).status_code == 200
    assert relay.get("/v1/me", member).json() == {
        "name": "maria",
        "role": "MEMBER",
        "protocol_version": 1,
    }
    assert relay.get("/v1/integration-failures", member).status_code == 403
    relay.cli("users", "revoke", "maria")
    assert relay.get("/v1/events", member).status_code == 401
    listing = relay.cli("users", "list").stdout
    assert "maria\tMEMBER\trevoked" in listing and "admin\tADMIN\tactive" in listing
    again = relay.cli("users", "revoke", "maria", check=False)
    assert again.returncode != 0 and "no active user named 'maria'" in again.stderr
    duplicate = relay.cli("users", "add", "admin", check=False)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr


def test_users_add_prints_the_token_alone_on_the_last_line(relay: RelayProcess) -> None:
    result = relay.cli("users", "add", "sam")
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("inb_") and " " not in last
    stored = db_rows(relay, "select token_hash from users where name = 'sam'")[0][0]
    assert last not in stored and len(stored) == 64


def test_reprocess_appends_what_an_older_version_could_not_normalise(
    relay: RelayProcess, admin_token: str
) -> None:
    assert relay.post(text_delivery("m_1", "first")).status_code == 200
    assert relay.post(text_delivery("m_2", "second")).status_code == 200
    # Leave the second delivery as a relay that could not normalise it would have left it.
    ((delivery_id,),) = relay.rows("select delivery_id from events where seq = 2")
    relay.rows("delete from events where seq = 2")
    relay.rows("update log_head set last_seq = 1")
    relay.rows(
        "update deliveries set status = 'FAILED', appended_count = 0 where id = :id",
        id=delivery_id,
    )
    relay.rows(
        "insert into integration_failures (kind, detail, delivery_id, first_at, last_at, count)"
        " values ('unknown_item', 'old', :id, 'x', 'x', 1)",
        id=delivery_id,
    )
    first = relay.cli("reprocess").stdout
    assert "reprocessed 2 deliveries: 1 new events, 0 deliveries still with failures" in first
    second = relay.cli("reprocess", "--failed-only").stdout
    assert "reprocessed 0 deliveries: 0 new events" in second
    events = relay.all_events(admin_token)
    assert [(e["seq"], e["event"]["dedup_key"]) for e in events] == [
        (1, "msg:MESSENGER:m_1"),
        (2, "msg:MESSENGER:m_2"),
    ]
    old = [f for f in failures(relay, admin_token, settle=False) if f["delivery_id"] == delivery_id]
    assert old and all(f["resolved_at"] for f in old)
    bad_since = relay.cli("reprocess", "--since", "yesterday", check=False)
    assert bad_since.returncode == 2 and "not an ISO-8601 time" in bad_since.stderr


def test_missing_secrets_refuse_to_start_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "INBOOP_RELAY_HOME": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "relay", "serve"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "INBOOP_META_APP_SECRET" in result.stderr and "Traceback" not in result.stderr


def test_settings_from_a_dotenv_file(tmp_path: Path) -> None:
    """The relay reads a .env file in the folder it starts in."""
    (tmp_path / ".env").write_text(
        "INBOOP_META_APP_SECRET=from-dotenv\nINBOOP_META_VERIFY_TOKEN=dotenv-verify\n"
    )
    process = RelayProcess(tmp_path)
    process.env.pop("INBOOP_META_APP_SECRET")
    process.env.pop("INBOOP_META_VERIFY_TOKEN")
    process.start()
    try:
        ok = process.get(
            "/webhooks/meta",
            **{"hub.mode": "subscribe", "hub.verify_token": "dotenv-verify", "hub.challenge": "42"},
        )
        assert ok.text == "42"
    finally:
        process.stop()


def test_access_log_is_one_json_line_per_request_without_secrets(
    relay: RelayProcess, admin_token: str
) -> None:
    relay.get(
        "/webhooks/meta",
        **{"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "7"},
    )
    relay.get("/v1/events", admin_token)
    wanted = {("GET", "/webhooks/meta", 200), ("GET", "/v1/events", 200)}
    deadline = time.monotonic() + 10
    while True:  # the line is written just after the response is sent
        lines = [json.loads(line) for line in relay.log().splitlines() if line.startswith("{")]
        requests = [line for line in lines if line["msg"] == "request"]
        logged = {(r["method"], r["path"], r["status"]) for r in requests}
        if logged >= wanted or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert logged >= wanted
    assert admin_token not in relay.log() and VERIFY_TOKEN not in relay.log()


def test_a_delivery_that_cannot_be_committed_gets_503_and_is_stored_on_retry(
    tmp_path: Path,
) -> None:
    relay = RelayProcess(tmp_path / "relay", INBOOP_RELAY_BUSY_TIMEOUT_SECONDS="0.3").start()
    try:
        token = relay.add_user("admin", admin=True)
        holder = sqlite3.connect(relay.home / "relay.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the database
        try:
            refused = relay.post(text_delivery("m_locked"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert refused.status_code == 503
        assert db_rows(relay, "select count(*) from deliveries") == [(0,)]
        assert relay.post(text_delivery("m_locked")).status_code == 200  # Meta's retry
        assert [e["event"]["dedup_key"] for e in relay.all_events(token)] == [
            "msg:MESSENGER:m_locked"
        ]
        assert '"level": "error"' in relay.log() and "could not be stored" in relay.log()
    finally:
        relay.stop()


def test_shutdown_does_not_wait_for_long_polls(relay: RelayProcess, admin_token: str) -> None:
    poller = threading.Thread(
        target=lambda: relay.get("/v1/events", admin_token, after=0, wait=60), daemon=True
    )
    poller.start()
    time.sleep(0.5)
    assert relay.proc is not None
    relay.proc.send_signal(signal.SIGTERM)
    relay.proc.wait(timeout=30)
    poller.join(timeout=30)
    assert '"path": "/v1/events", "status": 200' in relay.log()  # answered, not cancelled
    assert "Traceback" not in relay.log() and "Cancel" not in relay.log()
