"""Snapshots of the inbox at a fixed terminal size, on a fixed replica, clock and zone.

Update only after looking at the new pictures: `pytest tests/test_snapshots.py --snapshot-update`
writes them under tests/__snapshots__/, and the report shows the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from textual.pilot import Pilot
from textual.widgets import Input

from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths
from tests.app_support import demo_replica, make_app, settle, use_utc
from tests.harness import fill_replica, scenario

SIZE = (120, 34)
SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def utc() -> None:
    use_utc()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    paths, engine = demo_replica(tmp_path / "demo")
    yield paths, engine
    engine.dispose()


@pytest.fixture
def cases(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    paths = Paths(tmp_path / "cases", tmp_path / "cases")
    engine = open_replica(paths.database)
    fill_replica(engine, scenario())
    yield paths, engine
    engine.dispose()


def keys(*pressed: str) -> Callable[[Pilot[object]], object]:
    async def run(pilot: Pilot[object]) -> None:
        await settle(pilot)
        if pressed:
            await pilot.press(*pressed)
            await settle(pilot)

    return run


def test_inbox_with_the_newest_thread_open(
    snap_compare: SnapCompare, demo: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*demo), terminal_size=SIZE, run_before=keys())


def test_inbox_second_conversation_read(
    snap_compare: SnapCompare, demo: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*demo), terminal_size=SIZE, run_before=keys("down"))


def test_search_results(snap_compare: SnapCompare, demo: tuple[Paths, Engine]) -> None:
    assert snap_compare(
        make_app(*demo), terminal_size=SIZE, run_before=keys("slash", *"price", "enter")
    )


def test_thread_with_watermark_unsend_and_statuses(
    snap_compare, cases: tuple[Paths, Engine]
) -> None:
    # Conversations newest first: P2, P1 (read watermark), Instagram (unsend, image), WhatsApp.
    assert snap_compare(make_app(*cases), terminal_size=SIZE, run_before=keys("down"))


def test_instagram_thread_with_unsend_and_image(
    snap_compare: SnapCompare, cases: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*cases), terminal_size=SIZE, run_before=keys("down", "down"))


def test_whatsapp_thread(snap_compare: SnapCompare, cases: tuple[Paths, Engine]) -> None:
    assert snap_compare(make_app(*cases), terminal_size=SIZE, run_before=keys("c", "c"))


def test_export_dialog(snap_compare: SnapCompare, demo: tuple[Paths, Engine]) -> None:
    async def open_dialog(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        pilot.app.screen.query_one("#path", Input).value = "/exports/inboop-messages.csv"
        await settle(pilot)

    assert snap_compare(make_app(*demo), terminal_size=SIZE, run_before=open_dialog)
