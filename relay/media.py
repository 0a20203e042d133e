"""The attachments of new messages, fetched into the relay's own store before they vanish.

Instagram and Messenger send CDN links that expire within days; WhatsApp sends media ids that
only the business token can turn into a file. Ingestion notes each attachment
(``relay.profile_queue.note_media``); this worker, a task of the relay's lifespan, fetches them
(WhatsApp: ``GET /{media-id}`` for a short-lived link, then the file with the token), refuses
what is too large or is not media (an expired link answers with an HTML page), stores each file
once under ``media/`` by its SHA-256, and serves it to signed-in clients
(``GET /v1/media``). Files older than the retention are removed. Ingestion never waits.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy import Connection, Engine, func, select, update
from starlette.concurrency import run_in_threadpool

from relay.api import current_user, v1_router
from relay.log import append_events
from relay.outbound.graph import GraphClient, GraphError
from relay.protocol import AttachmentFetched, Channel, format_time
from relay.rounds import Rounds
from relay.settings import RelaySettings
from relay.state import relay_state
from relay.store.tables import media
from relay.users import User
from relay.writer import LogWriter

log = logging.getLogger("inboop.relay.media")

BATCH = 10
IDLE_SECONDS = 2.0
MAX_ATTEMPTS = 5
CLEANUP_EVERY = 3600.0
# An expired link or an error page is not media: HTML and JSON are refused.
NOT_MEDIA = ("text/html", "application/json", "text/xml")


class MediaRefused(Exception):
    """This file will not be stored (too large, not media, gone): no retry."""


@dataclass(frozen=True)
class Pending:
    channel: str
    message_id: str
    idx: int
    account_id: str
    customer_id: str | None
    source_url: str | None
    media_id: str | None
    attempts: int


def media_folder(settings: RelaySettings) -> Path:
    return settings.relay_home / "media"


def media_path(settings: RelaySettings, sha256: str) -> Path:
    return media_folder(settings) / sha256[:2] / sha256


class MediaFetcher:
    def __init__(
        self,
        settings: RelaySettings,
        reader: Engine,
        writer: LogWriter,
        tokens: dict[str, dict[str, str]],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.reader = reader
        self.writer = writer
        self.tokens = tokens
        self.clock = clock or (lambda: datetime.now(UTC))
        self.graph = GraphClient(settings.graph_api_url, timeout=settings.outbound_timeout_seconds)
        self._http = httpx.AsyncClient(
            timeout=settings.outbound_timeout_seconds, follow_redirects=True
        )
        self._rounds = Rounds("media fetching", self._fetch_and_expire, self._rest)
        self._last_cleanup: float | None = None  # the first round sweeps

    async def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()
        await self._http.aclose()
        await self.graph.close()

    async def _fetch_and_expire(self) -> bool:
        busy = await self.round()
        now = asyncio.get_running_loop().time()
        # The loop's clock counts from an arbitrary point (the machine's boot, on Linux), so
        # "an hour since 0" would skip the sweep for the first hour of a freshly booted server.
        if self._last_cleanup is None or now - self._last_cleanup > CLEANUP_EVERY:
            self._last_cleanup = now
            await self.writer.submit_task(self._expire)
        return busy

    async def _rest(self, busy: bool) -> None:
        if not busy:
            await asyncio.sleep(IDLE_SECONDS)

    async def round(self) -> bool:
        due = await asyncio.to_thread(self._due, format_time(self.clock()))
        for item in due:
            await self.fetch(item)
        return bool(due)

    def _due(self, now: str) -> list[Pending]:
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(
                    media.c.channel,
                    media.c.message_id,
                    media.c.idx,
                    media.c.account_id,
                    media.c.customer_id,
                    media.c.source_url,
                    media.c.media_id,
                    media.c.attempts,
                )
                .where(media.c.state == "PENDING", media.c.next_attempt_at <= now)
                .order_by(media.c.next_attempt_at)
                .limit(BATCH)
            ).all()
        return [Pending(*row) for row in rows]

    async def fetch(self, item: Pending) -> None:
        now = self.clock()
        try:
            data, content_type = await self._download(item)
        except MediaRefused as exc:
            await self._give_up(item, str(exc))
            return
        except (GraphError, httpx.HTTPError) as exc:
            reason = str(exc) or type(exc).__name__
            if item.attempts + 1 >= MAX_ATTEMPTS:
                await self._give_up(item, reason)
                return
            retry_at = format_time(now + timedelta(seconds=30.0 * 2**item.attempts))
            await self.writer.submit_task(lambda conn: _retry(conn, item, reason, retry_at))
            return
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._keep, digest, data)
        stored_at = format_time(now)

        def stored(conn: Connection) -> None:
            conn.execute(
                update(media)
                .where(*_key(item))
                .values(
                    state="STORED",
                    content_type=content_type,
                    size=len(data),
                    sha256=digest,
                    stored_at=stored_at,
                    error=None,
                )
            )
            _tell(conn, item, now, "stored", size=len(data), content_type=content_type)

        await self.writer.submit_task(stored)

    async def _give_up(self, item: Pending, reason: str) -> None:
        now = self.clock()

        def failed(conn: Connection) -> None:
            _settle(conn, item, "FAILED", reason)
            _tell(conn, item, now, "failed", error=reason)

        await self.writer.submit_task(failed)

    async def _download(self, item: Pending) -> tuple[bytes, str]:
        headers: dict[str, str] = {}
        url = item.source_url
        if item.channel == Channel.WHATSAPP.value:
            token = self.tokens.get(item.channel, {}).get(item.account_id)
            if token is None:
                raise MediaRefused("the relay has no token for this WhatsApp number")
            info = await self.graph.media_info(item.media_id or "", token)
            url = info.get("url") if isinstance(info.get("url"), str) else None
            headers["Authorization"] = f"Bearer {token}"
        if not url:
            raise MediaRefused("no link to fetch it from")
        limit = self.settings.media_max_bytes
        async with self._http.stream("GET", url, headers=headers) as response:
            if response.status_code in (403, 404, 410):
                raise MediaRefused(f"the link has expired (HTTP {response.status_code})")
            if response.status_code >= 400:
                raise httpx.HTTPStatusError(
                    f"HTTP {response.status_code}", request=response.request, response=response
                )
            content_type = response.headers.get("content-type", "application/octet-stream")
            kind = content_type.split(";")[0].strip().lower()[:127]
            if kind in NOT_MEDIA:
                raise MediaRefused(f"not media: the link answered {kind}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MediaRefused(f"too large: {int(declared):,} bytes (at most {limit:,})")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise MediaRefused(f"too large: over {limit:,} bytes")
                chunks.append(chunk)
        return b"".join(chunks), kind

    def _keep(self, digest: str, data: bytes) -> None:
        path = media_path(self.settings, digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, path)

    def _expire(self, conn: Connection) -> int:
        """Files older than the retention go; a file another message still keeps stays."""
        days = self.settings.media_retention_days
        if days <= 0:
            return 0
        cutoff = format_time(self.clock() - timedelta(days=days))
        old = conn.execute(
            select(
                media.c.channel,
                media.c.message_id,
                media.c.idx,
                media.c.sha256,
                media.c.account_id,
                media.c.customer_id,
            ).where(media.c.state == "STORED", media.c.stored_at < cutoff)
        ).all()
        now = self.clock()
        for channel, message_id, idx, digest, account_id, customer_id in old:
            gone = Pending(channel, message_id, idx, account_id, customer_id, None, None, 0)
            _tell(conn, gone, now, "expired", error=f"removed after {days} days", expired=True)
            conn.execute(
                update(media)
                .where(
                    media.c.channel == channel, media.c.message_id == message_id, media.c.idx == idx
                )
                .values(state="EXPIRED", error=f"removed after {days} days")
            )
            still = conn.execute(
                select(func.count())
                .select_from(media)
                .where(media.c.sha256 == digest, media.c.state == "STORED")
            ).scalar_one()
            if not still:
                media_path(self.settings, digest).unlink(missing_ok=True)
        return len(old)


def _key(item: Pending) -> tuple[Any, ...]:
    return (
        media.c.channel == item.channel,
        media.c.message_id == item.message_id,
        media.c.idx == item.idx,
    )


def _tell(conn: Connection, item: Pending, at: datetime, ending: str, **outcome: Any) -> None:
    """Every replica learns how the fetch ended (``ending``: stored, failed or expired): the
    file's size and type, or why the relay does not keep it."""
    if item.customer_id is None:  # noted before the relay kept customers here
        return
    event = AttachmentFetched(
        dedup_key=f"media:{item.channel}:{item.message_id}:{item.idx}:{ending}",
        channel=Channel(item.channel),
        account_id=item.account_id,
        customer_id=item.customer_id,
        occurred_at=at,
        channel_message_id=item.message_id,
        index=item.idx,
        **outcome,
    )
    append_events(conn, [event])


