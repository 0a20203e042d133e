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
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # its table names explain errors before SQLAlchemy loads (`replica_file`)
    from sqlalchemy import Connection

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
    found = _TOKENIZE.search(_names_sql(conn))
    if found is None:  # a schema ours never makes: said as the damage it is
        raise sqlite3.DatabaseError("database disk image is malformed: no search index")
    return found.group(1)


def _names_sql(conn: Connection) -> str:
    """The names' table as the replica made it (its ``CREATE VIRTUAL TABLE``)."""
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (NAMES,)
    ).scalar()
    if sql is None:  # a schema ours never makes: said as the damage it is
        raise sqlite3.DatabaseError("database disk image is malformed: no search index")
    return str(sql)


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


def clear(conn: Connection) -> None:
    """Nothing in the index: no part (made again as messages come) and no name (the names'
    table made again as it was, from its own SQL). A table that is damaged is removed too: see
    :func:`_remove_damaged`."""
    drop_all(conn)
    made = _names_sql(conn)
    _drop(conn, NAMES)
    conn.exec_driver_sql(made)


def drop_all(conn: Connection) -> None:
    """No part of the messages' index (made again as messages come); a damaged one too."""
    for part in parts(conn):
        _drop(conn, part_table(part))


def _drop(conn: Connection, table: str) -> None:
    from sqlalchemy.exc import DBAPIError

    try:
        conn.exec_driver_sql(f"DROP TABLE {table}")
    except DBAPIError as exc:
        if not is_lost_table_error(exc):
            raise
        _remove_damaged(conn, table)


# FTS5's own tables behind each of the index's tables (``messages_fts_<n>_data`` and the like).
SHADOWS = ("data", "idx", "content", "docsize", "config")

# The people's names and handles (one table, not in parts).
NAMES = "conversations_fts"
# How the index's tables' names begin: the names' table, and the messages' parts.
TABLE_PREFIXES = (NAMES, PREFIX)


def is_lost_table_error(error: BaseException) -> bool:
    """SQLite's error when one of an index table's own tables is gone: opening the table fails,
    or reading it fails with no more said than "SQL logic error"."""
    text = str(getattr(error, "orig", error)).lower()
    return "vtable constructor failed" in text or "sql logic error" in text


def damage(conn: Connection) -> list[str]:
    """What is wrong with the search index, a line per damaged table (empty: nothing found):
    one of FTS5's own tables behind it gone, or the table unreadable. SQLite's ``quick_check``
    does not see either (to it those are tables like any other)."""
    from sqlalchemy.exc import DBAPIError

    names = {name for (name,) in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    found = []
    for table in (NAMES, *(part_table(part) for part in parts(conn))):
        missing = [f"{table}_{shadow}" for shadow in SHADOWS if f"{table}_{shadow}" not in names]
        if missing:
            found.append(f"{table}: {', '.join(missing)} missing")
            continue
        try:  # reads its index (the structure record, where the term would be), finds nothing
            conn.exec_driver_sql(f"SELECT rowid FROM {table} WHERE {table} MATCH 'zqxj*' LIMIT 1")
        except DBAPIError as exc:
            if not is_lost_table_error(exc):  # the file's damage, or a lock: said as such
                raise
            found.append(f"{table}: {exc.orig}")
    return found


def _remove_damaged(conn: Connection, table: str) -> None:
    """An index table one of whose own tables is gone or unreadable: SQLite cannot open it, so it
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
