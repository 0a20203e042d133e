"""The thread's body renders from the newest message up, as far as the reader goes: what it
shows, page by page, is the thread rendered whole, with nothing skipped, repeated or moved."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path

from rich.console import Console, RenderableType
from textual import events
from textual.pilot import Pilot

from inboop_tui.app import InboopApp
from inboop_tui.screens.inbox import InboxScreen
from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths
from inboop_tui.store.queries import ConversationRow, MessageRow, NoteRow
from inboop_tui.widgets.thread_body import ThreadBody
from inboop_tui.widgets.thread_view import ThreadParts, render_message, render_note, thread_parts
from tests.app_support import make_app, settle, use_utc
from tests.harness import fill_replica, many_messages


def whole(app: InboopApp, body: ThreadBody) -> list[str]:
    """The thread rendered at once, at the body's width: what a reader must be able to see."""
    width = body.scrollable_content_region.width
    options = app.console.options.update_width(width)
    lines = app.console.render_lines(body.content, options, pad=True)
    return ["".join(segment.text for segment in line) for line in lines]


def on_screen(body: ThreadBody) -> list[str]:
    return [body.render_line(y).text for y in range(body.scrollable_content_region.height)]


def place(thread: list[str], shown: list[str]) -> int:
    """Where the lines shown start in the whole thread (they must be there, in one piece)."""
    for start in range(len(thread) - len(shown) + 1):
        if thread[start : start + len(shown)] == shown:
            return start
    raise AssertionError(f"lines shown are not the thread's: {shown[:3]}")


def where(app: InboopApp, body: ThreadBody) -> tuple[str, int]:
    """The message at the top of the view (its number) and how many lines into it the view is."""
    thread = whole(app, body)
    top = place(thread, on_screen(body))
    head = max(line for line in range(top + 1) if "← PSID1" in thread[line])
    return thread[head + 1].split()[0], top - head


def long_thread(short_after: bool = False) -> list[bytes]:
    """A conversation of 150 messages; with ``short_after``, a one-message conversation newer
    than it (listed first, so opened first)."""
    count = 151 if short_after else 150
    return many_messages(count, customer=lambda i: "PSID2" if i == 150 else "PSID1")


@asynccontextmanager
async def running(
    tmp_path: Path, deliveries: list[bytes], size: tuple[int, int] = (100, 30)
) -> AsyncIterator[tuple[InboopApp, Pilot[object]]]:
    """The app on a replica holding ``deliveries``."""
    use_utc()
    paths = Paths(tmp_path, tmp_path)
    engine = open_replica(paths.database)
    fill_replica(engine, deliveries)
    app = make_app(paths, engine)
    try:
        async with app.run_test(size=size) as pilot:
            yield app, pilot
    finally:
        engine.dispose()


async def opened(pilot: Pilot[object]) -> ThreadBody:
    await settle(pilot)
    body = pilot.app.screen.query_one(ThreadBody)
    body.focus()
    await settle(pilot)
    return body


async def test_a_long_thread_reads_page_by_page_up_to_its_first_line(tmp_path: Path) -> None:
    async with running(tmp_path, long_thread(), (100, 50)) as (app, pilot):
        body = await opened(pilot)
        thread = whole(app, body)
        height = body.scrollable_content_region.height
        assert len(thread) > 8 * height  # several renderings above the first screen
        assert on_screen(body) == thread[-height:]  # opened at the newest line
        assert "message 149" in "".join(thread[-height:])
        tops = [place(thread, on_screen(body))]
        while tops[-1] > 0:
            await pilot.press("pageup")
            await settle(pilot)
            tops.append(place(thread, on_screen(body)))
            assert tops[-1] < tops[-2], "page up did not move up the thread"
        steps = [before - after for before, after in pairwise(tops)]
        assert len(set(steps[:-1])) == 1  # every page the same size, the last one clamped
        assert "message 0" in "".join(on_screen(body))

        await pilot.press("end")
        await settle(pilot)
        assert on_screen(body) == thread[-height:]
        await pilot.press("home")  # from the newest line straight to the first
        await settle(pilot)
        assert on_screen(body) == thread[:height]


