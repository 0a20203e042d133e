"""``inboop doctor --rebuild``: recompute every projection from the local log and compare.

The pending layer is put back on top afterwards, so a rebuild never loses an unsynced change.
Entries an older version could not read are read again: an upgrade fixes them here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table, select

from inboop_tui.store.apply import AppliedBatch, collector_paused, reduce_entries
from inboop_tui.store.db import writing
from inboop_tui.store.pending import put_pending_back
from inboop_tui.store.projections import clear_projections, index_conversations
from inboop_tui.store.tables import (
    canned_replies,
    conflicts,
    contacts,
    conversations,
    leads,
    log_events,
    message_aliases,
    messages,
    notes,
    orders,
    unreadable_entries,
    workspace,
)

REPLAY_BATCH = 2000

# Natural keys: row order and autoincrement keys may differ after a rebuild, content may not.
_ORDER = {
    "contacts": ("id",),
    "conversations": ("id",),
    "messages": ("channel", "channel_message_id"),
    "message_aliases": ("channel", "alias"),
    "notes": ("id",),
    "canned_replies": ("id",),
    "workspace": ("id",),
    "conflicts": ("seq",),
    "unreadable_entries": ("seq",),
    "leads": ("id",),
    "orders": ("id",),
}
DIGESTED = (
    contacts,
    conversations,
    messages,
    message_aliases,
    notes,
    canned_replies,
    workspace,
    conflicts,
    unreadable_entries,
    leads,
    orders,
)


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
    return {table.name: _table_digest(conn, table) for table in DIGESTED}


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
    """Clear the projections, reduce the whole local log again in seq order, and put the
    pending layer back on top."""
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
            break
        entries = [
            {"seq": r.seq, "origin": r.origin, "type": r.type, "event": r.payload} for r in rows
        ]
        with collector_paused():
            reduce_entries(conn, entries, AppliedBatch())
        count += len(rows)
        after = rows[-1].seq
    put_pending_back(conn)
    return count


def rebuild(engine: Engine) -> RebuildReport:
    with writing(engine) as conn:
        before = digest(conn)
        count = replay(conn)
        ids = conn.execute(select(conversations.c.id)).scalars().all()
        index_conversations(conn, ids)
        after = digest(conn)
    return RebuildReport(events=count, before=before, after=after)
