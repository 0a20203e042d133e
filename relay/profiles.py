"""Customer names for Instagram and Messenger: their webhooks carry only ids.

The first time a customer writes, ingestion notes them in ``profile_lookups`` (in the same
transaction, nothing else). This worker, a task of the relay's lifespan, looks them up through
the Graph API with the account's token, at most ``profile_lookups_per_second``, and appends the
answer to the log as a ``contact.profile`` event, so every replica learns the name. A refused
lookup (no consent, blocked, no permission) is recorded once, as an integration failure, and
never tried again; a transient one (5xx, rate limits, timeouts) is retried with backoff, a few
times. Ingestion never waits for any of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from relay.log import append_events
from relay.outbound.graph import GraphClient, GraphError
from relay.protocol import Channel, ContactProfile, format_time
from relay.rounds import Rounds
from relay.settings import RelaySettings
from relay.store.tables import integration_failures, profile_lookups
from relay.writer import LogWriter

log = logging.getLogger("inboop.relay.profiles")

BATCH = 20
MAX_ATTEMPTS = 6
IDLE_SECONDS = 2.0
PAUSE_ON_RATE_LIMIT = 60.0


@dataclass(frozen=True)
class Lookup:
    channel: str
    account_id: str
    customer_id: str
    attempts: int


def profile_event(lookup: Lookup, answer: dict[str, Any], at: datetime) -> ContactProfile:
    """The Graph API's answer as the log's ``contact.profile`` event."""

    def text(key: str) -> str | None:
        value = answer.get(key)
        return value.strip()[:200] if isinstance(value, str) and value.strip() else None

    if lookup.channel == Channel.INSTAGRAM.value:
        name, username = text("name"), text("username")
    else:
        parts = [p for p in (text("first_name"), text("last_name")) if p]
        name, username = (" ".join(parts) or None), None
    return ContactProfile(
        dedup_key=f"profile:{lookup.channel}:{lookup.account_id}:{lookup.customer_id}:lookup",
        channel=Channel(lookup.channel),
        account_id=lookup.account_id,
        customer_id=lookup.customer_id,
        occurred_at=at,
        name=name,
        username=username,
    )


class ProfileFetcher:
    def __init__(
        self,
        settings: RelaySettings,
        reader: Engine,
        writer: LogWriter,
        tokens: dict[str, dict[str, str]],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.tokens = tokens  # channel -> account -> token (the send queue's)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.interval = 1.0 / max(0.01, settings.profile_lookups_per_second)
        self.retry_seconds = settings.profile_retry_seconds
        self.graph = GraphClient(settings.graph_api_url, timeout=settings.outbound_timeout_seconds)
        self._rounds = Rounds("profile lookups", self.round, self._rest)
        self._paused_until = 0.0

    async def start(self) -> None:
        # Accounts that have a token now get the lookups they were once skipped for.
        accounts = [(c, a) for c, by_account in self.tokens.items() for a in by_account]
        if accounts:
            await self.writer.submit_task(lambda conn: _retry_tokenless(conn, accounts))
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()
        await self.graph.close()

    async def _rest(self, busy: bool) -> None:
        """Idle when there was nothing to do; longer while Meta asked for a pause."""
        now = asyncio.get_running_loop().time()
        await asyncio.sleep(max(IDLE_SECONDS if not busy else 0.0, self._paused_until - now))

    async def round(self) -> bool:
        now = self.clock()
        due = await asyncio.to_thread(self._due, format_time(now))
        for lookup in due:
            if self._paused_until > asyncio.get_running_loop().time():
                break
            await self.look_up(lookup)
            await asyncio.sleep(self.interval)
        return bool(due)

    def _due(self, now: str) -> list[Lookup]:
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(
                    profile_lookups.c.channel,
                    profile_lookups.c.account_id,
                    profile_lookups.c.customer_id,
                    profile_lookups.c.attempts,
                )
                .where(
                    profile_lookups.c.state == "PENDING", profile_lookups.c.next_attempt_at <= now
                )
                .order_by(profile_lookups.c.next_attempt_at)
                .limit(BATCH)
            ).all()
        return [Lookup(*row) for row in rows]

    async def look_up(self, lookup: Lookup) -> None:
        token = self.tokens.get(lookup.channel, {}).get(lookup.account_id)
        now = self.clock()
        if token is None:
            await self._settle(lookup, "NO_TOKEN", "the relay has no token for this account", now)
            return
        try:
            answer = await self.graph.profile(Channel(lookup.channel), lookup.customer_id, token)
        except GraphError as exc:
            await self._failed(lookup, exc, now)
            return
        event = profile_event(lookup, answer, now)

        def found(conn: Connection) -> None:
            append_events(conn, [event])
            _set(conn, lookup, "DONE", None, now)

        await self.writer.submit_task(found)

    async def _failed(self, lookup: Lookup, exc: GraphError, now: datetime) -> None:
        reason = f"{exc.error.code or '?'} {exc.error.message or exc.error.title}".strip()
        if exc.transient and lookup.attempts + 1 < MAX_ATTEMPTS:
            if exc.retry_after or (exc.error.code or "").split("/")[0] in {"4", "17", "32", "613"}:
                self._paused_until = asyncio.get_running_loop().time() + (
                    exc.retry_after or PAUSE_ON_RATE_LIMIT
                )
            retry_at = now + timedelta(seconds=min(3600.0, self.retry_seconds * 2**lookup.attempts))
            await self.writer.submit_task(lambda conn: _retry(conn, lookup, reason, retry_at, now))
            return
        # Refused (no consent, blocked, no permission) or given up: recorded once, never looped.
        await self._settle(lookup, "REFUSED", reason, now, failure=True)

    async def _settle(
        self, lookup: Lookup, state: str, reason: str, now: datetime, *, failure: bool = False
    ) -> None:
        def settle(conn: Connection) -> None:
            _set(conn, lookup, state, reason, now)
            if failure:
                at = format_time(now)
                conn.execute(
                    insert(integration_failures).values(
                        kind="profile_refused",
                        detail=f"{lookup.channel.title()} profile of {lookup.customer_id}: {reason}"[
                            :2000
                        ],
                        delivery_id=None,
                        first_at=at,
                        last_at=at,
                        count=1,
                    )
                )

        await self.writer.submit_task(settle)


def _where(lookup: Lookup) -> Any:
    return (
        (profile_lookups.c.channel == lookup.channel)
        & (profile_lookups.c.account_id == lookup.account_id)
        & (profile_lookups.c.customer_id == lookup.customer_id)
    )


def _set(conn: Connection, lookup: Lookup, state: str, reason: str | None, now: datetime) -> None:
    conn.execute(
        update(profile_lookups)
        .where(_where(lookup))
        .values(state=state, last_error=reason, updated_at=format_time(now))
    )


def _retry(conn: Connection, lookup: Lookup, reason: str, at: datetime, now: datetime) -> None:
    conn.execute(
        update(profile_lookups)
        .where(_where(lookup))
        .values(
            attempts=lookup.attempts + 1,
            next_attempt_at=format_time(at),
            last_error=reason,
            updated_at=format_time(now),
        )
    )


def _retry_tokenless(conn: Connection, accounts: list[tuple[str, str]]) -> None:
    for channel, account in accounts:
        conn.execute(
            update(profile_lookups)
            .where(
                profile_lookups.c.state == "NO_TOKEN",
                profile_lookups.c.channel == channel,
                profile_lookups.c.account_id == account,
            )
            .values(state="PENDING")
        )
