"""`inboop login`, `sync`, `export` and `doctor` as subprocesses against a real relay process."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inboop_tui.store.db import create_replica_engine, open_replica
from inboop_tui.store.replica_file import MIGRATIONS, revisions
from inboop_tui.sync.client import talks_privately
from tests.harness import (
    RelayProcess,
    free_port,
    inboop,
    inboop_process,
    many_messages,
    replica_digest,
    scenario,
)


def feed(relay: RelayProcess, bodies: list[bytes]) -> None:
    for body in bodies:
        assert relay.post(body).status_code == 200


def login(home: Path, relay: RelayProcess, token: str) -> None:
    result = inboop(home, "login", relay.url, "--token", token)
    assert result.returncode == 0, result.stderr


def cursor_of(home: Path) -> int:
    with sqlite3.connect(home / "replica.db") as conn:
        return int(conn.execute("select cursor from sync_state").fetchone()[0])


def test_login_sync_and_exports_row_by_row(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    feed(relay, scenario())
    home = tmp_path / "agent"
    result = inboop(home, "login", relay.url + "/", "--token", admin_token)
    assert result.returncode == 0, result.stderr
    assert "logged in to" in result.stdout and "as admin" in result.stdout
    config = home / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert admin_token in config.read_text()

    synced = inboop(home, "sync")
    assert synced.returncode == 0, synced.stderr
    assert "synced 11 new events" in synced.stdout

    out = tmp_path / "messages.csv"
    exported = inboop(home, "export", "messages", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        rows = {row["channel_message_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"m_1", "m_2", "m_3", "ig_1", "ig_2", "wamid.IN", "wamid.OUT"}
    assert rows["m_1"]["direction"] == "INBOUND"
    assert (rows["m_1"]["channel"], rows["m_1"]["text"], rows["m_1"]["sender_type"]) == (
        "MESSENGER",
        "Is the blue dress in stock?",
        "CUSTOMER",
    )
    assert (rows["m_2"]["direction"], rows["m_2"]["delivery_status"]) == ("OUTBOUND", "READ")
    assert rows["m_3"]["text"] == '\'=HYPERLINK("http://evil.example")'  # neutralised
    assert (rows["ig_1"]["is_deleted"], rows["ig_1"]["text"], rows["ig_1"]["content_type"]) == (
        "true",
        "",
        "IMAGE",
    )
    assert rows["wamid.IN"]["customer_name"] == "Asha Verma"
    assert (rows["wamid.OUT"]["delivery_status"], rows["wamid.OUT"]["text"]) == (
        "DELIVERED",
        "₹1,499 for M",
    )
    assert rows["m_1"]["sent_at"] == "2025-11-24T16:00:00.000Z"
    assert list(rows["m_1"])[:10] == [
        "conversation_id",
        "channel",
        "customer_name",
        "channel_message_id",
        "direction",
        "sender_type",
        "content_type",
        "text",
        "attachments",
        "reply_to",
    ]

    conv_out = tmp_path / "conversations.csv"
    assert inboop(home, "export", "conversations", "--out", str(conv_out)).returncode == 0
    with conv_out.open(newline="", encoding="utf-8") as handle:
        conversations = list(csv.DictReader(handle))
    assert len(conversations) == 4
    asha = next(c for c in conversations if c["channel"] == "WHATSAPP")
    assert (
        asha["customer_name"],
        asha["customer_handle"],
        asha["message_count"],
        asha["status"],
    ) == ("Asha Verma", "9190", "2", "OPEN")
    assert conversations[0]["channel"] == "MESSENGER"  # newest first: P2 at T0+120s

    jsonl = tmp_path / "wa.jsonl"
    assert (
        inboop(
            home,
            "export",
            "messages",
            "--out",
            str(jsonl),
            "--format",
            "jsonl",
            "--channel",
            "whatsapp",
        ).returncode
        == 0
    )
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["channel_message_id"] for line in lines] == ["wamid.IN", "wamid.OUT"]
    assert lines[0]["is_deleted"] is False

    window = tmp_path / "window.csv"
    assert (
        inboop(
            home,
            "export",
            "messages",
            "--out",
            str(window),
            "--since",
            "2025-11-24T16:00:30Z",
            "--until",
            "2025-11-24T16:01:00Z",
        ).returncode
        == 0
    )
    with window.open(newline="") as handle:
        assert sorted(r["channel_message_id"] for r in csv.DictReader(handle)) == ["ig_1", "ig_2"]

    bad = inboop(
        home, "export", "messages", "--out", str(tmp_path / "x.csv"), "--since", "last tuesday"
    )
    assert bad.returncode == 2 and "not a date" in bad.stderr

    doctor = inboop(home, "doctor", "--rebuild")
    assert doctor.returncode == 0, doctor.stderr
    assert "rebuilt from 11 events: projections identical" in doctor.stdout

    again = inboop(home, "sync")
    assert again.returncode == 0 and "synced 0 new events" in again.stdout


# What a spreadsheet could run, however it is dressed, and text that must come out unchanged.
HOSTILE = {
    "f_plain": ("=1+1", "'=1+1"),
    "f_newline": ("\n=1", "'\n=1"),
    "f_space": (" =1", "' =1"),
    "f_tab": ("\tx", "'\tx"),
    "f_fullwidth_equals": ("\uff1d1", "'\uff1d1"),
    "f_fullwidth_plus": ("\uff0b1", "'\uff0b1"),
    "f_fullwidth_at": ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
    "f_small_minus": ("\ufe631", "'\ufe631"),
    "f_zero_width": ("\u200b=1", "'\u200b=1"),
    "f_bom": ("\ufeff=1", "'\ufeff=1"),
    "f_nul": ("a\x00b", "a\ufffdb"),
    "scripts": ("नमस्ते — 你好 — مرحبا 👋🏽 [b]bold[/b]", "नमस्ते — 你好 — مرحبا 👋🏽 [b]bold[/b]"),
    "spaced_word": ("  see you", "  see you"),
    "mention": ("hi @shop", "hi @shop"),
}


def test_exports_neutralise_what_a_spreadsheet_could_run(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    from relay import simulator as mp

    feed(
        relay,
        [
            mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, "=cmd|' /C calc'!A0", mid, text)))
            for mid, (text, _) in HOSTILE.items()
        ],
    )
    home = tmp_path / "agent"
    login(home, relay, admin_token)
    assert inboop(home, "sync").returncode == 0
    out, lines = tmp_path / "m.csv", tmp_path / "m.jsonl"
    assert inboop(home, "export", "messages", "--out", str(out)).returncode == 0
    with out.open(newline="", encoding="utf-8") as handle:
        cells = {r["channel_message_id"]: r for r in csv.DictReader(handle)}
    assert {mid: r["text"] for mid, r in cells.items()} == {
        mid: csv_text for mid, (_, csv_text) in HOSTILE.items()
    }
    assert {r["customer_name"] for r in cells.values()} == {"'=cmd|' /C calc'!A0"}
    assert "\x00" not in out.read_text(encoding="utf-8")

    conversations = tmp_path / "c.csv"
    assert inboop(home, "export", "conversations", "--out", str(conversations)).returncode == 0
    with conversations.open(newline="", encoding="utf-8") as handle:
        (conversation,) = csv.DictReader(handle)
    assert conversation["customer_id"] == conversation["customer_handle"] == "'=cmd|' /C calc'!A0"

    # JSON lines are read by programs, not spreadsheets: every text exactly as written.
    args = ("export", "messages", "--format", "jsonl", "--out", str(lines))
    assert inboop(home, *args).returncode == 0
    exact = {x["channel_message_id"]: x["text"] for x in map(json.loads, lines.open())}
    assert exact == {mid: text for mid, (text, _) in HOSTILE.items()}


def test_two_agents_replicas_agree(relay: RelayProcess, admin_token: str, tmp_path: Path) -> None:
    member = relay.add_user("maria")
    first, second = tmp_path / "a", tmp_path / "b"
    login(first, relay, admin_token)
    login(second, relay, member)
    bodies = scenario()
    feed(relay, bodies[:4])
    assert inboop(first, "sync").returncode == 0  # one agent syncs halfway
    feed(relay, bodies[4:])
    feed(relay, bodies[:2])  # Meta retries
    assert inboop(first, "sync").returncode == 0
    assert inboop(second, "sync", "--batch-size", "3").returncode == 0
    assert replica_digest(first) == replica_digest(second)


def test_sync_killed_mid_pull_resumes_to_the_same_replica(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    feed(relay, many_messages(3000))
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    login(killed, relay, admin_token)
    login(whole, relay, admin_token)
    process = inboop_process(killed, "sync", "--batch-size", "20")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (killed / "replica.db").exists():
            try:
                if cursor_of(killed) > 0:
                    break
            except sqlite3.Error:
                pass
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted_at = cursor_of(killed)
    assert 0 < interrupted_at < 3000  # it really was killed mid-pull
    resumed = inboop(killed, "sync")
    assert resumed.returncode == 0, resumed.stderr
    assert f"synced {3000 - interrupted_at:,} new events" in resumed.stdout
    assert inboop(whole, "sync").returncode == 0
    assert replica_digest(killed) == replica_digest(whole)
    with sqlite3.connect(killed / "replica.db") as conn:
        assert conn.execute("select count(*), min(seq), max(seq) from log_events").fetchone() == (
            3000,
            1,
            3000,
        )


def test_relay_down_fails_cleanly_and_leaves_the_replica_unchanged(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    home = tmp_path / "agent"
    feed(relay, scenario())
    login(home, relay, admin_token)
    assert inboop(home, "sync").returncode == 0
    before = replica_digest(home)
    relay.stop()
    result = inboop(home, "sync", "--timeout", "2")
    assert result.returncode == 1
    said = result.stderr.strip().splitlines()
    assert said == [  # what it was doing while it waited, then the one-line failure
        f"inboop: the relay at {relay.url} is not reachable (connection refused); retrying for 2s more…",
        f"inboop: sync failed: the relay at {relay.url} is not reachable (connection refused)",
    ]
    assert "Traceback" not in result.stderr + result.stdout
    assert replica_digest(home) == before
    doctor = inboop(home, "doctor")
    assert "last sync failed: the relay at" in doctor.stdout
    assert "recent syncs:" in doctor.stdout and "ok, 11 events pulled" in doctor.stdout
    export = inboop(home, "export", "messages", "--out", str(tmp_path / "offline.csv"))
    assert export.returncode == 0 and "wrote 7 messages" in export.stdout  # still readable offline


def test_relay_vanishing_mid_sync(relay: RelayProcess, admin_token: str, tmp_path: Path) -> None:
    feed(relay, many_messages(3000))
    home = tmp_path / "agent"
    login(home, relay, admin_token)
    process = inboop_process(home, "sync", "--batch-size", "10", "--timeout", "3")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (home / "replica.db").exists() and cursor_of(home) > 0:
                break
        except sqlite3.Error:
            pass
        time.sleep(0.02)
    relay.kill()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr.splitlines()[-1].startswith("inboop: sync failed:") and "Traceback" not in stderr
    applied = cursor_of(home)
    assert 0 < applied < 3000
    with sqlite3.connect(home / "replica.db") as conn:
        assert conn.execute(
            "select count(*), coalesce(max(seq), 0) from log_events"
        ).fetchone() == (applied, applied)
    rebuilt = inboop(home, "doctor", "--rebuild")
    assert "projections identical" in rebuilt.stdout
    relay.start()
    assert inboop(home, "sync").returncode == 0
    assert cursor_of(home) == 3000


def test_wrong_tokens(relay: RelayProcess, admin_token: str, tmp_path: Path) -> None:
    home = tmp_path / "agent"
    result = inboop(home, "login", relay.url, "--token", "inb_wrong")
    assert result.returncode == 1
    assert "login failed: the relay refused your token: ask an admin" in result.stderr
    assert not (home / "config.toml").exists()
    token = relay.add_user("temp")
    login(home, relay, token)
    relay.cli("users", "revoke", "temp")
    synced = inboop(home, "sync")
    assert synced.returncode == 1 and "refused your token" in synced.stderr
    not_a_url = inboop(home, "login", "relay.example.com", "--token", token)
    assert not_a_url.returncode == 1 and "must start with http://" in not_a_url.stderr


def test_login_takes_the_token_from_a_file_or_stdin_and_warns_of_plain_http(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    home = tmp_path / "agent"
    piped = inboop(home, "login", relay.url, stdin=f"{admin_token}\n")
    assert piped.returncode == 0, piped.stderr
    assert "as admin" in piped.stdout and "warning" not in piped.stderr  # loopback
    secret = tmp_path / "token"
    secret.write_text(f"  {admin_token}\n")
    for source in (str(secret), "-"):
        (home / "config.toml").unlink()
        filed = inboop(home, "login", relay.url, "--token-file", source, stdin=admin_token)
        assert filed.returncode == 0, filed.stderr
        assert f'token = "{admin_token}"' in (home / "config.toml").read_text()

    # 0.0.0.0 is not a loopback address, though Linux connects it to this machine.
    port = relay.url.rsplit(":", 1)[1]
    clear = inboop(home, "login", f"http://0.0.0.0:{port}", stdin=admin_token)
    assert clear.returncode == 0, clear.stderr
    assert "warning: http://0.0.0.0:" in clear.stderr and "in clear text" in clear.stderr
    assert admin_token not in clear.stderr + clear.stdout

    for args, error in (
        ((), "no token given: paste it at the prompt"),
        (("--token-file", str(tmp_path / "missing")), "cannot read the token from"),
        (("--token", admin_token, "--token-file", "-"), "give the token one way"),
    ):
        refused = inboop(tmp_path / "other", "login", relay.url, *args)
        assert refused.returncode == 2 and error in refused.stderr, refused.stderr
        assert (
            "Traceback" not in refused.stderr and not (tmp_path / "other" / "config.toml").exists()
        )

    home.chmod(0o500)  # a config folder the agent may not write
    try:
        unsaved = inboop(home, "login", relay.url, stdin=admin_token, ordinary=True)
    finally:
        home.chmod(0o700)
    assert unsaved.returncode == 1, unsaved.stderr
    assert "config.toml (Permission denied): check the folder's permissions" in unsaved.stderr
    assert "Traceback" not in unsaved.stderr and unsaved.stderr.count("\n") == 1
    assert not (home / "config.tmp").exists()


def test_login_asks_for_the_token_without_echoing_it(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    import fcntl
    import pty
    import select
    import termios

    def own_terminal() -> None:  # the pty becomes the command's terminal, as in a shell
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "inboop_tui", "login", relay.url],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "INBOOP_HOME": str(tmp_path / "agent")},
        preexec_fn=own_terminal,
    )
    os.close(follower)

    def read_until(text: bytes, seconds: float = 60) -> bytes:
        seen = b""
        deadline = time.monotonic() + seconds
        while text not in seen and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.2)[0]:
                try:
                    chunk = os.read(leader, 1024)
                except OSError:  # the terminal closed: the command ended
                    break
                if not chunk:
                    break
                seen += chunk
        return seen

    try:
        asked = read_until(b"Token: ")  # the space comes once echo is off
        assert b"Token: " in asked, asked
        os.write(leader, admin_token.encode() + b"\n")
        answered = read_until(b"run `inboop sync`")
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        os.close(leader)
    text = answered.decode()
    assert "logged in to" in text and admin_token not in text  # not echoed


def test_plain_http_is_private_only_on_loopback() -> None:
    for url in (
        "https://relay.example.com",
        "http://127.0.0.1:8787",
        "http://localhost:1",
        "http://[::1]:8",
    ):
        assert talks_privately(url), url
    for url in (
        "http://relay.example.com",
        "http://10.0.0.5:8787",
        "http://0.0.0.0:1",
        "http://127.0.0.1.example.com",
    ):
        assert not talks_privately(url), url


def test_sync_without_login_and_unreachable_login(tmp_path: Path) -> None:
    result = inboop(tmp_path / "agent", "sync")
    assert result.returncode == 1 and "no relay configured: run `inboop login" in result.stderr
    port = free_port()
    login_result = inboop(tmp_path / "agent", "login", f"http://127.0.0.1:{port}", "--token", "x")
    assert login_result.returncode == 1 and "connection refused" in login_result.stderr


def test_corrupt_and_locked_replica(relay: RelayProcess, admin_token: str, tmp_path: Path) -> None:
    home = tmp_path / "agent"
    feed(relay, scenario())
    login(home, relay, admin_token)
    assert inboop(home, "sync").returncode == 0

    holder = sqlite3.connect(home / "replica.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        locked = inboop(home, "sync")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert locked.returncode == 1
    assert "is locked by another program" in locked.stderr and "Traceback" not in locked.stderr

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "replica.db").write_bytes(b"this is not a database" * 100)
    for args in (("sync",), ("export", "messages", "--out", str(tmp_path / "x.csv")), ("doctor",)):
        result = inboop(broken, *args)
        assert result.returncode == 1, args
        assert "is damaged; run `inboop doctor --recover`" in result.stderr
        assert "Traceback" not in result.stderr

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    damage_table(home / "replica.db", "messages", damaged / "replica.db")
    out = tmp_path / "m.csv"
    result = inboop(damaged, "export", "messages", "--out", str(out))  # opens, then fails reading
    assert result.returncode == 1
    assert "is damaged; run `inboop doctor --recover`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / "m.csv.partial").exists()

    with sqlite3.connect(home / "replica.db") as db:
        db.execute("update alembic_version set version_num = '0999'")
    for args in (("sync",), ("export", "messages", "--out", str(tmp_path / "y.csv"))):
        result = inboop(home, *args)
        assert result.returncode == 1, args
        assert "was made by a newer inboop (schema 0999)" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.sqlite_only  # the client's database; the relay's backend does not matter
def test_a_sync_into_a_damaged_search_index_says_to_rebuild_it(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    home = tmp_path / "agent"
    bodies = many_messages(40, per_delivery=10, text=lambda i: f"kurta number {i}")
    feed(relay, bodies[:2])
    login(home, relay, admin_token)
    assert inboop(home, "sync").returncode == 0
    with sqlite3.connect(home / "replica.db") as db:
        (part,) = db.execute(
            "select name from sqlite_master where name glob 'messages_fts_[0-9]' "
            "and sql like 'CREATE VIRTUAL TABLE%'"
        ).fetchone()
        db.execute(f"drop table {part}_idx")  # one of FTS5's own tables: SQLite says little
    feed(relay, bodies[2:])

    synced = inboop(home, "sync")  # indexes the new messages' text
    assert synced.returncode == 1 and "Traceback" not in synced.stderr
    assert "search index" in synced.stderr and "inboop doctor --rebuild" in synced.stderr
    assert inboop(home, "doctor", "--rebuild").returncode == 0
    assert inboop(home, "sync").returncode == 0
    assert "synced 0 new events" in inboop(home, "sync").stdout
    found = inboop(home, "conversations", "--search", "39", "--json")  # the last message
    assert found.returncode == 0 and json.loads(found.stdout), found.stderr


def damage_table(source: Path, table: str, target: Path) -> None:
    """A copy of the replica ``source`` at ``target`` with the root page of ``table`` (or of an
    index) wiped."""
    with sqlite3.connect(source) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = db.execute(
            "select rootpage from sqlite_master where name = ?", (table,)
        ).fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
    image = bytearray(source.read_bytes())
    image[(root - 1) * size : root * size] = b"\xff" * size
    target.write_bytes(bytes(image))


@pytest.mark.sqlite_only  # the client's database; the relay's backend does not matter
def test_doctor_finds_a_damaged_replica_and_recovers_it_keeping_unsynced_changes(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    feed(relay, scenario())
    healthy, home = tmp_path / "healthy", tmp_path / "agent"
    for agent in (healthy, home):
        login(agent, relay, admin_token)
        assert inboop(agent, "sync").returncode == 0
    relay.stop()
    queued = inboop(home, "note", "P1", "call her back about the blue dress")
    assert queued.returncode == 0, queued.stderr  # offline: queued for the next sync
    damage_table(home / "replica.db", "ix_conversations_recent", home / "replica.db")

    for args in (("doctor",), ("doctor", "--rebuild"), ("doctor", "--json")):
        result = inboop(home, *args)
        assert result.returncode == 1, args
        assert "is damaged (SQLite's check: Page " in result.stderr, result.stderr
        assert "run `inboop doctor --recover`" in result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    reported = json.loads(inboop(home, "doctor", "--json").stdout)
    assert reported["integrity"] and isinstance(reported["integrity"], list)

    damaged = (home / "replica.db").read_bytes()
    elsewhere = create_replica_engine(home / "replica.db")  # as the app holds it open
    try:
        refused = inboop(home, "doctor", "--recover")
    finally:
        elsewhere.dispose()
    assert refused.returncode == 1, refused.stderr
    assert "is open in another inboop (the app, or a sync still running)" in refused.stderr
    assert (home / "replica.db").read_bytes() == damaged  # not moved while in use

    recovered = inboop(home, "doctor", "--recover", "--json")
    assert recovered.returncode == 0, recovered.stderr
    done = json.loads(recovered.stdout)
    assert done["kept"]["outbox"] == 1 and done["unreadable"] == []
    assert Path(done["moved_to"]).read_bytes() == damaged  # kept for whoever wants to look
    again = inboop(home, "doctor", "--recover")
    assert again.returncode == 2 and "is not damaged (SQLite's check: ok)" in again.stderr
    assert sorted(p.name for p in home.iterdir() if "recovering" in p.name) == []

    relay.start()
    synced = inboop(home, "sync")
    assert synced.returncode == 0, synced.stderr
    assert "pushed 1 change" in synced.stdout
    assert inboop(healthy, "sync").returncode == 0
    assert replica_digest(home) == replica_digest(healthy)  # the note reached both
    notes = json.loads(inboop(healthy, "show", "P1", "--json").stdout)["notes"]
    assert [n["text"] for n in notes] == ["call her back about the blue dress"]


def test_recover_refuses_a_replica_that_is_not_damaged_but_cannot_be_opened(
    tmp_path: Path,
) -> None:
    home = tmp_path / "agent"
    assert inboop(home, "conversations").returncode == 0  # a fresh, empty replica
    with sqlite3.connect(home / "replica.db") as db:
        db.execute("update alembic_version set version_num = 'ffff'")
    refused = inboop(home, "doctor", "--recover")
    assert refused.returncode == 1
    assert "was made by a newer inboop" in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.name for p in home.iterdir() if "damaged" in p.name) == []  # nothing moved


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_customer_data_at_rest_is_owner_only(tmp_path: Path) -> None:
    home, exports = tmp_path / "agent", tmp_path / "exports" / "november"
    out = exports / "messages.csv"
    exported = inboop(home, "export", "messages", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert inboop(home, "sync").returncode == 1  # not logged in; the log file is written
    assert (mode(home), mode(exports), mode(out)) == (0o700, 0o700, 0o600)
    assert (mode(home / "replica.db"), mode(home / "inboop.log")) == (0o600, 0o600)
    engine = open_replica(home / "replica.db")  # in this process, whose umask is 022
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select count(*) from messages").all()
            assert mode(home / "replica.db-wal") == mode(home / "replica.db-shm") == 0o600
    finally:
        engine.dispose()

    (home / "replica.db").chmod(0o644)  # as an older inboop left them
    (home / "inboop.log").chmod(0o644)
    out.chmod(0o644)
    assert inboop(home, "export", "messages", "--out", str(out)).returncode == 0
    assert inboop(home, "sync").returncode == 1
    assert (mode(home / "replica.db"), mode(home / "inboop.log"), mode(out)) == (0o600,) * 3


@pytest.mark.sqlite_only  # the client's disk
def test_a_full_disk_stops_sync_in_one_line_and_it_resumes_once_there_is_room(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    import resource

    feed(relay, many_messages(3000))
    full, whole = tmp_path / "full", tmp_path / "whole"
    login(full, relay, admin_token)
    login(whole, relay, admin_token)
    assert inboop(full, "export", "messages", "--out", str(tmp_path / "m.csv")).returncode == 0
    room = (full / "replica.db").stat().st_size + 400_000  # the disk fills part-way through

    def small_disk() -> None:  # no file of this process may grow past ``room``
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

    stopped = subprocess.run(  # small pages: a few transactions are saved before the disk fills
        [sys.executable, "-m", "inboop_tui", "sync", "--batch-size", "20"],
        env={**os.environ, "INBOOP_HOME": str(full)},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
        stdin=subprocess.DEVNULL,
    )
    assert stopped.returncode == 1
    assert "the disk is full or failing; free some space" in stopped.stderr, stopped.stderr
    assert "Traceback" not in stopped.stderr and stopped.stderr.count("\n") == 1
    with sqlite3.connect(full / "replica.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert 0 < cursor_of(full) < 3000  # what was saved before the disk filled stays

    resumed = inboop(full, "sync")
    assert resumed.returncode == 0, resumed.stderr
    assert inboop(whole, "sync").returncode == 0
    assert replica_digest(full) == replica_digest(whole)


@pytest.mark.sqlite_only  # the client's disk
def test_a_read_only_replica_is_one_line_for_every_command_and_works_once_writable(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    feed(relay, scenario())
    home = tmp_path / "agent"
    login(home, relay, admin_token)
    assert inboop(home, "sync").returncode == 0
    conversation = json.loads(inboop(home, "conversations", "--json").stdout)[0]["id"]
    feed(relay, many_messages(50))
    before = replica_digest(home)
    files = sorted(home.iterdir())
    for path in files:
        path.chmod(0o400)
    home.chmod(0o500)  # a folder and files the agent's user may not write: a read-only disk
    try:
        for args in (
            ("conversations",),
            ("export", "messages", "--out", str(tmp_path / "m.csv")),
            ("doctor",),
            ("note", conversation, "called back"),
            ("sync",),
            ("doctor", "--rebuild"),
        ):
            said = inboop(home, *args, ordinary=True)
            assert said.returncode == 1, (args, said.stdout, said.stderr)
            assert "Traceback" not in said.stderr and said.stderr.count("\n") == 1, said.stderr
            assert "cannot write the local database" in said.stderr, said.stderr
            assert "check its permissions" in said.stderr
    finally:
        home.chmod(0o700)
        for path in files:
            path.chmod(0o600)
    assert replica_digest(home) == before  # nothing changed, nothing damaged
    assert inboop(home, "note", conversation, "called back", ordinary=True).returncode == 0
    assert inboop(home, "sync", ordinary=True).returncode == 0
    assert cursor_of(home) > 11


def test_opening_a_current_replica_does_not_import_alembic(tmp_path: Path) -> None:
    open_replica(tmp_path / "replica.db").dispose()  # created and migrated
    probe = (
        "import sys; from pathlib import Path; from inboop_tui.store.db import open_replica;"
        f"open_replica(Path({str(tmp_path / 'replica.db')!r})).dispose();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_schema_head_read_from_the_files_is_alembics() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    head, known = revisions()
    assert head == script.get_current_head()
    assert known == {r.revision for r in script.walk_revisions()}


def test_broken_config_file_is_reported(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    home.mkdir()
    (home / "config.toml").write_text("[relay\nurl = ")
    result = inboop(home, "sync")
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "config.toml" in result.stderr


def test_the_app_reports_a_broken_config_or_replica_in_one_line(tmp_path: Path) -> None:
    """`inboop` with no command opens the app without Typer; what stops it before the app
    ends as every command does: one line and the same exit code."""
    home = tmp_path / "agent"
    home.mkdir()
    (home / "config.toml").write_text("[relay\nurl = ")
    result = inboop(home)
    assert result.returncode == 2
    assert result.stderr.startswith("inboop: cannot read") and "config.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "replica.db").write_bytes(b"this is not a database" * 100)
    result = inboop(broken)
    assert result.returncode == 1
    assert "is damaged; run `inboop doctor --recover`" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help(tmp_path: Path) -> None:
    version = inboop(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("inboop ")
    for args in (
        ("--help",),
        ("sync", "--help"),
        ("export", "--help"),
        ("login", "--help"),
        ("doctor", "--help"),
        ("demo", "--help"),
    ):
        result = inboop(tmp_path, *args)
        assert result.returncode == 0 and "Usage" in result.stdout, args


@pytest.mark.parametrize("kind", ["conversations", "messages"])
def test_export_of_an_empty_replica_has_just_the_header(tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"{kind}.csv"
    result = inboop(tmp_path / "agent", "export", kind, "--out", str(out))
    assert result.returncode == 0
    assert len(out.read_text().splitlines()) == 1
    assert not os.path.exists(str(out) + ".partial")
