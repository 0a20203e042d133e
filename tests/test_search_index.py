"""The messages' search index in parts (``store.search_index``): a search reads the newest part
first and the next only while its screens are not full, and finds what one index found.

Parts are made 16 messages long here (they hold 131,072), so a few hundred messages span many.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from textual.widgets import Input

from inboop_tui.app import InboopApp
from inboop_tui.store import queries, search_index
from inboop_tui.store.db import open_replica, writing
from inboop_tui.store.paths import Paths
from inboop_tui.store.projections import index_messages
from inboop_tui.store.queries import (
    ACTIVE,
    InboxFilter,
    Viewpoint,
    conversation_keys,
    viewpoint,
)
from inboop_tui.widgets.conversation_list import ConversationList
from tests.app_support import make_app, settle, use_utc, wait_until
from tests.harness import fill_replica, inboop, many_messages

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TEXTS = ("price of the red one", "blue", "pricey shoes", "red", "hello there", "PRICE list")


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setattr(search_index, "PART_BITS", 4)
    engine = open_replica(tmp_path / "replica.db")
    fill_replica(
        engine,
        many_messages(
            300,
            per_delivery=60,
            customer=lambda i: f"P{(i * 7) % 41}",
            text=lambda i: f"{TEXTS[(i * 5) % len(TEXTS)]} n{i}",
        ),
    )
    yield engine
    engine.dispose()


def expected_order(engine: Engine, search: str) -> list[int]:
    """The conversations (keys) with a message holding every word as a prefix of one of its
    words, by their newest such message: worked out from the messages themselves."""
    words = search.lower().split()
    newest: dict[int, int] = {}
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT m.pk, c.pk, coalesce(m.edit_text, m.original_text) FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id WHERE m.has_body AND NOT m.is_deleted"
        ).all()
    for pk, conversation, body in rows:
        tokens = re.findall(r"\w+", (body or "").lower())
        if all(any(token.startswith(word) for token in tokens) for word in words):
            newest[conversation] = max(pk, newest.get(conversation, 0))
    return sorted(newest, key=lambda conversation: newest[conversation], reverse=True)


def keys(engine: Engine, search: str, limit: int | None = None) -> tuple[list[int], bool]:
    with engine.connect() as conn:
        found, complete = conversation_keys(
            conn, InboxFilter(search=search), viewpoint(conn, None, NOW), limit=limit
        )
    return list(found), complete


def test_the_index_is_in_parts_and_a_search_reads_them_in_one_order(engine: Engine) -> None:
    with engine.connect() as conn:
        assert search_index.parts(conn) == list(range(300 // 16, -1, -1))
    for search in ("price", "pri", "red pric", "blue", "zzz", "n29"):
        expected = expected_order(engine, search)
        whole, complete = keys(engine, search)
        assert complete and whole == expected, search
        for limit in (1, 3, 10, 40):
            first, complete = keys(engine, search, limit)
            assert first == expected[:limit], (search, limit)
            assert complete == (len(expected) <= limit)


def test_a_search_with_filters_reads_its_first_screens_as_its_whole_order_begins(
    engine: Engine,
) -> None:
    # The first screens' statement is compiled once and read per part; the whole order is
    # built as a statement: the filters' parameters (a list of statuses among them) must
    # come out the same both ways.
    with engine.connect() as conn:
        vp = viewpoint(conn, None, NOW)
        for f in (
            InboxFilter(search="pric", channel="MESSENGER", status=ACTIVE),
            InboxFilter(search="red", unread_only=True, assigned="unassigned"),
            InboxFilter(search="blue", channel="WHATSAPP"),
        ):
            whole, complete = conversation_keys(conn, f, vp)
            assert complete
            if f.channel != "WHATSAPP":
                assert whole
            for limit in (1, 7, 30):
                first, _ = conversation_keys(conn, f, vp, limit=limit)
                assert list(first) == list(whole[:limit]), (f, limit)


def test_a_search_s_first_screens_are_read_for_who_looks_and_when(engine: Engine) -> None:
    # The first screens' statements are compiled once per filter, with the time, the SLA's
    # deadline and the words bound at each read: two viewpoints must each get their own
    # answer, the one the whole order (built for its viewpoint) begins with.
    early, middle, late = "2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z", "2030-01-03T00:00:00Z"
    with writing(engine) as conn:
        conn.exec_driver_sql(  # snoozed until between the two times (and not reopened)
            "UPDATE conversations SET status = 'SNOOZED', snoozed_until = ?, "
            "status_at = '2031-01-01T00:00:00Z' WHERE pk % 3 = 0",
            (middle,),
        )
        conn.exec_driver_sql("UPDATE conversations SET assignee = 'ana' WHERE pk % 2 = 0")
        conn.exec_driver_sql(
            "UPDATE conversations SET awaiting_since = ? WHERE pk % 5 < 2", (middle,)
        )
        open_one = conn.exec_driver_sql("SELECT id FROM conversations WHERE pk % 3 = 0").scalar()
    before = Viewpoint(me="ana", now=early, sla_deadline=early)
    after = Viewpoint(me="bo", now=late, sla_deadline=late)
    with engine.connect() as conn:
        for f in (
            InboxFilter(search="pric", status=ACTIVE),
            InboxFilter(search="red", status="SNOOZED"),
            InboxFilter(search="blue", assigned="me"),
            InboxFilter(search="pric", over_sla=True),
        ):
            answers = []
            for vp in (before, after):
                for keep in (None, open_one):
                    whole, _ = conversation_keys(conn, f, vp, keep)
                    for limit in (1, 5, 30):
                        first, _ = conversation_keys(conn, f, vp, keep, limit=limit)
                        assert list(first) == list(whole[:limit]), (f, vp, keep, limit)
                    answers.append(list(whole))
            # The viewpoints see different first screens: a statement kept for one viewpoint
            # and read for the other would show.
            assert answers[0][:30] != answers[2][:30], f


def test_an_edited_or_deleted_message_is_found_as_it_now_reads_in_its_own_part(
    engine: Engine,
) -> None:
    with engine.connect() as conn:
        old = conn.exec_driver_sql(
            "SELECT pk, channel, channel_message_id FROM messages "
            "WHERE original_text LIKE 'blue n%' ORDER BY pk LIMIT 2"
        ).all()
        newest_part = search_index.parts(conn)[0]
    assert all(search_index.part_of(pk) < newest_part for pk, _, _ in old)
    (edited, *_), (deleted, *_) = old
    with writing(engine) as conn:  # as the projections change a message, then index it
        conn.exec_driver_sql(
            "UPDATE messages SET edit_text = 'turquoise now' WHERE pk = ?", (edited,)
        )
        conn.exec_driver_sql("UPDATE messages SET is_deleted = 1 WHERE pk = ?", (deleted,))
        index_messages(conn, [(channel, mid) for _, channel, mid in old])
    for search in ("blue", "turq", "now"):
        assert keys(engine, search)[0] == expected_order(engine, search), search
    assert keys(engine, "turq")[0]


def test_the_migration_splits_one_index_into_parts_and_joins_them_again(
    engine: Engine,
) -> None:
    from alembic import command
    from alembic.config import Config

    from inboop_tui.store.replica_file import MIGRATIONS

    def indexed() -> list[tuple[int, str]]:
        with engine.connect() as conn:
            return sorted(
                (pk, body)
                for part in search_index.parts(conn)
                for pk, body in conn.exec_driver_sql(
                    f"SELECT rowid, text FROM {search_index.part_table(part)}"
                )
            )

    def migrate(step: str, revision: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with writing(engine) as conn:
            config.attributes["connection"] = conn
            getattr(command, step)(config, revision)

    parted = indexed()
    assert len(parted) == 300
    migrate("downgrade", "0006")
    with engine.connect() as conn:
        assert search_index.parts(conn) == []
        whole = sorted(conn.exec_driver_sql("SELECT rowid, text FROM messages_fts").all())
    assert [tuple(row) for row in whole] == parted
    migrate("upgrade", "head")
    assert indexed() == parted
    assert keys(engine, "price")[0] == expected_order(engine, "price")


def app_on(engine: Engine, tmp_path: Path) -> InboopApp:
    use_utc()
    return make_app(Paths(tmp_path, tmp_path), engine)


async def test_the_app_s_warm_up_does_what_a_first_search_does_before_its_first_match(
    engine: Engine, tmp_path: Path
) -> None:
    queries._search_statements.cache_clear()  # compiled by another test in this process
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        # The warm-up (after the first screen) prepares the inbox's view, for this agent.
        await wait_until(pilot, lambda: queries._search_statements.cache_info().misses == 1)
        await settle(pilot)
        prepared = queries._search_statements.cache_info()
        assert prepared.misses == 1

        search = app.screen.query_one("#search", Input)
        search.value = "pric"
        listing = app.screen.query_one(ConversationList)
        await wait_until(
            pilot,
            lambda: listing.filter.search == "pric" and listing.complete and listing.row(0),
        )
        assert queries._search_statements.cache_info().misses == prepared.misses
        every = expected_order(engine, "pric")  # all open: the inbox's view keeps them all
        assert list(listing._keys[: len(every)]) == every


async def test_a_damaged_search_index_leaves_the_inbox_working_until_a_search(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with writing(engine) as conn:
        newest = search_index.parts(conn)[0]
        conn.exec_driver_sql(f"DROP TABLE {search_index.part_table(newest)}_data")
    engine.dispose()  # connections that opened the index before: the app starts on new ones
    app = app_on(engine, tmp_path)
    caplog.set_level(logging.WARNING, logger="inboop")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: "search not prepared" in caplog.text)
        listing = app.screen.query_one(ConversationList)
        assert listing.count > 0 and listing.row(0) is not None
        assert not app._notifications  # the warm-up's failed preparation is only logged

        app.screen.query_one("#search", Input).value = "pric"
        await wait_until(pilot, lambda: bool(app._notifications))
        said = [n.message for n in app._notifications]
        assert len(said) == 1 and "Traceback" not in said[0]
        assert "search index" in said[0] and "inboop doctor --rebuild" in said[0]


@pytest.mark.parametrize(
    ("table", "shadow", "search_fails"),
    [
        ("part", "data", True),  # the part cannot be opened ("vtable constructor failed")
        ("part", "idx", True),  # a search reading it fails ("SQL logic error")
        ("part", "content", False),  # searches still find: only `doctor` sees it
        ("part", "docsize", False),
        ("part", "config", True),
        ("names", "data", True),
        ("names", "idx", True),
        ("names", "content", False),
        ("names", "docsize", False),
        ("names", "config", True),
    ],
)
def test_doctor_finds_a_damaged_search_index_and_the_rebuild_makes_it_again(
    engine: Engine, tmp_path: Path, table: str, shadow: str, search_fails: bool
) -> None:
    before = {search: expected_order(engine, search) for search in ("price", "red pric", "n29")}
    with writing(engine) as conn:
        part = search_index.parts(conn)[1]
        damaged = search_index.part_table(part) if table == "part" else search_index.NAMES
        conn.exec_driver_sql(f"DROP TABLE {damaged}_{shadow}")  # one of FTS5's own tables
    engine.dispose()

    searched = inboop(tmp_path, "conversations", "--search", "price")
    if search_fails:
        assert searched.returncode == 1 and "Traceback" not in searched.stderr
        assert "search index" in searched.stderr and "inboop doctor --rebuild" in searched.stderr
    else:
        assert searched.returncode == 0, searched.stderr
    # The doctor says which table and what to run.
    doctor = inboop(tmp_path, "doctor")
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    assert f"{damaged}_{shadow} missing" in doctor.stderr
    assert "inboop doctor --rebuild" in doctor.stderr

    # The command indexes with the real part size: the messages land in other parts than the
    # fixture's small ones, and nothing of a damaged part is left; the names' table is made
    # again whole.
    rebuilt = inboop(tmp_path, "doctor", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    with engine.connect() as conn:
        left = {
            name
            for (name,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE name GLOB ?",
                (f"{search_index.part_table(part)}*",),
            )
        }
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert search_index.damage(conn) == []
    assert part > 0 and left == set()
    for search, expected in before.items():
        assert expected and keys(engine, search)[0] == expected, search
    assert inboop(tmp_path, "doctor").returncode == 0