def _settle(conn: Connection, item: Pending, state: str, reason: str) -> None:
    conn.execute(update(media).where(*_key(item)).values(state=state, error=reason[:500]))


def _retry(conn: Connection, item: Pending, reason: str, at: str) -> None:
    conn.execute(
        update(media)
        .where(*_key(item))
        .values(attempts=item.attempts + 1, next_attempt_at=at, error=reason[:500])
    )


# --- serving ---------------------------------------------------------------------------------

router = v1_router()


@router.get("/media")
async def get_media(
    request: Request,
    _user: Annotated[User, Depends(current_user)],
    channel: Channel,
    message_id: Annotated[str, Query(min_length=1, max_length=256)],
    index: Annotated[int, Query(ge=0, le=100)] = 0,
) -> FileResponse:
    """An attachment's file, once the relay has it; 404 with the reason otherwise."""
    state = relay_state(request)

    def read() -> tuple[str, str | None, str | None, str | None]:
        with state.engines.reader.connect() as conn:
            row = conn.execute(
                select(media.c.state, media.c.sha256, media.c.content_type, media.c.error).where(
                    media.c.channel == channel.value,
                    media.c.message_id == message_id,
                    media.c.idx == index,
                )
            ).first()
        if row is None:
            return ("UNKNOWN", None, None, None)
        return (str(row[0]), row[1], row[2], row[3])

    found, digest, content_type, error = await run_in_threadpool(read)
    if found == "STORED" and digest:
        path = media_path(state.settings, digest)
        if path.exists():
            return FileResponse(path, media_type=content_type or "application/octet-stream")
        found, error = "EXPIRED", "the file is gone from the relay's store"
    reasons = {
        "UNKNOWN": "the relay has no such attachment",
        "PENDING": "not fetched yet: try again in a moment",
        "FAILED": f"the relay could not fetch it: {error}",
        "EXPIRED": f"no longer kept: {error}",
    }
    raise HTTPException(404, reasons.get(found, found))
