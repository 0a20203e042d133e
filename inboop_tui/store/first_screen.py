"""The inbox's first screen, read before SQLAlchemy is loaded.

Importing SQLAlchemy is about a quarter of the app's start (~0.12 s of ~0.45 s here), and the
first screen needs four statements: the SLA setting (for the viewpoint), the first keys of
the default view, the list's rows by key, and the sync's state for the status line. They are
compiled ahead of time from the statements in ``queries`` (``compiled``, written by ``make
compiled-sql``; a test fails when they no longer agree) and run here on the driver's
connection. The rows by key and the sync's state are read here at any time, whichever
connection the replica gives (its engine's, once made).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from inboop_tui.store.compiled import STATEMENTS
from inboop_tui.store.rows import (
    DEFAULT_VIEW,
    ROW_COLUMNS,
    ConversationRow,
    InboxFilter,
    SyncStatus,
    Viewpoint,
    conversation_row,
)
from relay.protocol.plain import format_time

# How a compiled statement marks a list bound at each read (SQLAlchemy's own marker for an
# "expanding" parameter, left in the text).
EXPANDED = "__[POSTCOMPILE_{}]"


@dataclass(frozen=True)
class Prepared:
    """A statement compiled once for the driver: its SQL, its positional parameters, with the
    named ones (``slots``: position, name) filled in at each read; ``expanding``, the one
    named slot (if any) that takes a list, spread over as many parameters as it holds."""

    sql: str
    values: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]
    expanding: str | None = None

    def bound(self, named: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and its parameters for one read."""
        values = list(self.values)
        spread: tuple[int, Sequence[Any]] | None = None
        for position, name in self.slots:
            if name == self.expanding:
                spread = (position, named[name])
            else:
                values[position] = named[name]
        if spread is None:
            return self.sql, values
        position, items = spread
        values[position : position + 1] = items
        marks = ", ".join("?" * len(items))
        return self.sql.replace(EXPANDED.format(self.expanding), marks), values


@cache
def _statement(name: str) -> Prepared:
    """A statement of ``compiled``, looked up when first read (so that ``make compiled-sql``
    can write a missing one)."""
    sql, values, slots, expanding = STATEMENTS[name]
    return Prepared(sql, tuple(values), tuple((p, n) for p, n in slots), expanding)


def _read(db: sqlite3.Connection, statement: Prepared, named: Mapping[str, Any]) -> list[Any]:
    return db.execute(*statement.bound(named)).fetchall()


def sla_minutes(db: sqlite3.Connection) -> int | None:
    found = _read(db, _statement("sla_minutes"), {})
    return None if not found or found[0][0] is None else int(found[0][0])


def viewpoint(db: sqlite3.Connection, me: str | None, now: datetime) -> Viewpoint:
    minutes = sla_minutes(db)
    deadline = None if minutes is None else format_time(now - timedelta(minutes=minutes))
    return Viewpoint(me=me, now=format_time(now), sla_deadline=deadline)


def compiled_for(f: InboxFilter, keep: str | None) -> bool:
    """Whether the first keys of this view are compiled here (the default view, with no
    conversation kept on screen besides what it shows)."""
    return f == DEFAULT_VIEW and keep is None


def first_keys(db: sqlite3.Connection, vp: Viewpoint, limit: int) -> tuple[array[int], bool]:
    """The default view's first ``limit`` keys, newest first, and whether they are the whole
    order (as :func:`queries.conversation_keys` reads them with a limit)."""
    keys = array(
        "q",
        (pk for (pk,) in _read(db, _statement("first_keys"), {"now": vp.now, "limit": limit + 1})),
    )
    if len(keys) > limit:
        return keys[:limit], False
    return keys, True


def sync_status(db: sqlite3.Connection) -> SyncStatus:
    found = _read(db, _statement("sync_status"), {})
    if not found:  # made by the first migration: the file is not what it should be
        raise sqlite3.DatabaseError("the replica has no sync state (malformed)")
    cursor, head, ok_at, attempt_at, error, kind, pending = found[0]
    return SyncStatus(int(cursor), int(head), ok_at, attempt_at, error, kind, int(pending))


def rows_at(
    db: sqlite3.Connection, pks: Sequence[int], vp: Viewpoint
) -> list[ConversationRow | None]:
    """The rows of these conversations, in the order given (None: no longer there)."""
    if not pks:
        return []
    named = {"keys": pks, "now": vp.now, "deadline": vp.sla_deadline}
    rows = _read(db, _statement("rows_by_key_sla" if vp.sla_on else "rows_by_key"), named)
    found = {row[ROW_COLUMNS]: conversation_row(row) for row in rows}
    return [found.get(pk) for pk in pks]
