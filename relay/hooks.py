"""Subscribers to the log: called after commit with each new entry, each on its own thread.

The hook point outbound webhooks will use later (not configurable in V1). A subscriber that
raises is logged and goes on with the next entry; a slow one falls behind on its own thread.
Neither ever delays ingestion or pushes: the writer only wakes the threads after it commits.
A subscriber sees the entries appended while the relay runs, in log order, each once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from relay.log import StoredEvent, head_seq, read_events

log = logging.getLogger("inboop.relay.hooks")

Subscriber = Callable[[StoredEvent], None]
PAGE = 500


class Hooks:
    def __init__(self, engine: Engine, subscribers: Sequence[Subscriber]) -> None:
        self._engine = engine
        self._subscribers = list(subscribers)
        self._wake = threading.Condition()
        self._head = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if not self._subscribers:
            return
        with self._engine.connect() as conn:
            self._head = head_seq(conn)
        for number, subscriber in enumerate(self._subscribers):
            thread = threading.Thread(
                target=self._follow,
                args=(subscriber, self._head),
                name=f"relay-hook-{number}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def notify(self, head: int) -> None:
        """The log's head after a commit (the writer calls this; it never blocks)."""
        if not self._subscribers:
            return
        with self._wake:
            if head > self._head:
                self._head = head
                self._wake.notify_all()

    def stop(self, seconds: float = 2.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(seconds)  # a subscriber stuck in a call is left behind (daemon)

    def _follow(self, subscriber: Subscriber, cursor: int) -> None:
        name = getattr(subscriber, "__name__", type(subscriber).__name__)
        while True:
            with self._wake:
                while not self._stopping and self._head <= cursor:
                    self._wake.wait()
                if self._stopping:
                    return
            try:
                with self._engine.connect() as conn:
                    entries = read_events(conn, cursor, PAGE)
            except Exception:
                log.exception("hook %s could not read the log after %d", name, cursor)
                with self._wake:
                    self._wake.wait(1.0)
                continue
            for entry in entries:
                try:
                    subscriber(entry)
                except Exception:
                    log.exception("hook %s failed on entry %d; it goes on", name, entry.seq)
                cursor = entry.seq
