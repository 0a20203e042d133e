"""``inboop doctor --rebuild``: recompute every projection from the local log and compare."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table, select

from inboop_tui.store.apply import apply_channel_events, clear_projections, index_conversations
from inboop_tui.store.db import writing
from inboop_tui.store.tables import contacts, conversations, log_events, messages
from relay.protocol import CHANNEL_EVENT_TYPES, parse_channel_event

REPLAY_BATCH = 2000

# Natural keys: row order and autoincrement keys may differ after a rebuild, content may not.
_ORDER = {
    "contacts": ("id",),
    "conversations": ("id",),
    "messages": ("channel", "channel_message_id"),
}


@dataclass(frozen=True)
class RebuildReport:
    events: int
    before: dict[str, str]
    after: dict[str, str]

    @property
    def identical(self) -> bool:
        return self.before == self.after

    @property
    def differing(self) -> list[str]:
        return sorted(name for name in self.before if self.before[name] != self.after.get(name))


def digest(conn: Connection) -> dict[str, str]:
    """A hash of each projection's content, in natural-key order."""
    found = {}
    for table in (contacts, conversations, messages):
        found[table.name] = _table_digest(conn, table)
    return found


def _table_digest(conn: Connection, table: Table) -> str:
    columns = [c for c in table.columns if c.name != "pk"]
    order = [table.c[name] for name in _ORDER[table.name]]
    hasher = hashlib.sha256()
    result = conn.execution_options(yield_per=5000).execute(select(*columns).order_by(*order))
    for row in result:
        hasher.update(json.dumps(list(row), default=str).encode())
        hasher.update(b"\n")
    return hasher.hexdigest()


def replay(conn: Connection) -> int:
    """Clear the projections and reduce the whole local log again, in seq order."""
    clear_projections(conn)
    count = 0
    after = 0
    while True:
        rows = conn.execute(
            select(log_events.c.seq, log_events.c.origin, log_events.c.type, log_events.c.payload)
            .where(log_events.c.seq > after)
            .order_by(log_events.c.seq)
            .limit(REPLAY_BATCH)
        ).all()
        if not rows:
            return count
        events = [
            parse_channel_event(r.payload)
            for r in rows
            if r.origin == "channel" and r.type in CHANNEL_EVENT_TYPES
        ]
        apply_channel_events(conn, events)
        count += len(rows)
        after = rows[-1].seq


def rebuild(engine: Engine) -> RebuildReport:
    with writing(engine) as conn:
        before = digest(conn)
        count = replay(conn)
        ids = conn.execute(select(conversations.c.id)).scalars().all()
        index_conversations(conn, ids)
        after = digest(conn)
    return RebuildReport(events=count, before=before, after=after)
