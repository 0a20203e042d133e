"""Ingestion's part of the profile lookups (``relay.profiles``): note the Instagram and
Messenger customers not seen before, in the delivery's own transaction, and nothing more."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, tuple_

from relay.protocol import Channel, ChannelEvent, MessageReceived
from relay.store.tables import profile_lookups

LOOKED_UP = (Channel.INSTAGRAM.value, Channel.MESSENGER.value)


def note_customers(conn: Connection, events: Sequence[ChannelEvent], now: str) -> None:
    """Ingestion's part: Instagram and Messenger customers not seen before get a lookup."""
    wanted = {
        (e.channel.value, e.account_id, e.customer_id)
        for e in events
        if isinstance(e, MessageReceived) and e.channel.value in LOOKED_UP
    }
    if not wanted:
        return
    key = tuple_(
        profile_lookups.c.channel, profile_lookups.c.account_id, profile_lookups.c.customer_id
    )
    known = set(
        conn.execute(
            select(
                profile_lookups.c.channel,
                profile_lookups.c.account_id,
                profile_lookups.c.customer_id,
            ).where(key.in_(sorted(wanted)))
        ).tuples()
    )
    fresh = sorted(wanted - known)
    if fresh:
        conn.execute(
            insert(profile_lookups),
            [
                {
                    "channel": channel,
                    "account_id": account,
                    "customer_id": customer,
                    "state": "PENDING",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "updated_at": now,
                }
                for channel, account, customer in fresh
            ],
        )
