"""The messages' search index, in parts of 131,072 messages by key (``messages_fts_<n>``).

A search reads its matches newest first and stops when a screen is full, but SQLite's FTS5
builds the whole list of matches of a prefix query (``"price"*``, as every word of a search is
read) before it hands out the first. In one index over a million messages, a word in a fifth of
them cost ~7 ms before the first match, two such words ~14 ms. In parts, the newest part's list
is built first, and the next part is read only if the screen is not full yet: a common word
fills it from the newest part (~1 ms at any size), and a rare one, which has to go further,
has few matches to build in each. A message is written to the one part its key falls in; parts
are made as keys reach them.

The tokenizer is the replica's (migration 0002 chose it for the SQLite at hand): each new part
takes the one ``conversations_fts`` was made with.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

PART_BITS = 17  # 131,072 messages to a part
PREFIX = "messages_fts_"

_TOKENIZE = re.compile(r"tokenize\s*=\s*(\"[^\"]*\"|'(?:[^']|'')*')", re.IGNORECASE)


def part_of(pk: int) -> int:
    return pk >> PART_BITS


def part_table(part: int) -> str:
    return f"{PREFIX}{int(part)}"


def parts(conn: Connection) -> list[int]:
    """The parts that exist, newest first."""
    names = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB ? "
        "AND sql LIKE 'CREATE VIRTUAL TABLE%'",
        (f"{PREFIX}[0-9]*",),
    ).scalars()
    return sorted((int(name.removeprefix(PREFIX)) for name in names), reverse=True)


def tokenizer(conn: Connection) -> str:
    """The ``tokenize`` option of the replica's search indexes, as written in their SQL."""
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE name = 'conversations_fts'"
    ).scalar()
    found = _TOKENIZE.search(sql or "")
    if found is None:  # a schema ours never makes: said as the damage it is
        raise sqlite3.DatabaseError("database disk image is malformed: no search index")
    return found.group(1)


def make_part(conn: Connection, part: int, tokenize: str) -> None:
    conn.exec_driver_sql(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {part_table(part)} USING fts5(text, "
        f"tokenize={tokenize})"
    )


def _by_part(pks: Iterable[int]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = defaultdict(list)
    for pk in pks:
        grouped[part_of(pk)].append(pk)
    return grouped


def unindex(conn: Connection, pks: Iterable[int]) -> None:
    """Take these messages out of the index (those in it)."""
    grouped = _by_part(pks)
    if not grouped:
        return
    existing = set(parts(conn))
    for part, keys in grouped.items():
        if part in existing:
            conn.exec_driver_sql(
                f"DELETE FROM {part_table(part)} WHERE rowid = ?", [(pk,) for pk in keys]
            )


def index(conn: Connection, rows: Sequence[tuple[int, str]]) -> None:
    """Put these messages (key, text) in the index; they must not be in it."""
    grouped: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pk, body in rows:
        grouped[part_of(pk)].append((pk, body))
    if not grouped:
        return
    existing = set(parts(conn))
    tokenize = None
    for part, part_rows in grouped.items():
        if part not in existing:
            tokenize = tokenize or tokenizer(conn)
            make_part(conn, part, tokenize)
        conn.exec_driver_sql(
            f"INSERT INTO {part_table(part)} (rowid, text) VALUES (?, ?)", part_rows
        )


def drop_all(conn: Connection) -> None:
    """No message in the index (parts are made again as messages come)."""
    for part in parts(conn):
        conn.exec_driver_sql(f"DROP TABLE {part_table(part)}")