async def test_a_long_thread_makes_only_the_messages_near_the_reader(tmp_path: Path) -> None:
    """A conversation opens on its newest 500 messages; those above the screens rendered stay
    rows until the reader gets near them (making them all cost more than the first frame)."""
    async with running(tmp_path, long_thread()) as (app, pilot):
        body = await opened(pilot)
        parts = body._parts
        assert isinstance(parts, ThreadParts)

        def not_made() -> int:
            return sum(isinstance(part, MessageRow) for part in parts._parts)

        assert not_made() > 100
        await pilot.press("home")
        await settle(pilot)
        assert not_made() == 0
        assert on_screen(body) == whole(app, body)[: body.scrollable_content_region.height]


def text_of(part: RenderableType) -> str:
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(part)
    return console.export_text()


def test_thread_parts_are_made_once_each_and_index_as_a_list() -> None:
    use_utc()
    conversation = ConversationRow(
        id="c1",
        channel="MESSENGER",
        customer_id="PSID1",
        name="Meera",
        username=None,
        preview=None,
        preview_direction=None,
        last_message_at=None,
        last_inbound_at=None,
        unread=False,
        status="OPEN",
        assignee=None,
        message_count=3,
    )
    messages = [
        MessageRow(
            channel_message_id=f"m{day}",
            direction="INBOUND",
            sender_type="CUSTOMER",
            content_type="TEXT",
            text=f"hello on day {day}",
            original_text=f"hello on day {day}",
            edited=False,
            is_deleted=False,
            sent_at=f"2030-01-0{day}T10:00:00Z",
            delivery_status=None,
            delivery_error=None,
            reactions={},
        )
        for day in (1, 2, 3)
    ]
    note = NoteRow("n1", "c1", "ana", "call her back", (), "2030-01-02T11:00:00Z", False)
    parts = thread_parts(conversation, messages, [note])
    # A heading for each day, the messages and the note between them, in their order.
    expected = [
        "── Tue 01 Jan 2030 ──",
        render_message(messages[0], "Meera"),
        "── Wed 02 Jan 2030 ──",
        render_message(messages[1], "Meera"),
        render_note(note),
        "── Thu 03 Jan 2030 ──",
        render_message(messages[2], "Meera"),
    ]
    assert len(parts) == len(expected)
    assert [text_of(part) for part in parts] == [text_of(part) for part in expected]
    assert parts[-1] is parts[6] and parts[4] is parts[4]  # made once, by either index
    assert parts[1:3] == [parts[1], parts[2]]
    assert list(parts)[3:] == [parts[3], parts[4], parts[5], parts[6]]


async def test_the_same_thread_shown_again_keeps_the_readers_place(tmp_path: Path) -> None:
    async with running(tmp_path, long_thread()) as (app, pilot):
        body = await opened(pilot)
        for _ in range(5):
            await pilot.press("pageup")
        await settle(pilot)
        before = on_screen(body)
        screen = app.screen
        assert isinstance(screen, InboxScreen) and screen._open is not None
        screen.load_thread(screen._open)  # as a sync or a change shows it again
        await settle(pilot)
        assert on_screen(body) == before

        await pilot.press("end")  # at the newest line, it follows the newest line
        await settle(pilot)
        screen.load_thread(screen._open)
        await settle(pilot)
        assert on_screen(body) == whole(app, body)[-len(before) :]


