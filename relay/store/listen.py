"""PostgreSQL only: hear of appends made by the other relays sharing the database.

Each relay keeps one connection that ``LISTEN``s on ``relay.log.LOG_CHANNEL``; every append
notifies it at commit (``relay.log.advance_head``) and the long-polls waiting here wake at once.
When the connection drops it is made again; meanwhile long-polls still look at the log every
second (``relay.api.POLL_SECONDS``), so nothing is missed, only later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from relay.log import LOG_CHANNEL

log = logging.getLogger("inboop.relay.listen")

RETRY_SECONDS = 2.0


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (no ``+psycopg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AppendListener:
    def __init__(self, url: str, wake: Callable[[int], None]) -> None:
        self._url = libpq_url(url)
        self._wake = wake
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set while the LISTEN connection is up

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="append-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {LOG_CHANNEL}")
                    self.listening.set()
                    async for note in conn.notifies():
                        if note.payload.isdigit():
                            self._wake(int(note.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted, the network blinked
                log.warning(
                    "not hearing other relays' appends; trying again",
                    extra={"fields": {"error": type(exc).__name__}},
                )
            self.listening.clear()
            await asyncio.sleep(RETRY_SECONDS)
