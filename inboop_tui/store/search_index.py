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
from sqlalchemy.exc import DBAPIError

PART_BITS = 17  # 131,072 messages to a part
PREFIX = "messages_fts_"

_TOKENIZE = re.compile(r"tokenize\s*=\s*(\"[^\"]*\"|'(?:[^']|'')*')", re.IGNORECASE)


def part_of(pk: int) -> int:
    return pk >> PART_BITS


def part_table(part: int) -> str:
    return f"{PREFIX}{int(part)}"


# Each part's table, with its SQL (its shadow tables, ``messages_fts_<n>_data`` and the like,
# are not virtual).
PARTS_QUERY = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name GLOB ? "
    "AND sql LIKE 'CREATE VIRTUAL TABLE%'",
    (f"{PREFIX}[0-9]*",),
)


def parts(conn: Connection) -> list[int]:
    """The parts that exist, newest first."""
    names = [name for name, _ in conn.exec_driver_sql(*PARTS_QUERY)]
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


def unindex(conn: Connection, pks: Iterable[int]) -> None:
    """Take these messages out of the index (those in it)."""
    replace(conn, pks, [])


def replace(conn: Connection, pks: Iterable[int], rows: Sequence[tuple[int, str]]) -> None:
    """Take the messages ``pks`` out of the index (those in it), then put ``rows`` (key, text)
    in: the parts are listed once for both."""
    out: dict[int, list[tuple[int]]] = defaultdict(list)
    for pk in pks:
        out[part_of(pk)].append((pk,))
    into: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pk, body in rows:
        into[part_of(pk)].append((pk, body))
    if not out and not into:
        return
    existing = set(parts(conn))
    for part, keys in out.items():
        if part in existing:
            conn.exec_driver_sql(f"DELETE FROM {part_table(part)} WHERE rowid = ?", keys)
    tokenize = None
    for part, part_rows in into.items():
        if part not in existing:
            tokenize = tokenize or tokenizer(conn)
            make_part(conn, part, tokenize)
        conn.exec_driver_sql(
            f"INSERT INTO {part_table(part)} (rowid, text) VALUES (?, ?)", part_rows
        )


def drop_all(conn: Connection) -> None:
    """No message in the index (parts are made again as messages come). A damaged part is
    removed too: see :func:`_remove_damaged`."""
    for part in parts(conn):
        table = part_table(part)
        try:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        except DBAPIError as exc:
            if "vtable constructor failed" not in str(exc.orig):
                raise
            _remove_damaged(conn, table)


# FTS5's own tables behind each part (``messages_fts_<n>_data`` and the like).
SHADOWS = ("data", "idx", "content", "docsize", "config")


def _remove_damaged(conn: Connection, table: str) -> None:
    """A part one of whose own tables is gone or unreadable: SQLite cannot open it, so it
    cannot drop it either (``DROP TABLE`` opens a virtual table first). Its line is taken out
    of the schema (``writable_schema``; ``RESET`` turns that off and reads the schema again),
    then what is left of its own tables is dropped."""
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.exec_driver_sql(
            "DELETE FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        )
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = RESET")
    for shadow in SHADOWS:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}_{shadow}")
