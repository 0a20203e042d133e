"""The app under Textual's pilot, on a real replica file (and a real relay for sync)."""

from __future__ import annotations

import asyncio
import csv
import gc
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.stylesheet import Stylesheet
from textual.reactive import reactive
from textual.widgets import Input, Select, Static

from inboop_tui.app import InboopApp
from inboop_tui.screens.export_dialog import ExportDialog
from inboop_tui.screens.inbox import InboxScreen
from inboop_tui.store.config import ClientConfig, save_config
from inboop_tui.store.db import open_replica
from inboop_tui.store.export import ExportKind
from inboop_tui.store.paths import Paths
from inboop_tui.store.rebuild import digest
from inboop_tui.widgets import conversation_list as conversation_list_module
from inboop_tui.widgets.conversation_list import ConversationList
from inboop_tui.widgets.key_footer import KeyFooter
from inboop_tui.widgets.status_bar import StatusBar
from inboop_tui.widgets.thread_body import ThreadBody
from tests.app_support import (
    demo_bodies,
    demo_replica,
    make_app,
    settle,
    shown,
    use_utc,
    wait_until,
)
from tests.harness import RelayProcess, fill_replica, free_port, many_messages
from tests.hostile_relay import Handler, answer, entry, page


@pytest.fixture(autouse=True)
def utc() -> None:
    use_utc()


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    paths, engine = demo_replica(tmp_path / "agent")
    yield paths, engine
    engine.dispose()


def conversation_list(app: InboopApp) -> ConversationList:
    return app.screen.query_one(ConversationList)


def thread_text(app: InboopApp) -> str:
    return shown(app.screen.query_one(ThreadBody))


def header_text(app: InboopApp) -> str:
    return shown(app.screen.query_one("#thread-header", Static))


