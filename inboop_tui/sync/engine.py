"""``inboop sync``: pull new events in batches and apply each batch in one transaction.

The cursor moves in the same transaction as the batch, so a sync killed at any point resumes
where the last committed batch ended. Transient failures (network, 5xx, timeouts) are retried
with backoff until the time budget is spent; every run, ok or not, is recorded for Diagnostics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.exc import DBAPIError

from inboop_tui.store.apply import apply_entries, current_cursor
from inboop_tui.store.config import ClientConfig
from inboop_tui.store.db import ReplicaError, explain, writing
from inboop_tui.store.tables import sync_runs
from inboop_tui.sync.client import RelayClient, SyncError
from relay.protocol import format_time

BATCH = 500
DEFAULT_TIMEOUT = 30.0

Progress = Callable[[int, int], None]  # (cursor, relay head)


@dataclass(frozen=True)
class SyncOutcome:
    ok: bool
    pulled: int
    cursor: int
    head: int
    seconds: float
    error: str | None = None


def now_text() -> str:
    return format_time(datetime.now(UTC))


def sync(
    engine: Engine,
    config: ClientConfig,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    batch: int = BATCH,
    progress: Progress | None = None,
    on_retry: Callable[[str, float], None] | None = None,
    client: RelayClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncOutcome:
    started = time.monotonic()
    started_at = now_text()
    pulled = 0
    head = 0
    cursor = 0
    error: str | None = None
    own_client = client is None
    try:
        if not config.is_configured:
            raise SyncError(
                "no relay configured: run `inboop login RELAY_URL --token TOKEN` first",
                transient=False,
            )
        assert config.relay_url is not None and config.token is not None
        if client is None:
            client = RelayClient(config.relay_url, config.token)
        cursor = _cursor(engine)
        head = cursor
        deadline = started + timeout
        backoff = 0.25
        while True:
            remaining = deadline - time.monotonic()
            try:
                page = client.events(cursor, batch, timeout=max(1.0, min(10.0, remaining)))
            except SyncError as exc:
                remaining = deadline - time.monotonic()
                if not exc.transient or remaining <= backoff:
                    raise
                if on_retry is not None:
                    on_retry(str(exc), remaining)
                sleep(backoff)
                backoff = min(backoff * 2, 4.0)
                continue
            backoff = 0.25
            head = max(page["head"], cursor)
            if not page["events"]:
                _apply(engine, [], cursor, head)
                break
            _apply(engine, page["events"], page["next_after"], page["head"])
            pulled += len(page["events"])
            cursor = page["next_after"]
            if progress is not None:
                progress(cursor, head)
            if cursor >= page["head"]:
                break
    except (SyncError, ReplicaError) as exc:
        error = str(exc)
    finally:
        if own_client and client is not None:
            client.close()
    outcome = SyncOutcome(error is None, pulled, cursor, head, time.monotonic() - started, error)
    _record(engine, started_at, outcome)
    return outcome


def _cursor(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            return current_cursor(conn)
    except DBAPIError as exc:
        raise explain(exc, _path(engine)) from exc


def _apply(engine: Engine, entries: list[dict[str, Any]], cursor: int, head: int) -> None:
    try:
        with writing(engine) as conn:
            apply_entries(conn, entries, cursor=cursor, relay_head=head)
    except DBAPIError as exc:
        raise explain(exc, _path(engine)) from exc


def _record(engine: Engine, started_at: str, outcome: SyncOutcome) -> None:
    try:
        with writing(engine) as conn:
            conn.execute(
                insert(sync_runs).values(
                    started_at=started_at,
                    finished_at=now_text(),
                    ok=outcome.ok,
                    pulled=outcome.pulled,
                    cursor=outcome.cursor,
                    error=outcome.error,
                )
            )
    except DBAPIError:
        pass  # the database itself is the problem, and the outcome already says so


def _path(engine: Engine) -> Path:
    return Path(engine.url.database or "")
