"""The durable send queue: one row per reply, written with the reply's log entry.

States: QUEUED (waiting, maybe for a retry time) → SENDING (committed before the Graph API is
called) → SENT | FAILED. Per conversation, replies go out in log order: only the oldest reply
not yet SENT or FAILED of a conversation is ever due.

A send whose outcome is unknown (the request timed out, or the relay stopped while it was
SENDING) stays SENDING until ``confirm_by``: Meta's echo (Messenger, Instagram) or status
(WhatsApp) carries our reply tag back, and the ingest path marks the reply SENT when it comes
(:func:`confirm_sent`), so nothing is sent twice. Only when no word comes by then is it tried
again (see docs/design.md for what that means for a Page not subscribed to echoes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from relay.protocol import (
    ChannelEvent,
    MessageEchoed,
    MessageStatus,
    ProviderError,
    ReplyFailed,
    ReplyPayload,
    ReplySent,
    SendReply,
    format_time,
)
from relay.store.tables import outbound

UNFINISHED = ("QUEUED", "SENDING")


@dataclass(frozen=True)
class Job:
    reply_id: str
    seq: int
    conversation_id: str
    channel: str
    account_id: str
    customer_id: str
    payload: ReplyPayload
    state: str
    attempts: int

    @property
    def identity(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "account_id": self.account_id,
            "customer_id": self.customer_id,
        }


def enqueue_reply(conn: Connection, mutation: SendReply, seq: int, at: str) -> None:
    payload = mutation.payload
    conn.execute(  # the reply's log entry is new in this transaction: so is its row
        insert(outbound).values(
            reply_id=mutation.id,
            seq=seq,
            conversation_id=payload.conversation_id,
            channel=payload.channel.value,
            account_id=payload.account_id,
            customer_id=payload.customer_id,
            payload=payload.model_dump_json(),
            state="QUEUED",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
            updated_at=at,
        )
    )


def replies_confirmed_by(event: ChannelEvent) -> tuple[str, str] | None:
    """(reply id, channel message id) when a webhook event names one of our replies."""
    if isinstance(event, MessageEchoed) and event.message.reply_id:
        return event.message.reply_id, event.message.channel_message_id
    if isinstance(event, MessageStatus) and event.reply_id and event.status.value != "FAILED":
        return event.reply_id, event.channel_message_id
    return None


def confirm_sent(conn: Connection, reply_id: str, channel_message_id: str, at: str) -> None:
    """Meta says it has the reply: it is SENT, whatever the send queue last knew."""
    conn.execute(
        update(outbound)
        .where(outbound.c.reply_id == reply_id, outbound.c.state.in_(UNFINISHED))
        .values(
            state="SENT",
            provider_message_id=func.coalesce(outbound.c.provider_message_id, channel_message_id),
            confirm_by=None,
            updated_at=at,
        )
    )


def due_jobs(conn: Connection, now: datetime, limit: int = 16) -> list[Job]:
    """Replies to send now: per conversation, the oldest unfinished one, if it is due."""
    at = format_time(now)
    earlier = aliased(outbound)
    oldest = (
        select(func.min(earlier.c.seq))
        .where(
            earlier.c.conversation_id == outbound.c.conversation_id,
            earlier.c.state.in_(UNFINISHED),
        )
        .scalar_subquery()
    )
    rows = conn.execute(
        select(outbound)
        .where(
            outbound.c.state == "QUEUED", outbound.c.next_attempt_at <= at, outbound.c.seq == oldest
        )
        .order_by(outbound.c.seq)
        .limit(limit)
    ).mappings()
    return [_job(row) for row in rows]


def unconfirmed(conn: Connection, now: datetime) -> list[Job]:
    """SENDING replies whose outcome never came (a timeout, a relay stopped mid-send)."""
    rows = conn.execute(
        select(outbound).where(
            outbound.c.state == "SENDING",
            or_(outbound.c.confirm_by.is_(None), outbound.c.confirm_by <= format_time(now)),
        )
    ).mappings()
    return [_job(row) for row in rows]


def mark_sending(conn: Connection, reply_id: str, now: datetime, confirm_seconds: float) -> bool:
    """Claim a reply for sending; False if it is no longer QUEUED (a webhook confirmed it)."""
    result = conn.execute(
        update(outbound)
        .where(outbound.c.reply_id == reply_id, outbound.c.state == "QUEUED")
        .values(
            state="SENDING",
            attempts=outbound.c.attempts + 1,
            confirm_by=format_time(now + timedelta(seconds=confirm_seconds)),
            updated_at=format_time(now),
        )
    )
    return result.rowcount == 1


def record_sent(conn: Connection, job: Job, channel_message_id: str, now: datetime) -> ReplySent:
    conn.execute(
        update(outbound)
        .where(outbound.c.reply_id == job.reply_id, outbound.c.state.in_(UNFINISHED))
        .values(
            state="SENT",
            provider_message_id=channel_message_id,
            confirm_by=None,
            last_error=None,
            updated_at=format_time(now),
        )
    )
    return ReplySent(
        dedup_key=f"sent:{job.reply_id}",
        occurred_at=now,
        reply_id=job.reply_id,
        channel_message_id=channel_message_id,
        **job.identity,
    )


def restart_confirmations(conn: Connection, now: datetime, confirm_seconds: float) -> int:
    """The relay starts: sends it left SENDING get a full window for Meta's word from now (its
    webhooks, retried while the relay was down, come back soon after)."""
    result = conn.execute(
        update(outbound)
        .where(outbound.c.state == "SENDING")
        .values(confirm_by=format_time(now + timedelta(seconds=confirm_seconds)))
    )
    return int(result.rowcount or 0)


def record_retry(conn: Connection, job: Job, error: str, retry_at: datetime, now: datetime) -> None:
    """Try again at ``retry_at`` (unless a webhook confirms it first)."""
    conn.execute(
        update(outbound)
        .where(outbound.c.reply_id == job.reply_id, outbound.c.state.in_(UNFINISHED))
        .values(
            state="QUEUED",
            next_attempt_at=format_time(retry_at),
            confirm_by=None,
            last_error=error,
            updated_at=format_time(now),
        )
    )


def record_unknown(conn: Connection, job: Job, error: str, now: datetime) -> None:
    """The request may have reached Meta: stay SENDING until confirmed or ``confirm_by``."""
    conn.execute(
        update(outbound)
        .where(outbound.c.reply_id == job.reply_id, outbound.c.state == "SENDING")
        .values(last_error=error, updated_at=format_time(now))
    )


def record_failed(
    conn: Connection, job: Job, error: ProviderError, now: datetime
) -> ReplyFailed | None:
    """The reply will not be sent; None if a webhook confirmed it meanwhile."""
    result = conn.execute(
        update(outbound)
        .where(outbound.c.reply_id == job.reply_id, outbound.c.state.in_(UNFINISHED))
        .values(
            state="FAILED",
            confirm_by=None,
            last_error=json.dumps(error.model_dump(exclude_none=True)),
            updated_at=format_time(now),
        )
    )
    if result.rowcount != 1:
        return None
    return ReplyFailed(
        dedup_key=f"failed:{job.reply_id}",
        occurred_at=now,
        reply_id=job.reply_id,
        error=error,
        **job.identity,
    )


def job(conn: Connection, reply_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(outbound).where(outbound.c.reply_id == reply_id)).mappings().first()
    return None if row is None else dict(row)


def counts(conn: Connection) -> dict[str, int]:
    return {
        str(state): int(n)
        for state, n in conn.execute(
            select(outbound.c.state, func.count()).group_by(outbound.c.state)
        )
    }


def _job(row: Any) -> Job:
    return Job(
        reply_id=row["reply_id"],
        seq=int(row["seq"]),
        conversation_id=row["conversation_id"],
        channel=row["channel"],
        account_id=row["account_id"],
        customer_id=row["customer_id"],
        payload=ReplyPayload.model_validate_json(row["payload"]),
        state=row["state"],
        attempts=int(row["attempts"]),
    )
