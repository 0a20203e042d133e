"""The real app on a real replica file, with a fixed clock and zone, for pilot and snapshot tests."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine
from textual.pilot import Pilot
from textual.widgets import Static

from inboop_tui.app import InboopApp, create_app
from inboop_tui.demo import Traffic, simulated_customers
from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths
from inboop_tui.widgets.thread_body import ThreadBody
from relay import simulator as meta
from tests.harness import fill_replica

FIXED_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def use_utc() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()


def demo_bodies(customers: int = 12) -> list[bytes]:
    traffic = Traffic(seed=7)
    people = simulated_customers(customers, traffic.rng)
    return [meta.body(d) for d in traffic.history(people, int(FIXED_NOW.timestamp() * 1000))]


def demo_replica(root: Path, customers: int = 12) -> tuple[Paths, Engine]:
    paths = Paths(root, root)
    engine = open_replica(paths.database)
    fill_replica(engine, demo_bodies(customers))
    return paths, engine


def make_app(paths: Paths, engine: Engine) -> InboopApp:
    return create_app(paths, engine, live=False, clock=lambda: FIXED_NOW)


async def settle(pilot: Pilot[object]) -> None:
    """Let workers (which may start other workers) and the messages they post finish; the live
    sync never finishes, so it is not waited for."""
    for _ in range(6):
        await pilot.pause()
        finite = [w for w in pilot.app.workers if w.group != "live"]
        if finite:  # an empty list would mean every worker, the live sync included
            await pilot.app.workers.wait_for_complete(finite)
    await pilot.pause()


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], bool], seconds: float = 20.0
) -> None:
    """Settle until ``condition`` holds (something a background worker will bring)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds:.0f} s")
        await settle(pilot)
        await asyncio.sleep(0.05)


def shown(widget: Static | ThreadBody, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))
    console.print(widget.content)
    return console.export_text()
