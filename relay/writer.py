"""The relay's one writer: concurrent appends are gathered into one transaction.

Each request hands its work (a webhook delivery, or a batch of agents' mutations) to the writer
and waits; the writer takes everything queued, commits it once (group commit) in its own thread
and only then answers each request. If the batch fails, every job is retried alone so one bad
job cannot fail the others; a job that still fails raises to its request, which answers 5xx so
the sender retries it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from relay.log import (
    AppendOutcome,
    Delivery,
    FailureCount,
    MutationOutcome,
    append_deliveries,
    append_mutations,
    head_seq,
    now_text,
    record_failure_counts,
)
from relay.protocol import Mutation
from relay.store.dialect import database_unavailable, log_failure

log = logging.getLogger("inboop.relay.writer")
T = TypeVar("T")

MAX_BATCH = 256
CHECKPOINT_SECONDS = 1.0


class LogNotifier:
    """Wakes long-polling readers when the log grows."""

    def __init__(self, after_commit: Callable[[int], None] | None = None) -> None:
        self._event = asyncio.Event()
        self.head = 0
        self.closed = False
        self._after_commit = after_commit  # the log's hooks (relay.hooks): never blocks

    def close(self) -> None:
        """The relay is stopping: wake every waiting reader so it answers now."""
        self.closed = True
        self._event.set()

    def notify(self, head: int) -> None:
        self.head = max(self.head, head)
        self._event.set()
        self._event = asyncio.Event()
        if self._after_commit is not None:
            self._after_commit(head)

    def wake(self, head: int) -> None:
        """Another relay on the same database appended up to ``head``: wake long-polls here
        (this relay's own hooks follow its own commits only)."""
        if head > self.head:
            self.head = head
            self._event.set()
            self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        return True


@dataclass
class _Counter:
    detail: str
    count: int
    first_at: str
    last_at: str


@dataclass(frozen=True)
class MutationBatch:
    mutations: tuple[Mutation, ...]


@dataclass(frozen=True)
class Task:
    """Other writes that must be ordered with appends (the send queue's results)."""

    run: Callable[[Connection], Any]


Work = Delivery | MutationBatch | Task
Outcome = Any


@dataclass
class _Job:
    work: Work
    future: asyncio.Future[Outcome]


@dataclass
class LogWriter:
    engine: Engine
    notifier: LogNotifier
    flush_seconds: float = 5.0
    # Told of every counted failure's kind (the relay's metrics).
    on_failure: Callable[[str], None] | None = None
    # Copies SQLite's write-ahead log into the database file, on its own thread, at most once
    # every CHECKPOINT_SECONDS while the log grows (None: the database does it itself).
    checkpoint: Callable[[], None] | None = None
    _checkpointing: asyncio.Future[None] | None = None
    _last_checkpoint: float = 0.0
    _queue: asyncio.Queue[_Job | None] = field(default_factory=asyncio.Queue)
    _counters: dict[str, _Counter] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-writer")
    )
    _checkpoints: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
    )

    async def start(self) -> None:
        self.notifier.notify(await self._in_thread(self._head))
        self._task = asyncio.create_task(self._run(), name="log-writer")

    async def _in_thread(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    def _head(self) -> int:
        with self.engine.connect() as conn:
            return head_seq(conn)

    async def stop(self) -> None:
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None
        self._thread.shutdown(wait=True)
        self._checkpoints.shutdown(wait=True)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def submit(self, delivery: Delivery) -> AppendOutcome:
        outcome = await self._submit(delivery)
        assert isinstance(outcome, AppendOutcome)
        return outcome

    async def submit_mutations(self, mutations: list[Mutation]) -> list[MutationOutcome]:
        outcome = await self._submit(MutationBatch(tuple(mutations)))
        assert isinstance(outcome, list)
        return outcome

    async def submit_task(self, run: Callable[[Connection], T]) -> T:
        """Run ``run(conn)`` in the writer's next transaction (group committed)."""
        result: T = await self._submit(Task(run))
        return result

    async def _submit(self, work: Work) -> Outcome:
        if not self.alive:
            raise RuntimeError("the log writer is not running")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(work, future))
        return await asyncio.shield(future)

    def count_failure(self, kind: str, detail: str) -> None:
        """Count a failure that stores nothing else (a bad signature); written periodically."""
        at = now_text()
        if self.on_failure is not None:
            self.on_failure(kind)
        counter = self._counters.get(kind)
        if counter is None:
            self._counters[kind] = _Counter(detail, 1, at, at)
        else:
            counter.count += 1
            counter.last_at = at

    async def _run(self) -> None:
        stopping = False
        last_flush = time.monotonic()
        while not stopping:
            if time.monotonic() - last_flush >= self.flush_seconds:
                await self._flush_counters()
                last_flush = time.monotonic()
            try:
                job = await asyncio.wait_for(self._queue.get(), self.flush_seconds)
            except TimeoutError:
                continue
            batch: list[_Job] = []
            if job is None:
                stopping = True
            else:
                batch.append(job)
            while len(batch) < MAX_BATCH and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            if batch:
                await self._commit(batch)
        await self._flush_counters()
        while not self._queue.empty():
            leftover = self._queue.get_nowait()
            if leftover is not None and not leftover.future.done():
                leftover.future.set_exception(RuntimeError("the relay is shutting down"))

    async def _commit(self, batch: list[_Job]) -> None:
        started = time.perf_counter()
        try:
            outcomes, head = await self._in_thread(self._append, [job.work for job in batch])
        except Exception as exc:
            if len(batch) > 1 and not database_unavailable(exc):
                # One bad item spoils the batch: find it, and store the others.
                log.warning("batch of %d appends failed (%s); retrying one by one", len(batch), exc)
                for job in batch:
                    await self._commit([job])
                return
            # A locked, busy or failing database fails every item alike: they are all answered
            # now (Meta retries deliveries), instead of each waiting out the busy timeout.
            what = _describe(batch[0].work) if len(batch) == 1 else f"a batch of {len(batch)}"
            log_failure(log, exc, "%s could not be stored", what)  # once per failed commit
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        for job, outcome in zip(batch, outcomes, strict=True):
            if not job.future.done():
                job.future.set_result(outcome)
        self.notifier.notify(head)
        self._checkpoint_soon()
        stored = [o for o in outcomes if isinstance(o, AppendOutcome)]
        if stored:  # one line per commit: at a thousand deliveries a second, not a thousand
            log.info(
                "deliveries stored",
                extra={
                    "fields": {
                        "deliveries": len(stored),
                        "appended": sum(o.appended for o in stored),
                        "duplicates": sum(o.duplicates for o in stored),
                        "failures": sum(o.failures for o in stored),
                        "head": head,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    }
                },
            )

    def _checkpoint_soon(self) -> None:
        if self.checkpoint is None or (
            self._checkpointing is not None and not self._checkpointing.done()
        ):
            return
        now = time.monotonic()
        if now - self._last_checkpoint < CHECKPOINT_SECONDS:
            return
        self._last_checkpoint = now
        self._checkpointing = asyncio.get_running_loop().run_in_executor(
            self._checkpoints, self._checkpoint
        )

    def _checkpoint(self) -> None:
        assert self.checkpoint is not None
        try:
            self.checkpoint()
        except Exception as exc:  # the next one tries again; the log is safe in the WAL
            log.warning("checkpoint failed: %s", exc)

    def _append(self, work: list[Work]) -> tuple[list[Outcome], int]:
        with self.engine.begin() as conn:
            deliveries = [w for w in work if isinstance(w, Delivery)]
            stored = iter(append_deliveries(conn, deliveries) if deliveries else [])
            outcomes: list[Outcome] = []
            for item in work:
                if isinstance(item, Delivery):
                    outcomes.append(next(stored))
                elif isinstance(item, MutationBatch):
                    outcomes.append(append_mutations(conn, item.mutations))
                else:
                    outcomes.append(item.run(conn))
            return outcomes, head_seq(conn)

    def _record(self, counts: list[FailureCount]) -> None:
        with self.engine.begin() as conn:
            record_failure_counts(conn, counts)

    async def _flush_counters(self) -> None:
        if not self._counters:
            return
        counts = [
            FailureCount(kind, c.detail, c.count, c.first_at, c.last_at)
            for kind, c in self._counters.items()
        ]
        self._counters.clear()
        try:
            await self._in_thread(self._record, counts)
        except Exception as exc:
            log_failure(log, exc, "could not record %d failure counters", len(counts))


def _describe(work: Work) -> str:
    if isinstance(work, Delivery):
        return f"delivery {work.id}"
    if isinstance(work, MutationBatch):
        return f"a batch of {len(work.mutations)} mutations"
    return "a send queue update"
