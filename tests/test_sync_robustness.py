"""Sync never wedges: concurrent syncs, entries this version cannot read, a relay restored
from an older backup. Real relay process, the CLI as a user runs it, real replica files."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select, text

from relay.store.dialect import create_engines
from relay.store.tables import log_head
from tests.harness import RelayProcess, inboop, inboop_process, many_messages, replica_digest


def feed(relay: RelayProcess, bodies: list[bytes]) -> None:
    for body in bodies:
        assert relay.post(body).status_code == 200


def login(home: Path, relay: RelayProcess, token: str) -> None:
    result = inboop(home, "login", relay.url, "--token", token)
    assert result.returncode == 0, result.stderr


def cursor_and_head(home: Path) -> tuple[int, int]:
    with sqlite3.connect(home / "replica.db") as conn:
        return conn.execute("select cursor, relay_head from sync_state").fetchone()


def test_two_syncs_of_one_replica_at_once_end_like_one_clean_sync(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    feed(relay, many_messages(20_000, per_delivery=200, customer=lambda i: f"P{i % 997}"))
    clean = tmp_path / "clean"
    login(clean, relay, admin_token)
    assert inboop(clean, "sync").returncode == 0
    expected = replica_digest(clean)
    for round_ in range(3):
        home = tmp_path / f"round{round_}"
        login(home, relay, admin_token)
        first = inboop_process(home, "sync", "--batch-size", str(100 + 150 * round_))
        second = inboop_process(home, "sync", "--batch-size", "250")
        for process in (first, second):
            _, stderr = process.communicate(timeout=180)
            assert process.returncode == 0, stderr
        assert cursor_and_head(home) == cursor_and_head(clean)
        assert replica_digest(home) == expected
        again = inboop(home, "sync")
        assert again.returncode == 0 and "synced 0 new events" in again.stdout, again.stderr


def _append_raw(relay: RelayProcess, entries: list[tuple[str, str, str]]) -> None:
    """Entries a newer relay might have written: (origin, type, payload JSON)."""
    engines = create_engines(relay.database_url)
    try:
        with engines.writer.begin() as db:  # the head row locked, as the relay appends
            head = db.execute(select(log_head.c.last_seq).with_for_update()).scalar_one()
            for offset, (origin, kind, payload) in enumerate(entries, start=1):
                db.execute(
                    text(
                        "insert into events (seq, dedup_key, origin, type, recorded_at, payload) "
                        "values (:seq, :key, :origin, :kind, '2026-11-25T00:00:00.000Z', :body)"
                    ),
                    {
                        "seq": head + offset,
                        "key": f"future:{head + offset}",
                        "origin": origin,
                        "kind": kind,
                        "body": payload,
                    },
                )
            db.execute(text("update log_head set last_seq = :h"), {"h": head + len(entries)})
    finally:
        engines.dispose()


def test_entries_the_replica_cannot_read_are_kept_listed_and_never_stop_sync(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    feed(relay, many_messages(5, prefix="before"))
    _append_raw(
        relay,
        [
            ("channel", "message.hologram", json.dumps({"type": "message.hologram", "beams": 3})),
            ("channel", "message.received", json.dumps({"type": "message.received", "oops": True})),
        ],
    )
    feed(relay, many_messages(5, prefix="after"))
    home = tmp_path / "agent"
    login(home, relay, admin_token)
    synced = inboop(home, "sync")
    assert synced.returncode == 0, synced.stderr
    assert "synced 12 new events" in synced.stdout
    doctor = inboop(home, "doctor")
    assert "log entries this version cannot read: 2" in doctor.stdout
    assert (
        "seq 6  message.hologram: UnreadableEntry: this version does not know channel entries of type 'message.hologram'"
        in doctor.stdout
    )
    assert "seq 7  message.received: ValidationError" in doctor.stdout
    shown = json.loads(inboop(home, "conversations", "--json").stdout)
    assert sum(c["message_count"] for c in shown) == 10  # before and after both applied
    rebuilt = inboop(home, "doctor", "--rebuild")
    assert rebuilt.returncode == 0 and "projections identical" in rebuilt.stdout


@pytest.mark.sqlite_only  # restores the relay's SQLite file by hand
def test_a_relay_restored_behind_the_replica_is_caught_and_resync_recovers(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    feed(relay, many_messages(30, prefix="a", customer=lambda i: "P1"))
    backup = tmp_path / "relay-backup.db"
    with sqlite3.connect(relay.home / "relay.db") as source, sqlite3.connect(backup) as target:
        source.backup(target)
    feed(relay, many_messages(30, prefix="b", customer=lambda i: "P1"))
    home = tmp_path / "agent"
    login(home, relay, admin_token)
    assert inboop(home, "sync").returncode == 0
    sent = inboop(home, "note", "P1", "call them back")  # sent and confirmed: seq 61
    assert sent.returncode == 0 and "(sent)" in sent.stdout

    relay.stop()
    for suffix in ("", "-wal", "-shm"):
        (relay.home / f"relay.db{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, relay.home / "relay.db")
    relay.start()

    relay.stop()
    unsynced = inboop(home, "tag", "P1", "+callback")  # offline: stays queued
    assert unsynced.returncode == 0 and "(queued;" in unsynced.stdout
    relay.start()
    behind = inboop(home, "sync")
    assert behind.returncode == 1
    # The queued tag was pushed first (the relay takes changes whatever its log): 30 + 1.
    assert behind.stderr.strip().splitlines() == [
        f"inboop: sync failed: the relay at {relay.url} has 31 log entries but this replica has "
        "applied 61: the relay was probably restored from a backup. Run `inboop sync --resync` "
        "to rebuild this replica from the relay (your unsynced changes are kept)"
    ]
    # The relay moves on past the replica's cursor: its log still differs, and sync says so.
    feed(relay, many_messages(40, prefix="c", customer=lambda i: "P1"))
    diverged = inboop(home, "sync")
    assert diverged.returncode == 1 and "differs from this replica's at seq 61" in diverged.stderr
    assert "--resync" in diverged.stderr

    resynced = inboop(home, "sync", "--resync")
    assert resynced.returncode == 0, resynced.stderr
    # The note the restored relay lost is given back; the tag it has answers its seq.
    assert "pushed 2 changes" in resynced.stdout
    fresh = tmp_path / "fresh"
    login(fresh, relay, admin_token)
    assert inboop(fresh, "sync").returncode == 0
    assert inboop(home, "sync").returncode == 0  # its own note comes back confirmed
    assert replica_digest(home) == replica_digest(fresh)
    shown = json.loads(inboop(fresh, "show", "P1", "--json").stdout)
    assert [n["text"] for n in shown["notes"]] == ["call them back"]
    assert shown["tags"] == ["callback"]
    assert shown["message_count"] == 70
