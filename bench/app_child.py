"""One app start, measured from inside: ``python -m bench.app_child minimal|app HOME``.

Prints ``READY`` when the first screen is interactive (the inbox: counted, its first rows
loaded, and the screen repainted with them), then ``SETTLED`` when the process has gone idle
(work started in the background, such as reading the rest of the list's order, is done),
then, for ``app``, one JSON line of timings (milliseconds) taken inside the running app,
headless under ``run_test``:

- ``jump``: the cursor moved to a far position, until that row is loaded, plus drawing the
  list's lines on screen;
- ``open``: the long conversation's thread loaded, handed to the thread view, and the screen
  laid out and painted with it (until 2026-12-06 the figure stopped before the layout and the
  paint, which for a thread drawn as one ``Static`` were most of the time);
- ``search``: a search typed as one value, until the list is counted and its first rows loaded,
  plus drawing them.

No ``pilot.pause()`` inside a timing: it waits for the process to go idle (~20 ms here), which
would hide what is measured. Conditions are polled every 0.5 ms instead.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Input, Static


class Minimal(App[None]):
    """The baseline: a Textual app with one line of text."""

    def compose(self) -> ComposeResult:
        yield Static("Inbox")


async def until(ready: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.perf_counter() + seconds
    while not ready():
        if time.perf_counter() > deadline:
            raise SystemExit("the app did not get there in time")
        await asyncio.sleep(0.0005)


async def quiet(pilot: Any) -> None:
    """The previous step's work is done: no message waiting and no worker running. A worker
    it started (the contact panel of the thread just opened, say) would otherwise share the
    interpreter with what is timed next."""
    while True:
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return
        await asyncio.sleep(0.005)


def searched(listing: Any, term: str) -> bool:
    """The list shows ``term``'s results: counted, and its first rows loaded."""
    return bool(
        listing.filter.search == term
        and listing.counted
        and (not listing.count or listing.row(0) is not None)
    )


async def minimal() -> None:
    app = Minimal()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.screen.wait_for_refresh()
        print("READY", flush=True)
        await pilot.pause()
        print("SETTLED", flush=True)


async def real_app(home: Path) -> None:
    gc.disable()  # as `inboop` starts the app (`inboop_tui.cli.main`); the app turns it back on
    from inboop_tui.app import create_app
    from inboop_tui.store.paths import resolve_paths
    from inboop_tui.store.replica_file import open_replica_file
    from inboop_tui.widgets.conversation_list import ConversationList

    paths = resolve_paths({"INBOOP_HOME": str(home)})
    replica = open_replica_file(paths.database)  # as `inboop` opens it (`cli.opening`)
    app = create_app(paths, replica, live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        listing = app.screen.query_one(ConversationList)
        await until(lambda: listing.count > 0 and listing.row(0) is not None)
        await app.screen.wait_for_refresh()
        print("READY", flush=True)
        await pilot.pause()
        print("SETTLED", flush=True)
        results: dict[str, Any] = {"conversations": listing.count}

        def draw() -> None:
            # The list's lines as the screen's paint asks for them (once per paint, through
            # its line cache, emptied here so that every line is drawn).
            listing._styles_cache.clear()
            listing.render_lines(Region(0, 0, listing.size.width, listing.size.height))

        async def drawn(index: int) -> float:
            await quiet(pilot)
            start = time.perf_counter()
            listing.cursor = index
            await until(lambda: listing.row(index) is not None)
            draw()
            return (time.perf_counter() - start) * 1000

        rng = random.Random(3)
        jumps = [listing.count - 1, 0, *(rng.randrange(listing.count) for _ in range(10))]
        results["jump_ms"] = [await drawn(i) for i in jumps]

        screen: Any = app.screen
        opened: list[float] = []
        for _ in range(3):
            await quiet(pilot)
            screen._open = None
            start = time.perf_counter()
            screen.load_thread(LONG)
            await until(lambda: screen._open == LONG)
            await screen.wait_for_refresh()  # laid out and painted: what the reader waits for
            opened.append((time.perf_counter() - start) * 1000)
        results["open_ms"] = opened

        search = app.screen.query_one("#search", Input)
        searches: list[float] = []
        for term in ("price", "cuánto", "address delivery", "zzzz"):
            await quiet(pilot)
            start = time.perf_counter()
            search.value = term
            await until(partial(searched, listing, term))
            draw()
            searches.append((time.perf_counter() - start) * 1000)
        results["search_ms"] = searches
        print(json.dumps(results), flush=True)
    replica.close()


# The long conversation: customer 0 on Messenger (bench.data.Traffic's ``hot`` customer).
LONG = ""


def main() -> None:
    global LONG
    if sys.argv[1] == "minimal":
        asyncio.run(minimal())
        return
    from relay.protocol.plain import conversation_id
    from relay.simulator import PAGE_ID

    LONG = conversation_id("MESSENGER", PAGE_ID, "PSID0")
    asyncio.run(real_app(Path(sys.argv[2])))


if __name__ == "__main__":
    main()