async def test_inbox_lists_newest_first_and_shows_the_thread(replica: tuple[Paths, Engine]) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        listing = conversation_list(app)
        assert listing.count == 12
        rows = [listing.row(i) for i in range(12)]
        assert all(rows)
        times = [r.last_message_at for r in rows if r]
        assert times == sorted(times, reverse=True)
        first = rows[0]
        assert first is not None and listing.highlighted == first.id
        assert first.display_name in header_text(app)
        assert "reply window" in header_text(app)
        assert (first.preview or "").removeprefix("→ ")[:20] in thread_text(app)
        # Start-up's objects are kept out of the collector's full passes while the app runs.
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_the_inbox_is_the_first_screen_and_its_mode_comes_back_as_it_was(
    replica: tuple[Paths, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The inbox is made as the app's first screen, not by switching to its mode: a mode's new
    # screen has Textual parse the whole stylesheet again (twice) before it is shown.
    reparsed: list[Stylesheet] = []
    reparse = Stylesheet.reparse

    def counted(sheet: Stylesheet) -> None:
        reparsed.append(sheet)
        reparse(sheet)

    monkeypatch.setattr(Stylesheet, "reparse", counted)
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        inbox = app.screen
        assert isinstance(inbox, InboxScreen) and app.current_mode == "inbox"
        assert reparsed == []
        await pilot.press("down", "down")
        await settle(pilot)
        kept = conversation_list(app).highlighted
        for key, mode in (("f2", "leads"), ("f1", "inbox"), ("f3", "orders"), ("f1", "inbox")):
            await pilot.press(key)
            await settle(pilot)
            assert app.current_mode == mode
        assert app.screen is inbox  # the same screen, where the agent left it
        assert conversation_list(app).cursor == 2 and conversation_list(app).highlighted == kept


async def test_moving_the_cursor_opens_that_thread_and_marks_it_read(
    replica: tuple[Paths, Engine],
) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        listing = conversation_list(app)
        second = listing.row(1)
        assert second is not None and second.unread
        await pilot.press("down", "down", "up")  # skimming past one marks nothing read
        await settle(pilot)
        skimmed = listing.row(2)
        assert skimmed is not None and skimmed.unread
        assert listing.highlighted == second.id
        assert second.display_name in header_text(app)
        await pilot.pause(InboxScreen.READ_AFTER_SECONDS + 0.3)  # staying on one reads it
        await settle(pilot)
        reread = listing.row(1)
        assert reread is not None and not reread.unread
        await pilot.press("end")
        await settle(pilot)
        assert listing.cursor == 11
        await pilot.press("home")
        await settle(pilot)
        assert listing.cursor == 0


async def test_search_filters_by_message_text_and_name(replica: tuple[Paths, Engine]) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#search", Input)
        await pilot.press(*"embroidery")
        await settle(pilot)
        listing = conversation_list(app)
        assert listing.count >= 1
        for i in range(listing.count):
            row = listing.row(i)
            assert row is not None
        assert "embroidery" in thread_text(app).lower()
        assert "matching “embroidery”" in shown(app.screen.query_one("#filter-line", Static))
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("slash", *"Rahul")
        await settle(pilot)
        assert listing.count == 1
        assert "Rahul Mehta" in header_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert listing.count == 12
        await pilot.press("slash", *"zzzqqq")
        await settle(pilot)
        assert listing.count == 0
        assert "No conversation matches" in thread_text(app)


async def test_escape_from_the_thread_goes_back_to_the_list_and_keeps_the_search(
    replica: tuple[Paths, Engine],
) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        listing = conversation_list(app)
        await pilot.press("slash", *"embroidery", "enter")  # the search, then the list
        await settle(pilot)
        found = listing.count
        assert 1 <= found < 12
        await pilot.press("down")
        await settle(pilot)
        reading = app.screen.open_conversation
        assert reading is not None
        await pilot.press("enter")  # into the thread
        await settle(pilot)
        assert app.focused is not None and app.focused.id == "thread-scroll"
        await pilot.press("escape")
        await settle(pilot)
        assert app.focused is listing
        assert listing.filter.search == "embroidery" and listing.count == found
        assert app.screen.open_conversation == reading
        await pilot.press("escape")  # from the list: the search goes
        await settle(pilot)
        assert listing.filter.search is None and listing.count == 12


async def test_the_search_box_and_filter_line_keep_up_with_long_text(
    replica: tuple[Paths, Engine],
) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        line = app.screen.query_one("#filter-line", Static)
        box = app.screen.query_one("#search", Input)
        assert line.size.height == 1
        long = "embroidery " * 8 + "tail"
        await pilot.press("slash", *long)
        await settle(pilot)
        # The box scrolls to what is typed last; the line grows to hold the whole search.
        drawn = "".join(box.render_line(y).text for y in range(box.size.height))
        assert "tail" in drawn
        assert line.size.height > 1
        assert long in " ".join(shown(line, width=line.content_region.width).split())
        await pilot.press("escape")
        await settle(pilot)
        assert line.size.height == 1
        assert shown(line).startswith("12 conversations")


async def test_search_text_with_fts_syntax_and_markup_never_errors(
    replica: tuple[Paths, Engine],
) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        listing = conversation_list(app)
        for hostile in ('"kurta', "NEAR(a b) OR", "[bold red]x[/]", "ord-1002*", "^-:(", "[/]"):
            await pilot.press("slash")
            app.screen.query_one("#search", Input).value = hostile
            await settle(pilot)
            line = shown(app.screen.query_one("#filter-line", Static))
            assert hostile in line  # shown as typed, never read as markup
            assert all(listing.row(i) is not None for i in range(listing.count))
            await pilot.press("escape")
            await settle(pilot)
        assert listing.count == 12


async def test_channel_and_unread_filters(replica: tuple[Paths, Engine]) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        listing = conversation_list(app)
        counts = {}
        for expected in ("INSTAGRAM", "WHATSAPP", "MESSENGER"):
            await pilot.press("c")
            await settle(pilot)
            assert listing.filter.channel == expected
            counts[expected] = listing.count
            assert all(
                (row := listing.row(i)) is not None and row.channel == expected
                for i in range(listing.count)
            )
        assert counts == {"INSTAGRAM": 4, "WHATSAPP": 4, "MESSENGER": 4}
        await pilot.press("c")
        await settle(pilot)
        assert listing.filter.channel is None and listing.count == 12
        await pilot.press("u")
        await settle(pilot)
        assert listing.count == 12  # a conversation shown by itself is not read yet
        await pilot.press("down")
        await pilot.pause(InboxScreen.READ_AFTER_SECONDS + 0.3)
        await settle(pilot)
        assert listing.count == 12  # read now, but it keeps its place until the next reload
        await pilot.press("u", "u")
        await settle(pilot)
        assert listing.count == 11
        assert "unread only" in shown(app.screen.query_one("#filter-line", Static))


async def test_sync_from_the_app_pulls_from_a_real_relay(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    paths = Paths(tmp_path / "agent", tmp_path / "agent")
    save_config(paths, ClientConfig(relay_url=relay.url, token=admin_token, user_name="admin"))

    engine = open_replica(paths.database)
    app = make_app(paths, engine)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            listing = conversation_list(app)
            assert listing.count == 0
            assert "No conversations yet" in thread_text(app)
            for body in demo_bodies(6):
                assert relay.post(body).status_code == 200
            await pilot.press("s")
            await settle(pilot)
            assert listing.count == 6
            status = shown(app.screen.query_one(StatusBar))
            assert "online" in status and "last sync" in status
    finally:
        engine.dispose()


async def failed_sync_keeps_the_inbox_working(app: InboopApp, *expected: str) -> None:
    """Sync from the app against a relay that fails: the status bar says so in words, and the
    inbox and its threads keep working."""
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        status = " ".join(shown(app.screen.query_one(StatusBar), width=300).split())
        assert all(words in status for words in expected), status
        listing = conversation_list(app)
        assert listing.count == 12
        await pilot.press("down")
        await settle(pilot)
        assert listing.highlighted is not None and thread_text(app).strip()


async def test_offline_sync_keeps_the_inbox_working(replica: tuple[Paths, Engine]) -> None:
    paths, engine = replica
    save_config(paths, ClientConfig(relay_url=f"http://127.0.0.1:{free_port()}", token="inb_x"))
    await failed_sync_keeps_the_inbox_working(
        make_app(paths, engine), "offline", "connection refused"
    )


async def test_the_bell_toggles_and_a_config_that_cannot_be_saved_says_so(
    tmp_path: Path,
) -> None:
    odd = tmp_path / "[" / "]"  # a folder whose path reads as markup: [/]
    paths, engine = demo_replica(odd)
    try:
        app = make_app(paths, engine)
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            app.action_toggle_bell()
            await settle(pilot)
            assert "bell = true" in paths.config_file.read_text()
            (odd / "config.tmp").mkdir()  # in the way of the next save
            app.action_toggle_bell()
            await settle(pilot)
            await pilot.pause(0.2)  # the toast is drawn: a path read as markup would stop the app
            said = [n.message for n in app._notifications]
            assert any(f"cannot save {paths.config_file} (Is a directory)" in m for m in said), said
        assert "bell = true" in paths.config_file.read_text()  # unchanged
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (answer(200, b"<html>captive portal</html>", "text/html"), "did not answer with JSON"),
        (answer(200, page([entry(1)], 1, 1)[:-9]), "did not answer with JSON"),  # truncated
        (answer(200, page([entry(2), entry(1)], 1, 2)), "with a gap or out of order"),
        (answer(200, page([{"seq": 1}], 1, 1)), "sent an event that is not the v1 protocol"),
    ],
)
async def test_a_hostile_relay_is_one_line_and_the_inbox_keeps_working(
    replica: tuple[Paths, Engine],
    broken_relay: Callable[[Handler], str],
    handler: Handler,
    expected: str,
) -> None:
    paths, engine = replica
    save_config(paths, ClientConfig(relay_url=broken_relay(handler), token="inb_x"))
    with engine.connect() as conn:
        before = digest(conn)
    await failed_sync_keeps_the_inbox_working(make_app(paths, engine), expected)
    with engine.connect() as conn:
        assert digest(conn) == before  # nothing from the hostile relay was applied


async def test_no_relay_configured_opens_on_what_the_replica_has(
    replica: tuple[Paths, Engine],
) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "not connected to a relay" in shown(app.screen.query_one(StatusBar))
        await pilot.press("s")
        await settle(pilot)
        assert conversation_list(app).count == 12


async def test_export_dialog_writes_the_file(replica: tuple[Paths, Engine], tmp_path: Path) -> None:
    app = make_app(*replica)
    out = tmp_path / "from-app.csv"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#kind", Select).value = ExportKind.CONVERSATIONS
        dialog.query_one("#path", Input).value = str(out)
        dialog.query_one("#since", Input).value = "not a date"
        await pilot.click("#export")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        assert "is not a date" in shown(dialog.query_one("#error", Static))
        dialog.query_one("#since", Input).value = ""
        await pilot.click("#export")
        await settle(pilot)
        assert not isinstance(app.screen, ExportDialog)
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    assert {r["channel"] for r in rows} == {"INSTAGRAM", "WHATSAPP", "MESSENGER"}


async def test_export_to_an_unwritable_place_says_so(
    replica: tuple[Paths, Engine], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    app = make_app(*replica)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#path", Input).value = str(blocker / "inside" / "out.csv")
        await pilot.click("#export")
        await settle(pilot)
        assert any("Export failed: cannot write" in n.message for n in app._notifications)
        assert conversation_list(app).count == 12


async def test_command_palette_offers_the_actions(replica: tuple[Paths, Engine]) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {
            "Sync now",
            "Export…",
            "Search conversations",
            "Filter: unread only (toggle)",
            "Filter: WhatsApp",
            "Assign…",
            "Filter: my conversations",
            "Diagnostics",
        } <= titles


async def test_a_large_inbox_opens_and_scrolls_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A jump into rows being read is drawn when they arrive; the fallback that draws their
    # placeholders after a moment is put off here, so only the arrival can draw the end.
    monkeypatch.setattr(conversation_list_module, "HOLD_PAINT_SECONDS", 60.0)
    from textual.message import Message

    paths = Paths(tmp_path, tmp_path)
    engine = open_replica(paths.database)
    fill_replica(
        engine,
        many_messages(
            3000,
            per_delivery=300,
            customer=lambda i: f"PSID{i:05d}",
            text=lambda i: f"hello from {i}" + (" price?" if i % 3 == 0 else ""),
        ),
    )
    messages: list[ConversationList.Counted] = []

    def hook(message: Message) -> None:  # once per message, not per widget it bubbles through
        if isinstance(message, ConversationList.Counted) and all(
            m is not message for m in messages
        ):
            messages.append(message)
            counted.append((message.count, message.complete))

    counted: list[tuple[int, bool]] = []

    app = make_app(paths, engine)
    try:
        async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
            await settle(pilot)
            listing = conversation_list(app)
            # The first screens come first, then the whole order under them.
            assert counted == [(100, False), (3000, True)]
            assert listing.count == 3000
            assert len(listing._blocks) <= 2  # only the windows on screen were loaded
            line = app.screen.query_one("#filter-line", Static)
            assert shown(line).startswith("3,000 conversations")
            listing.action_last()  # End, timed from the key (a pilot's press waits ~0.1 s)
            for _ in range(1000):  # polled, from the key
                last = listing.row(2999)
                if last is not None:
                    break
                await asyncio.sleep(0.002)
            assert last is not None and last.customer_id == "PSID00000"
            # The view went down to it as its rows came in, and drew them, not placeholders.
            assert listing.scroll_offset.y == listing.max_scroll_y > 0
            # Rows fit the width beside the vertical scrollbar: no horizontal one below them.
            assert listing.show_vertical_scrollbar and not listing.show_horizontal_scrollbar
            assert listing.scroll_offset.x == 0
            drawn = [listing.render_line(y).text for y in range(listing.size.height)]
            assert any(last.display_name in line for line in drawn[-3:])
            assert not any("…" in line for line in drawn)
            await settle(pilot)
            assert "hello from 0" in thread_text(app)

            counted.clear()
            messages.clear()
            await pilot.press("slash", *"price", "enter")
            await settle(pilot)
            assert counted[0] == (100, False) and counted[-1] == (1000, True)
            assert shown(line).startswith("1,000 conversations")
            first = listing.row(0)
            assert first is not None and first.customer_id == "PSID02997"  # the newest match
    finally:
        engine.dispose()


async def test_rows_that_could_not_be_read_are_read_again_when_needed(tmp_path: Path) -> None:

    paths = Paths(tmp_path, tmp_path)
    engine = open_replica(paths.database)
    fill_replica(engine, many_messages(300, customer=lambda i: f"PSID{i:05d}"))

    def rename(old: str, new: str) -> None:  # another process's change the reads trip over
        with sqlite3.connect(paths.database) as other:
            other.execute(f"ALTER TABLE {old} RENAME TO {new}")

    app = make_app(paths, engine)
    try:
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await settle(pilot)
            listing = conversation_list(app)
            assert listing.count == 300
            rename("conversations", "conversations_away")
            listing.action_last()
            await wait_until(pilot, lambda: bool(app._notifications))
            said = [n.message for n in app._notifications]
            assert len(said) == 1 and said[0].startswith("read the inbox's rows failed: ")
            assert "no such table: conversations" in said[0]
            # The end is drawn, with placeholders, and the paints that follow do not ask again.
            assert listing.scroll_offset.y == listing.max_scroll_y > 0
            # Rows fit the width beside the vertical scrollbar: no horizontal one below them.
            assert listing.show_vertical_scrollbar and not listing.show_horizontal_scrollbar
            assert listing.scroll_offset.x == 0
            drawn = [listing.render_line(y).text for y in range(listing.size.height)]
            assert sum("…" in line for line in drawn) >= len(drawn) // 2  # each row's placeholder
            await asyncio.sleep(0.3)
            await settle(pilot)
            assert len(app._notifications) == 1
            rename("conversations_away", "conversations")
            app.clear_notifications()
            listing.action_first()
            await settle(pilot)
            listing.action_last()  # the same rows again: this time they are read
            await settle(pilot)
            last = listing.row(299)
            assert last is not None and last.customer_id == "PSID00000"
            drawn = [listing.render_line(y).text for y in range(listing.size.height)]
            assert not any("…" in line for line in drawn)
            assert not [n.message for n in app._notifications]
    finally:
        engine.dispose()


async def test_a_screen_read_that_fails_is_said(replica: tuple[Paths, Engine]) -> None:
    paths, engine = replica
    app = make_app(paths, engine)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot)
        with sqlite3.connect(paths.database) as other:  # another process's change
            other.execute("ALTER TABLE messages RENAME TO messages_away")
        await pilot.press("down")  # the inbox screen reads the next conversation's thread
        await wait_until(pilot, lambda: bool(app._notifications))
        said = [n.message for n in app._notifications]
        assert said == [
            f"load thread failed: local database error ({paths.database}): no such table: "
            f"messages. Details are in {paths.log_file}."
        ]


async def test_the_app_catches_up_in_the_background_when_it_opens(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    from inboop_tui.app import create_app
    from tests.app_support import FIXED_NOW

    for body in demo_bodies(3):
        assert relay.post(body).status_code == 200
    paths = Paths(tmp_path / "agent", tmp_path / "agent")
    save_config(paths, ClientConfig(relay_url=relay.url, token=admin_token, user_name="admin"))
    engine = open_replica(paths.database)
    app = create_app(paths, engine, clock=lambda: FIXED_NOW)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(pilot, lambda: conversation_list(app).count == 3)  # no key pressed
    finally:
        engine.dispose()


async def test_older_messages_load_a_page_at_a_time(tmp_path: Path) -> None:

    paths = Paths(tmp_path, tmp_path)
    engine = open_replica(paths.database)
    fill_replica(
        engine,
        many_messages(
            1200, per_delivery=300, customer=lambda i: "PSID1", text=lambda i: f"message number {i}"
        ),
    )
    app = make_app(paths, engine)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            shown = thread_text(app)
            assert "showing the newest 500 of 1,200 messages" in shown
            lines = {line.strip() for line in shown.splitlines()}
            assert "message number 1199" in lines and "message number 700" in lines
            assert "message number 699" not in lines
            await pilot.press("o")
            await settle(pilot)
            assert "showing the newest 1,000 of 1,200" in thread_text(app)
            await pilot.press("o")
            await settle(pilot)
            shown = thread_text(app)
            assert "showing the newest" not in shown
            assert "message number 0" in {line.strip() for line in shown.splitlines()}
            await pilot.press("o")
            await settle(pilot)
            assert any("whole conversation" in n.message for n in app._notifications)
    finally:
        engine.dispose()


def footer_keys(app: App[None]) -> list[str]:
    """The descriptions of the keys the screen's key line shows."""
    return [shown.description for shown in app.screen.query_one(KeyFooter).keys]


async def test_the_key_line_follows_focus_and_screens(replica: tuple[Paths, Engine]) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        footer = app.screen.query_one(KeyFooter)
        assert [shown.key for shown in footer.keys][:3] == ["slash", "i", "a"]
        assert footer.palette is not None and footer.palette.display == "^p"
        line = footer.render().plain
        assert line.startswith(" / Search  i Reply ") and line.endswith("▏^p palette ")
        assert len(line) == 120
        # In the search box the letters are typed, not keys: the footer shows the rest.
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.focused, Input)
        assert "Reply" not in footer_keys(app)
        await pilot.press("escape")
        await settle(pilot)
        assert footer_keys(app)[:2] == ["Search", "Reply"]
        # Another screen's footer shows that screen's keys, and the inbox's on the way back.
        await pilot.press("f2")
        await settle(pilot)
        leads = footer_keys(app)
        assert "Convert to order" in leads and "Reply" not in leads
        await pilot.press("escape")
        await settle(pilot)
        assert footer_keys(app)[:2] == ["Search", "Reply"]


async def test_the_key_line_drops_whole_keys_and_a_click_presses_one(
    replica: tuple[Paths, Engine],
) -> None:
    app = make_app(*replica)
    async with app.run_test(size=(64, 36)) as pilot:
        await settle(pilot)
        footer = app.screen.query_one(KeyFooter)
        line = footer.render().plain
        # Only the keys that fit whole (" z Snooze" would end past the palette's key's start).
        assert line == " / Search  i Reply  a Assign  r Resolve/reopen      ▏^p palette "
        # A click on "Search" presses its key: the search box takes the focus.
        await pilot.click(KeyFooter, offset=(3, 0))
        await settle(pilot)
        assert isinstance(app.focused, Input)


class Toggled(Static, can_focus=True):
    """A widget whose one shown key comes and goes, and one that is shown but disabled."""

    BINDINGS = [Binding("x", "extra", "Extra"), Binding("y", "later", "Later")]
    armed = reactive(True, bindings=True)

    def __init__(self) -> None:
        super().__init__("x")
        self.done: list[str] = []

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "later":
            return None  # shown, disabled
        return self.armed if action == "extra" else True

    def action_extra(self) -> None:
        self.done.append("extra")

    def action_later(self) -> None:
        self.done.append("later")


class FooterApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Toggled()
        yield KeyFooter()


async def test_the_key_line_follows_its_keys_and_draws_a_disabled_one_dim() -> None:
    app = FooterApp()
    async with app.run_test(size=(80, 10)) as pilot:
        toggled = app.query_one(Toggled)
        toggled.focus()
        await pilot.pause()
        assert footer_keys(app) == ["Extra", "Later"]
        toggled.armed = False
        await pilot.pause()
        await pilot.pause()
        assert footer_keys(app) == ["Later"]
        toggled.armed = True
        await pilot.pause()
        await pilot.pause()
        assert footer_keys(app) == ["Extra", "Later"]
        # A disabled key is drawn dim and a click on it does nothing; an enabled one runs.
        footer = app.query_one(KeyFooter)
        line = footer.render()
        later = line.plain.index(" y Later ")
        ends = later + len(" y Later ")
        key_colours = {span.style.color for span in line.spans if span.end - span.start == 3}
        assert len(key_colours) == 1  # " x " and " y ": a disabled key keeps its colour
        assert not any(span.style.dim for span in line.spans if span.start < later)
        dimmed = [span for span in line.spans if span.start >= later and span.end <= ends]
        assert len(dimmed) == 2 and all(span.style.dim for span in dimmed)
        # The pointer lights the key under it, and only that one.
        await pilot.hover(KeyFooter, offset=(later + 2, 0))
        lit = footer.render()
        assert lit.spans != line.spans
        lit_from = {span.start for span in lit.spans if span not in line.spans}
        assert lit_from and all(later <= start < later + 8 for start in lit_from)
        await pilot.click(KeyFooter, offset=(later + 2, 0))
        await pilot.click(KeyFooter, offset=(1, 0))
        await pilot.pause()
        assert toggled.done == ["extra"]


def test_a_list_line_fits_any_text_in_its_cells() -> None:
    """A preview is cut to the cells it has, whatever its length and script (wide characters,
    accents as combining marks), with an ellipsis when cut."""
    from rich.cells import cell_len

    from inboop_tui.widgets.conversation_list import fit

    for text in (
        "",
        "short",
        "cuánto cuesta? " * 40,
        "ﾌﾟﾗｲｽ価格はいくらですか" * 20,
        "e\u0301" * 300,  # one cell each, two characters each
        "😀 price " * 50,
    ):
        for width in (1, 2, 7, 40, 119):
            fitted = fit(text, width)
            assert cell_len(fitted) == width, (text[:10], width)
            if cell_len(text) > width:
                assert fitted.endswith("…") and text.startswith(fitted[:-1].rstrip())
            else:
                assert fitted.rstrip() == text.rstrip()
