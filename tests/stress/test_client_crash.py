"""`inboop sync` killed (SIGKILL) at random moments of a large pull and of its pushes, then run
again: the replica ends identical to one that synced without interruption, and every change the
agent made reaches the relay's log exactly once.

The default suite runs a few kills; ``make stress`` runs 100.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inboop_tui.store.actions import Identity
from inboop_tui.store.db import open_replica
from inboop_tui.store.replica import Replica
from tests.harness import RelayProcess, inboop, inboop_process, many_messages, replica_digest


def note_offline(home: Path, text: str) -> bool:
    """A note by the agent on a conversation the replica already has, queued (not pushed)."""
    try:
        with sqlite3.connect(home / "replica.db") as db:
            found = db.execute("select id from conversations order by id limit 1").fetchone()
    except sqlite3.Error:
        return False
    if found is None:
        return False
    engine = open_replica(home / "replica.db")
    try:
        Replica(engine, Identity("admin", "ADMIN"), lambda: datetime.now(UTC)).actions.add_note(
            found[0], text
        )
    finally:
        engine.dispose()
    return True


def cursor_of(home: Path) -> int:
    try:
        with sqlite3.connect(home / "replica.db") as db:
            found = db.execute("select cursor from sync_state").fetchone()
    except sqlite3.Error:
        return 0
    return int(found[0]) if found else 0


def queued(home: Path) -> int:
    """The changes waiting in the outbox (none before the replica's first migration)."""
    with sqlite3.connect(home / "replica.db") as db:
        try:
            return int(db.execute("select count(*) from outbox").fetchone()[0])
        except sqlite3.OperationalError:  # killed before the tables were made
            return 0


def crash_run(relay: RelayProcess, token: str, tmp_path: Path, *, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    for body in many_messages(12_000, per_delivery=200, customer=lambda i: f"P{i % 400}"):
        assert relay.post(body).status_code == 200
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    for home in (killed, whole):
        assert inboop(home, "login", relay.url, "--token", token).returncode == 0
    notes: list[str] = []
    cursors: list[int] = []
    unpushed: list[int] = []  # changes still queued after each kill
    for round_ in range(kills):
        if note_offline(killed, f"note {round_}"):
            notes.append(f"note {round_}")
        process = inboop_process(killed, "sync", "--batch-size", "50")
        time.sleep(rng.uniform(0.2, 2.5))  # start-up, push, or somewhere in the pull
        process.send_signal(signal.SIGKILL)
        process.wait()
        cursors.append(cursor_of(killed))
        unpushed.append(queued(killed))
    finished = inboop(killed, "sync")
    assert finished.returncode == 0, finished.stderr
    assert notes, "no round had a conversation to note on"
    assert inboop(whole, "sync").returncode == 0
    assert replica_digest(killed) == replica_digest(whole)

    log = relay.all_events(token)
    pushed = [e["event"]["payload"]["text"] for e in log if e["type"] == "conversation.note"]
    assert sorted(pushed) == sorted(notes), "a change was lost or applied twice"
    with sqlite3.connect(killed / "replica.db") as db:
        assert db.execute("select count(*) from outbox").fetchone() == (0,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    mid_pull = sum(1 for c in cursors if 0 < c < len(log))
    before_push = sum(1 for waiting in unpushed if waiting)
    if kills >= 20:  # enough rounds that the kills must have landed all over the sync
        assert mid_pull >= kills // 4, cursors
        assert 0 < before_push < kills, unpushed
    print(
        f"client crash: {kills} kills ({mid_pull} mid-pull, {before_push} before the push "
        f"had landed), {len(notes)} changes pushed once each, replicas equal"
    )


def test_sync_killed_at_random_moments_ends_like_an_uninterrupted_one(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    crash_run(relay, admin_token, tmp_path, kills=4, seed=21)


@pytest.mark.stress
def test_sync_killed_100_times_ends_like_an_uninterrupted_one(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    crash_run(relay, admin_token, tmp_path, kills=100, seed=22)
