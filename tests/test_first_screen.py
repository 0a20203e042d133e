"""The inbox's first screen read before SQLAlchemy loads: the statements compiled ahead, the
replica file's own connections, and what they read against what the statements read."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from inboop_tui.store import compiled, first_screen, queries
from inboop_tui.store.door import Identity
from inboop_tui.store.first_screen import Prepared
from inboop_tui.store.replica import Replica
from inboop_tui.store.replica_file import ReplicaError, open_replica_file, sole_user
from inboop_tui.store.rows import DEFAULT_VIEW, InboxFilter
from tests.app_support import FIXED_NOW, demo_replica


def test_the_statements_compiled_ahead_are_what_the_queries_compile_now() -> None:
    # A change to the list's statements (a column, a filter's condition) without
    # `make compiled-sql` would leave the first screen reading the old ones.
    assert compiled.STATEMENTS == queries.compile_ahead()


def test_a_prepared_statement_spreads_its_list_over_as_many_parameters() -> None:
    statement = Prepared(
        "SELECT pk FROM t WHERE a = ? AND pk IN (__[POSTCOMPILE_keys]) AND b = ?",
        ("fixed", None, None),
        ((1, "keys"), (2, "now")),
        "keys",
    )
    assert statement.bound({"keys": [7, 8, 9], "now": "then"}) == (
        "SELECT pk FROM t WHERE a = ? AND pk IN (?, ?, ?) AND b = ?",
        ["fixed", 7, 8, 9, "then"],
    )
    assert statement.bound({"keys": [5], "now": "later"})[1] == ["fixed", 5, "later"]


@pytest.mark.parametrize("sla", [None, 60])
def test_the_first_screen_reads_what_the_statements_read_without_making_the_engine(
    tmp_path: Path, sla: int | None
) -> None:
    """The default view's first keys and rows, read on the file's own connections, are those
    SQLAlchemy's statements read (the whole order, a window of rows), with conversations the
    view leaves out (resolved, snoozed) and one whose snooze has ended (shown open)."""
    _, engine = demo_replica(tmp_path)
    clock = [FIXED_NOW]
    admin = Replica(engine, Identity("ana", "ADMIN"), lambda: clock[0])
    ids = admin.conversation_ids(InboxFilter())
    admin.actions.set_status(ids[0], "RESOLVED")
    admin.actions.set_status(ids[1], "SNOOZED", FIXED_NOW + timedelta(hours=1))
    admin.actions.set_status(ids[2], "SNOOZED", FIXED_NOW + timedelta(days=3))
    admin.actions.set_sla(sla)
    clock[0] = FIXED_NOW + timedelta(hours=2)  # the first snooze has ended
    expected_keys = admin.list_order(DEFAULT_VIEW).keys
    expected_rows = admin.window(DEFAULT_VIEW, 0, 100)
    engine.dispose()

    opened = open_replica_file(tmp_path / "replica.db")
    try:
        replica = Replica(opened, None, lambda: clock[0])
        order, rows = replica.list_start(DEFAULT_VIEW, None, limit=100, rows=50)
        assert (list(order.keys), order.complete) == (list(expected_keys), True)
        assert rows == expected_rows
        assert ids[1] in [row.id for row in rows]  # woken: shown open
        assert not {ids[0], ids[2]} & {row.id for row in rows}
        assert any(row.over_sla for row in rows) == (sla is not None)
        first, _ = replica.list_start(DEFAULT_VIEW, None, limit=3, rows=2)
        assert (list(first.keys), first.complete) == (list(expected_keys[:3]), False)
        assert replica.rows_at(list(reversed(expected_keys))) == list(reversed(expected_rows))
        assert not opened.has_engine  # all of it read without SQLAlchemy's engine

        # Once the engine is made, the same reads go through its connections.
        assert replica.conversation(ids[1]) is not None
        assert opened.has_engine
        assert replica.list_start(DEFAULT_VIEW, None, limit=100, rows=50)[1] == expected_rows
    finally:
        opened.close()


def test_the_opened_file_is_in_use_until_closed_before_and_after_its_engine(
    tmp_path: Path,
) -> None:
    """`doctor --recover` never moves a replica the app has open, whether or not the app has
    made its engine yet; once it is closed, it can, and no engine is made on it after."""
    _, engine = demo_replica(tmp_path)
    engine.dispose()
    database = tmp_path / "replica.db"
    for make_engine in (False, True):
        opened = open_replica_file(database)
        if make_engine:
            assert Replica(opened, None, lambda: FIXED_NOW).tags() == []  # made here
        assert opened.has_engine == make_engine
        with pytest.raises(ReplicaError, match="open in another inboop"), sole_user(database):
            pass
        opened.close()
        with sole_user(database):
            pass
        with pytest.raises(ReplicaError, match="is closed"):  # a worker left as the app went
            _ = opened.engine


def test_a_failure_on_the_files_own_connections_says_what_to_do(tmp_path: Path) -> None:
    """A read of the first screen that fails (here, the replica's table taken away under it)
    ends in the one line every other read's failure does, not SQLite's traceback."""
    _, engine = demo_replica(tmp_path)
    engine.dispose()
    opened = open_replica_file(tmp_path / "replica.db")
    try:
        replica = Replica(opened, None, lambda: FIXED_NOW)
        elsewhere = sqlite3.connect(tmp_path / "replica.db")
        elsewhere.execute("ALTER TABLE conversations RENAME TO conversations_gone")
        elsewhere.close()
        with pytest.raises(ReplicaError, match=r"local database error .*no such table"):
            replica.list_start(DEFAULT_VIEW, None, limit=100, rows=50)
        assert not opened.has_engine
    finally:
        opened.close()


def test_the_compiled_first_keys_are_the_default_views_only() -> None:
    assert first_screen.compiled_for(DEFAULT_VIEW, None)
    assert not first_screen.compiled_for(DEFAULT_VIEW, "cv_kept")
    assert not first_screen.compiled_for(InboxFilter(), None)
    assert not first_screen.compiled_for(InboxFilter(status="OPEN"), None)
