"""The relay's background workers (the send queue, profile lookups, media fetching) each run in
rounds until the relay stops: at once again after a busy round, after a rest otherwise. A round
that fails is logged and the next one comes as usual: one bad row never stops a worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from relay.store.dialect import log_failure

log = logging.getLogger("inboop.relay.rounds")


class Rounds:
    def __init__(
        self,
        name: str,
        one_round: Callable[[], Awaitable[bool]],
        rest: Callable[[bool], Awaitable[None]],
    ) -> None:
        """``one_round`` says whether it was busy; ``rest(busy)`` waits before the next."""
        self.name = name
        self._round = one_round
        self._rest = rest
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while True:
            try:
                busy = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_failure(log, exc, "a round of %s failed; trying again", self.name)
                busy = False
            await self._rest(busy)
