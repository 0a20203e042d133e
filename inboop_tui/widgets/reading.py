"""Reads that start the moment they are asked for.

A thread worker begins its work only when the event loop next runs its task, which is often
after the screen has been painted (several milliseconds at 120x40). A read on the path of a
keypress (a jump in the list, a search) is started on a thread at once instead; a worker still
carries it, so it is cancelled, waited for and logged like any other, and what it read is
handed over on the app's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from textual.dom import DOMNode
from textual.worker import Worker

T = TypeVar("T")


def read_now(
    node: DOMNode,
    read: Callable[[], T],
    then: Callable[[T], object],
    *,
    group: str,
    description: str,
    exclusive: bool = False,
    failed: Callable[[], object] | None = None,
) -> Worker[None]:
    """Run ``read`` on a thread now, and ``then`` with its result on the app's loop; if it
    raises, ``failed`` on the loop, and the worker fails with the error (the app reports it)."""
    future = asyncio.get_running_loop().run_in_executor(None, read)
    # A worker cancelled before it awaits would leave a failure nobody retrieved (asyncio
    # prints those): look at it here; the worker, if it runs, raises it and Textual logs it.
    future.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def arrive() -> None:
        try:
            found = await future
        except Exception:
            if failed is not None:
                failed()
            raise
        then(found)

    return node.run_worker(
        arrive(),
        group=group,
        description=description,
        exclusive=exclusive,
        exit_on_error=False,
    )
