"""Reading a sync's pages ahead of applying them, in a thread.

A replica far behind applies a group of pages per transaction; while one group is applied the
next is read, so the relay, the network and the JSON decoding run alongside the replica's
writes instead of taking turns with them. Pages come out in the order they were asked for, and
a failure to read one is raised where that page would have been.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

# Reads the page after an entry; told when nobody waits for it any more.
Fetch = Callable[[int, threading.Event], dict[str, Any]]


class ReadAhead:
    """Reads the pages after ``after`` in a thread, from the moment it is made, each from one
    entry back of the last (as the sync asks for them), until the relay's head or ``pages``
    pages; up to ``depth`` wait to be taken."""

    def __init__(self, fetch: Fetch, after: int, pages: int | None, depth: int) -> None:
        self._waiting: queue.Queue[tuple[int, dict[str, Any] | BaseException]] = queue.Queue(depth)
        # Set when the pull ends (done or failed): a request on its way is not retried, and
        # its failure (the client closed under it) is not reported.
        self.stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(fetch, after, pages), name="sync-pull", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Read no further; a request on its way finishes and is dropped."""
        self.stopped.set()

    def take(self, after: int) -> dict[str, Any] | None:
        """The page after ``after``; None if that is not what comes next (read it yourself).
        A failure to read it is raised here, in the order the pages were asked for."""
        while not self.stopped.is_set():
            try:
                read_after, page = self._waiting.get(timeout=0.05)
            except queue.Empty:
                if self._thread.is_alive():
                    continue
                try:
                    read_after, page = self._waiting.get_nowait()
                except queue.Empty:
                    return None  # the reader stopped where the apply did not
            if read_after != after:
                self.stop()
                return None
            if isinstance(page, BaseException):
                raise page
            return page
        return None

    def _read(self, fetch: Fetch, after: int, pages: int | None) -> None:
        while pages is None or pages > 0:
            try:
                page = fetch(after, self.stopped)
            except BaseException as exc:  # raised again by take(), in its place
                self._hand_over(after, exc)
                return
            if not self._hand_over(after, page):
                return
            events = page["events"]
            if not events or events[-1]["seq"] >= page["head"]:
                return
            after = events[-1]["seq"] - 1
            pages = None if pages is None else pages - 1

    def _hand_over(self, after: int, page: dict[str, Any] | BaseException) -> bool:
        while not self.stopped.is_set():
            try:
                self._waiting.put((after, page), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
