"""Ingestion's part of the background work: note the Instagram and Messenger customers not seen
before (``relay.profiles``) and the attachments to fetch (``relay.media``), in the delivery's own
transaction, and nothing more."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from relay.protocol import Channel, ChannelEvent, MessageEchoed, MessageReceived
from relay.store.dialect import insert_rows
from relay.store.tables import media, profile_lookups

LOOKED_UP = (Channel.INSTAGRAM.value, Channel.MESSENGER.value)


def note_customers(conn: Connection, events: Sequence[ChannelEvent], now: str) -> None:
    """Ingestion's part: Instagram and Messenger customers not seen before get a lookup."""
    wanted = {
        (e.channel.value, e.account_id, e.customer_id)
        for e in events
        if isinstance(e, MessageReceived) and e.channel.value in LOOKED_UP
    }
    rows = [
        {
            "channel": channel,
            "account_id": account,
            "customer_id": customer,
            "state": "PENDING",
            "attempts": 0,
            "next_attempt_at": now,
            "updated_at": now,
        }
        for channel, account, customer in sorted(wanted)
    ]
    # One statement, no read: a customer already noted keeps their row (its state included).
    insert_rows(conn, profile_lookups, rows, keep_existing=True)


FETCHED = frozenset({"IMAGE", "VIDEO", "AUDIO", "FILE", "STICKER"})


def note_media(conn: Connection, events: Sequence[ChannelEvent], now: str) -> None:
    """Attachments of new messages with something to fetch (a link, or a WhatsApp media id)."""
    rows = {}
    for event in events:
        if not isinstance(event, MessageReceived | MessageEchoed):
            continue
        for index, attachment in enumerate(event.message.attachments):
            if attachment.type.value not in FETCHED:
                continue
            url = attachment.url if event.channel is not Channel.WHATSAPP else None
            media_id = attachment.media_id if event.channel is Channel.WHATSAPP else None
            if not url and not media_id:
                continue
            key = (event.channel.value, event.message.channel_message_id, index)
            rows[key] = {
                "channel": key[0],
                "message_id": key[1],
                "idx": index,
                "account_id": event.account_id,
                "customer_id": event.customer_id,
                "source_url": url,
                "media_id": media_id,
                "state": "PENDING",
                "attempts": 0,
                "next_attempt_at": now,
            }
    # A message's event is appended once, so its attachments are new; were one noted already,
    # its row would stay as it is.
    insert_rows(conn, media, [row for _, row in sorted(rows.items())], keep_existing=True)
