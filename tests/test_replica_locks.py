"""Reading never waits for a writer: while another process holds the replica's write lock (a long
sync, a bulk action), the read-only commands and the app's inbox work as usual."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textual.widgets import Static

from inboop_tui.app import InboopApp
from inboop_tui.screens.inbox import InboxScreen
from inboop_tui.widgets.conversation_list import ConversationList
from tests.app_support import demo_replica, make_app, settle, shown, use_utc
from tests.harness import inboop


@contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another process's write transaction, open and uncommitted for as long as this lasts."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE sync_state SET last_error = 'a write in progress'")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_read_only_commands_do_not_need_the_write_lock(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    paths, engine = demo_replica(home)
    engine.dispose()
    out = tmp_path / "messages.csv"
    with write_lock_held(paths.database):
        listed = inboop(home, "conversations", "--json")
        exported = inboop(home, "export", "messages", "--out", str(out))
        doctor = inboop(home, "doctor", "--json")
    # A command that needed the lock would have waited out the busy timeout and failed.
    assert listed.returncode == 0, listed.stderr
    conversations = json.loads(listed.stdout)
    assert len(conversations) >= 1
    assert exported.returncode == 0, exported.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) > len(conversations)
    assert doctor.returncode == 0, doctor.stderr
    report = json.loads(doctor.stdout)
    # Neither the check nor the status saw the other process's uncommitted write.
    assert report["integrity"] == [] and report["status"]["last_error"] is None


async def test_the_app_shows_the_inbox_while_another_process_writes(tmp_path: Path) -> None:
    use_utc()
    paths, engine = demo_replica(tmp_path / "agent")
    app: InboopApp = make_app(paths, engine)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            with write_lock_held(paths.database):
                listing = app.screen.query_one(ConversationList)
                for _ in range(200):
                    if listing.count and listing.row(1) is not None:
                        break
                    await pilot.pause(0.05)
                assert listing.count == 12
                first = listing.row(0)
                assert first is not None and listing.highlighted == first.id
                await pilot.press("down")
                second = listing.row(1)
                assert second is not None and listing.highlighted == second.id
                header = app.screen.query_one("#thread-header", Static)
                for _ in range(200):  # the thread is read by a worker, which a busy machine delays
                    if second.display_name in shown(header):
                        break
                    await pilot.pause(0.05)
                assert second.display_name in shown(header)
                # Marking it read waits for the lock, and goes through once it is free.
                await pilot.pause(InboxScreen.READ_AFTER_SECONDS + 0.3)
            await settle(pilot)
            assert listing.row(1) is not None and not listing.row(1).unread  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_writes_leave_the_log_to_a_checkpoint_that_waits_for_no_one(tmp_path: Path) -> None:
    """Commits let the write-ahead log grow (the app copies it back after a sync); the copy
    does not wait for a writer, and one that cannot run is logged instead of failing."""
    from inboop_tui.store.db import checkpoint, create_replica_engine, writing
    from inboop_tui.store.replica_file import CHECKPOINT_PAGES
    from tests.harness import fill_replica, many_messages

    paths, engine = demo_replica(tmp_path / "agent")
    try:
        fill_replica(engine, many_messages(3000, per_delivery=300))
        with writing(engine) as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == CHECKPOINT_PAGES

        with write_lock_held(paths.database):
            done = checkpoint(engine)  # a writer at work does not stop it
        assert done is not None and done[0] > 0 and done[1] == done[0]

    finally:
        engine.dispose()
    paths.database.write_bytes(b"not a database" * 1000)
    damaged = create_replica_engine(paths.database)
    try:
        assert checkpoint(damaged) is None  # logged, not raised
    finally:
        damaged.dispose()