async def test_a_narrower_terminal_renders_the_thread_again_at_its_width(tmp_path: Path) -> None:
    async with running(tmp_path, long_thread(), (120, 30)) as (app, pilot):
        body = await opened(pilot)
        wide = body.scrollable_content_region.width
        await pilot.resize_terminal(90, 30)
        await settle(pilot)
        assert body.scrollable_content_region.width < wide
        thread = whole(app, body)
        height = body.scrollable_content_region.height
        assert on_screen(body) == thread[-height:]  # still at the newest line
        await pilot.press("home")
        await settle(pilot)
        assert on_screen(body) == thread[:height]


async def test_a_long_thread_opened_after_a_short_one_opens_at_its_newest_line(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, long_thread(short_after=True)) as (app, pilot):
        await settle(pilot)
        body = app.screen.query_one(ThreadBody)
        assert "message 150" in "".join(on_screen(body))  # the short one, no scrollbar
        await pilot.press("down")
        await settle(pilot)
        thread = whole(app, body)  # at the width left beside the scrollbar
        assert on_screen(body) == thread[-body.scrollable_content_region.height :]
        assert "message 149" in "".join(on_screen(body))


async def test_a_resize_keeps_the_line_at_the_top_of_a_long_message(tmp_path: Path) -> None:
    words = " ".join(f"word{n}" for n in range(120))  # a message of many lines
    async with running(
        tmp_path,
        many_messages(40, customer=lambda i: "PSID1", text=lambda i: f"{i} {words}"),
        (120, 30),
    ) as (app, pilot):
        body = await opened(pilot)
        await pilot.press("pageup", "pageup", "up", "up", "up")
        await settle(pilot)
        before = where(app, body)
        assert before[1] > 2  # inside a message, under its first lines
        await pilot.resize_terminal(110, 30)
        await settle(pilot)
        assert where(app, body) == before  # the same message, as many lines into it


async def test_keys_that_arrive_together_move_the_view_by_lines_not_by_screens(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, long_thread()) as (app, pilot):
        body = await opened(pilot)
        thread = whole(app, body)
        top = place(thread, on_screen(body))
        for _ in range(5):  # handled before any refresh, as a fast key repeat is
            app.post_message(events.Key("up", None))
        await settle(pilot)
        assert 1 <= top - place(thread, on_screen(body)) <= 5
        await pilot.press("end")
        await settle(pilot)
        assert on_screen(body) == thread[-body.scrollable_content_region.height :]


async def test_the_scrollbar_spans_the_whole_thread_and_a_jump_into_it_shows_its_lines(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, long_thread()) as (app, pilot):
        body = await opened(pilot)
        thread = whole(app, body)
        # Estimated for the messages not rendered yet, from those that are.
        assert abs(body.virtual_size.height - len(thread)) <= len(thread) // 10
        body.scroll_to(y=body.max_scroll_y // 2, animate=False, immediate=True)  # a drag
        await settle(pilot)
        middle = place(thread, on_screen(body))  # the thread's own lines, in one piece
        assert len(thread) // 3 < middle < 2 * len(thread) // 3
        await pilot.press("pageup")
        await settle(pilot)
        assert place(thread, on_screen(body)) < middle


async def test_older_messages_come_in_above_and_the_view_stays_on_what_it_showed(
    tmp_path: Path,
) -> None:
    async with running(
        tmp_path, many_messages(600, per_delivery=300, customer=lambda i: "PSID1")
    ) as (app, pilot):
        body = await opened(pilot)
        await pilot.press("home")
        await settle(pilot)
        before = whole(app, body)
        assert "showing the newest 500 of 600" in before[0]
        from_end = len(before)  # the view's top: the thread's first line
        await pilot.press("o")
        await settle(pilot)
        after = whole(app, body)
        assert "message 0" in "".join(after) and "showing the newest" not in after[0]
        top = len(after) - from_end
        height = body.scrollable_content_region.height
        assert on_screen(body) == after[top : top + height]
        assert "message 100" in "".join(on_screen(body))  # the first of those shown before
        await pilot.press("pageup")  # and the older ones are above
        await settle(pilot)
        assert "message 9" in "".join(on_screen(body))
