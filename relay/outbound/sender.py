"""The send loop: replies out of the durable queue to Meta, results back into the log.

It runs inside the relay (a task of the lifespan). Each round: replies whose outcome never came
are given back to the queue; due replies (one per conversation, in log order) are claimed
(SENDING, committed), their file uploaded, and sent. The answer is written back through the
log's writer in one transaction with its log event: ``reply.sent`` with the channel's message
id, or ``reply.failed`` with the provider's error. Transient failures (5xx, rate limits,
timeouts) are retried with backoff; after ``outbound_max_attempts`` the reply fails for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, select

from relay.log import append_events
from relay.metrics import RelayMetrics
from relay.outbound.graph import GraphClient, GraphError
from relay.outbound.queue import (
    Job,
    due_jobs,
    mark_sending,
    record_failed,
    record_retry,
    record_sent,
    record_unknown,
    restart_confirmations,
    unconfirmed,
)
from relay.protocol import Channel, ProviderError
from relay.rounds import Rounds
from relay.settings import RelaySettings, token_map
from relay.store.tables import uploads
from relay.writer import LogWriter

log = logging.getLogger("inboop.relay.outbound")

IDLE_SECONDS = 1.0
CONCURRENCY = 4


def backoff(attempts: int) -> float:
    """Seconds before try ``attempts + 1``: 2, 4, 8 … up to ten minutes, with some jitter."""
    return float(min(600.0, 2.0**attempts) * random.uniform(0.8, 1.2))


class Sender:
    def __init__(
        self,
        settings: RelaySettings,
        reader: Engine,
        writer: LogWriter,
        clock: Callable[[], datetime] | None = None,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.reader = reader
        self.writer = writer
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tokens: dict[str, dict[str, str]] = {
            Channel.MESSENGER.value: token_map(settings.page_tokens, "INBOOP_PAGE_TOKENS"),
            Channel.INSTAGRAM.value: token_map(
                settings.instagram_tokens, "INBOOP_INSTAGRAM_TOKENS"
            ),
            Channel.WHATSAPP.value: token_map(settings.whatsapp_tokens, "INBOOP_WHATSAPP_TOKENS"),
        }
        self.graph = GraphClient(settings.graph_api_url, timeout=settings.outbound_timeout_seconds)
        self._wake = asyncio.Event()
        self._rounds = Rounds("sending replies", self.round, self._rest)

    def can_send(self, channel: str, account_id: str) -> bool:
        return account_id in self.tokens.get(channel, {})

    def poke(self) -> None:
        """A reply was queued: look now instead of at the next round."""
        self._wake.set()

    async def start(self) -> None:
        now = self.clock()
        reopened = await self.writer.submit_task(
            partial(
                restart_confirmations,
                now=now,
                confirm_seconds=self.settings.outbound_confirm_seconds,
            )
        )
        if reopened:
            log.warning(
                "%d replies were being sent when the relay stopped; waiting for Meta's word",
                reopened,
            )
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()
        await self.graph.close()

    @property
    def alive(self) -> bool:
        return self._rounds.alive

    async def _rest(self, busy: bool) -> None:
        """After an idle round, wait for a new reply (``poke``) or the next retry's time."""
        if not busy:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)

    async def round(self) -> bool:
        """One pass over the queue; True if anything was sent or tried."""
        now = self.clock()
        for job in await asyncio.to_thread(self._read, unconfirmed, now):
            log.warning("reply %s was never confirmed; trying it again", job.reply_id)
            await self.writer.submit_task(
                partial(record_retry, job=job, error="not confirmed by Meta", retry_at=now, now=now)
            )
        jobs = await asyncio.to_thread(self._read, due_jobs, now)
        if not jobs:
            return False
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(job: Job) -> None:
            async with limit:
                await self.send(job)

        await asyncio.gather(*(one(job) for job in jobs))
        return True

    async def send(self, job: Job) -> None:
        token = self.tokens.get(job.channel, {}).get(job.account_id)
        if token is None:
            await self._fail(
                job,
                ProviderError(
                    title="receive only",
                    message=f"the relay has no send token for this {job.channel.title()} account",
                ),
            )
            return
        now = self.clock()
        claimed = await self.writer.submit_task(
            lambda conn: mark_sending(
                conn, job.reply_id, now, self.settings.outbound_confirm_seconds
            )
        )
        if not claimed:
            return  # Meta confirmed it meanwhile
        try:
            media_id = await self._upload(job, token)
            message_id = await self.graph.send(job.reply_id, job.payload, token, media_id)
        except GraphError as exc:
            await self._failed_try(job, exc)
            return
        sent_at = self.clock()

        def sent(conn: Connection) -> None:
            append_events(conn, [record_sent(conn, job, message_id, sent_at)])

        await self.writer.submit_task(sent)
        self._count(job, "sent")
        log.info("reply sent", extra={"fields": {"reply": job.reply_id, "channel": job.channel}})

    def _count(self, job: Job, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.sends.labels(job.channel, outcome).inc()

    async def _upload(self, job: Job, token: str) -> str | None:
        attachment = job.payload.attachment
        if attachment is None:
            return None
        row = await asyncio.to_thread(self._file, attachment.upload_id)
        if row is None:
            raise GraphError(
                ProviderError(
                    title="file missing", message="the reply's file was never uploaded to the relay"
                ),
                transient=False,
            )
        return await self.graph.upload(
            job.payload, token, row["data"], row["filename"], row["mime_type"]
        )

    async def _failed_try(self, job: Job, exc: GraphError) -> None:
        now = self.clock()
        error = exc.error
        described = f"{error.code or ''} {error.message or error.title or ''}".strip()
        if not exc.transient:
            await self._fail(job, error)
            return
        self._count(job, "retried" if not exc.unknown else "unknown")
        if exc.unknown:
            # It may have reached Meta: wait for the echo or status before trying again.
            await self.writer.submit_task(lambda conn: record_unknown(conn, job, described, now))
            return
        if job.attempts + 1 >= self.settings.outbound_max_attempts:
            await self._fail(
                job,
                ProviderError(
                    code=error.code,
                    title=error.title,
                    message=f"gave up after {job.attempts + 1} tries: {error.message}",
                ),
            )
            return
        retry_at = now + timedelta(seconds=exc.retry_after or backoff(job.attempts + 1))
        await self.writer.submit_task(
            lambda conn: record_retry(conn, job, described, retry_at, now)
        )
        log.info(
            "reply will be retried",
            extra={
                "fields": {"reply": job.reply_id, "error": described, "at": retry_at.isoformat()}
            },
        )

    async def _fail(self, job: Job, error: ProviderError) -> None:
        now = self.clock()

        def failed(conn: Connection) -> None:
            event = record_failed(conn, job, error, now)
            if event is not None:
                append_events(conn, [event])

        await self.writer.submit_task(failed)
        self._count(job, "failed")
        log.warning(
            "reply failed",
            extra={"fields": {"reply": job.reply_id, "code": error.code, "error": error.message}},
        )

    def _read(self, query: Callable[[Connection, datetime], list[Job]], now: datetime) -> list[Job]:
        with self.reader.connect() as conn:
            return query(conn, now)

    def _file(self, upload_id: str) -> Any:
        with self.reader.connect() as conn:
            return (
                conn.execute(
                    select(uploads.c.data, uploads.c.filename, uploads.c.mime_type).where(
                        uploads.c.id == upload_id
                    )
                )
                .mappings()
                .first()
            )
