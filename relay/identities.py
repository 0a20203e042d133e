"""One WhatsApp person, one conversation, on every replica.

WhatsApp customers are known by a phone's ``wa_id`` and, since usernames, by a business-scoped
``user_id`` (``BR.1502576394655843``); a message may carry either or both, and the phone may be
missing once a person adopts a username. The relay keys each person by the first id it saw
them by, and rewrites every WhatsApp event's ``customer_id`` to it before the event enters the
log, so every replica gets the same conversation without knowing any of this:

- an id never seen before keys its own conversation;
- a contact that carries both ids (``contacts[]`` with ``wa_id`` and ``user_id``) links them:
  the id that already has a conversation keeps it and the other joins it; if neither had one,
  the ``wa_id`` keys it (replies are sent to a number);
- two ids that each had a conversation before they were linked stay two conversations (the log
  is never rewritten); that is only a person's history from before WhatsApp told us both ids.

The rewrite happens under the log's head lock, in the delivery's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select

from relay.protocol import Channel, ChannelEvent, ContactProfile
from relay.store.dialect import insert_rows
from relay.store.keys import chunks
from relay.store.tables import whatsapp_identities as identities

# A business number's known aliases among some ids, through the table's primary key: one
# statement built once (building one per batch, with its conditions, took ~0.4 ms of a batch's
# ~2.4 ms), read for each business number in the batch (nearly always one).
_KNOWN = select(identities.c.alias, identities.c.canonical).where(
    identities.c.account_id == bindparam("account"),
    identities.c.alias.in_(bindparam("aliases", expanding=True)),
)


def canonical_customers(
    conn: Connection, deliveries: Sequence[Sequence[ChannelEvent]]
) -> list[list[ChannelEvent]]:
    """Each delivery's events with WhatsApp customers under their canonical id: the batch's ids
    looked up together (a query per business number and 500 ids), then the deliveries in
    order, as if each had been appended alone."""
    whatsapp = [e for events in deliveries for e in events if e.channel is Channel.WHATSAPP]
    if not whatsapp:
        return [list(events) for events in deliveries]
    wanted = {(e.account_id, e.customer_id) for e in whatsapp}
    for account, wa_id, user_id in _links(whatsapp):
        wanted |= {(account, wa_id), (account, user_id)}
    by_account: dict[str, list[str]] = defaultdict(list)
    for account, alias in sorted(wanted):
        by_account[account].append(alias)
    known: dict[tuple[str, str], str] = {}
    for account, aliases in by_account.items():
        for chunk in chunks(aliases):
            for alias, canonical in conn.execute(_KNOWN, {"account": account, "aliases": chunk}):
                known[(account, alias)] = canonical
    fresh: dict[tuple[str, str], str] = {}
    for events in deliveries:
        delivery = [e for e in events if e.channel is Channel.WHATSAPP]
        for account, wa_id, user_id in _links(delivery):
            canonical = known.get((account, wa_id)) or known.get((account, user_id)) or wa_id
            for alias in (wa_id, user_id):
                if (account, alias) not in known:
                    known[(account, alias)] = fresh[(account, alias)] = canonical
        for event in delivery:
            seen = (event.account_id, event.customer_id)
            if seen not in known:
                known[seen] = fresh[seen] = event.customer_id
    insert_rows(
        conn,
        identities,
        [
            {"account_id": account, "alias": alias, "canonical": canonical}
            for (account, alias), canonical in sorted(fresh.items())
        ],
    )
    return [
        [
            event.model_copy(update={"customer_id": known[(event.account_id, event.customer_id)]})
            if event.channel is Channel.WHATSAPP
            and known[(event.account_id, event.customer_id)] != event.customer_id
            else event
            for event in events
        ]
        for events in deliveries
    ]


def _links(events: Sequence[ChannelEvent]) -> list[tuple[str, str, str]]:
    """(account, wa_id, user_id) of the contacts that carry both ids."""
    return [
        (e.account_id, e.wa_id, e.user_id)
        for e in events
        if isinstance(e, ContactProfile) and e.wa_id and e.user_id
    ]
