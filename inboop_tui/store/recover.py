"""``inboop doctor --recover``: set a damaged replica aside and start a fresh one, keeping what
exists nowhere else.

Everything the relay has comes back with the next sync. What only this replica holds is the
agent's own: changes not yet pushed (and the files of replies waiting to go), drafts, rejected
changes, and what they have read. Those rows are copied from the damaged file as far as SQLite
can still read them; a table it cannot read is named in the report, never guessed at.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Table, insert

from inboop_tui.store.db import open_replica, writing
from inboop_tui.store.replica_file import in_use_path
from inboop_tui.store.tables import (
    conversation_views,
    drafts,
    outbox,
    outbox_files,
    rejected_mutations,
)

# The agent's own rows, in an order that keeps references valid.
KEPT: tuple[Table, ...] = (outbox, outbox_files, drafts, rejected_mutations, conversation_views)


@dataclass(frozen=True)
class Recovered:
    moved_to: Path
    kept: dict[str, int]  # table: rows copied into the fresh replica
    unreadable: list[str]  # tables whose rows could not all be read


def recover(path: Path, now: datetime | None = None) -> Recovered:
    """Copy the agent's own rows out of the damaged ``path`` into a fresh replica built beside
    it, then move the damaged file (and its WAL) aside and the fresh one into its place. Until
    the fresh replica is complete nothing is moved: a failure part-way leaves ``path`` as it was,
    to try again. The damaged file is kept for whoever wants to look at it."""
    rows, unreadable = _read_own_rows(path)
    fresh = path.with_name(f"{path.name}.recovering")
    _remove(fresh)  # what a failed attempt left
    try:
        engine = open_replica(fresh)
        try:
            with writing(engine) as conn:
                for table in KEPT:
                    if rows[table.name]:
                        conn.execute(insert(table), rows[table.name])
        finally:
            engine.dispose()
    except BaseException:
        _remove(fresh)
        raise
    aside = _aside_name(path, now or datetime.now(UTC))
    for suffix in ("-wal", "-shm", ""):  # the WAL travels with its database; the file last
        _move(Path(f"{path}{suffix}"), Path(f"{aside}{suffix}"))
    for suffix in ("-wal", "-shm", ""):
        _move(Path(f"{fresh}{suffix}"), Path(f"{path}{suffix}"))
    in_use_path(fresh).unlink(missing_ok=True)
    return Recovered(
        moved_to=aside,
        kept={name: len(found) for name, found in rows.items()},
        unreadable=unreadable,
    )


def _aside_name(path: Path, now: datetime) -> Path:
    """``replica.db.damaged-<time>``, never one an earlier recovery left."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    return aside


def _move(source: Path, target: Path) -> None:
    if source.exists():
        os.replace(source, target)


def _remove(database: Path) -> None:
    for suffix in ("-wal", "-shm", ""):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    in_use_path(database).unlink(missing_ok=True)


def _read_own_rows(path: Path) -> tuple[dict[str, list[dict[str, object]]], list[str]]:
    rows: dict[str, list[dict[str, object]]] = {table.name: [] for table in KEPT}
    unreadable: list[str] = []
    try:
        old = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return rows, [table.name for table in KEPT]
    try:
        for table in KEPT:
            try:
                have = {row[1] for row in old.execute(f"PRAGMA table_info({table.name})")}
                names = [c.name for c in table.columns if c.name in have]
                if not names:
                    unreadable.append(table.name)
                    continue
                cursor = old.execute(f"SELECT {', '.join(names)} FROM {table.name}")
                for row in cursor:  # rows read before a damaged page are kept
                    rows[table.name].append(dict(zip(names, row, strict=True)))
            except sqlite3.Error:
                unreadable.append(table.name)
    finally:
        old.close()
    return rows, unreadable
