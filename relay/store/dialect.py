"""Everything that depends on the database dialect: URLs, engines and connection settings.

SQLite: WAL, ``synchronous=FULL`` on the writer (a 200 to Meta is a promise), a busy timeout,
and writes that take the write lock when they begin (``BEGIN IMMEDIATE``) so two writers (the
relay and ``inboop-relay reprocess``) queue instead of deadlocking on a lock upgrade. The writer
engine has a single connection: the relay keeps one writer.

The engines are synchronous. The relay runs every database call in a worker thread: the writer
has a thread of its own and does a whole group commit in one hand-off, where an async driver
would hop threads for every statement (measured: see docs/design.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from sqlalchemy import Connection, Dialect, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import QueuePool


class DatabaseURLError(ValueError):
    pass


def first_line(exc: DBAPIError) -> str:
    """The first line of a driver's error (PostgreSQL's run over several)."""
    text = str(exc.orig).strip()
    return text.splitlines()[0] if text else type(exc.orig).__name__


def database_unavailable(exc: BaseException) -> TypeGuard[DBAPIError]:
    """The database, not the data: locked, busy, gone, out of space or read-only."""
    return isinstance(exc, OperationalError | InterfaceError)


def log_failure(
    logger: logging.Logger,
    exc: BaseException,
    message: str,
    *args: object,
    level: int = logging.ERROR,
) -> None:
    """``message`` with the reason in one line when the database is unavailable (the relay's
    condition, for its operator); with the traceback otherwise (a bug, for us)."""
    if database_unavailable(exc):
        logger.log(level, f"{message}: the database is unavailable (%s)", *args, first_line(exc))
    else:
        logger.exception(message, *args)


def driver_url(url: str) -> str:
    """The URL with the driver the relay uses, for a URL a person would write."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise DatabaseURLError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


@dataclass
class Engines:
    writer: Engine
    reader: Engine

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def create_engines(url: str, *, busy_seconds: float = 10.0, must_exist: bool = False) -> Engines:
    """Writer and reader engines; a write waits at most ``busy_seconds`` for a lock.

    A SQLite file is created owner-only (its folder too) unless ``must_exist`` (the admin
    commands: a mistyped path is an error, not a new empty relay)."""
    full = driver_url(url)
    path = sqlite_path(full)
    if path is None:
        if make_url(full).get_backend_name() == "sqlite":
            raise DatabaseURLError("the relay needs a SQLite file, not an in-memory database")
        try:
            return Engines(
                create_engine(full, pool_pre_ping=True, pool_size=1, max_overflow=0),
                create_engine(full, pool_pre_ping=True),
            )
        except ImportError as exc:
            raise DatabaseURLError(
                f"the database driver is not installed ({exc.name}): reinstall inboop-relay"
            ) from None
    _prepare_file(path, must_exist)
    writer = create_engine(
        full,
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": busy_seconds, "check_same_thread": False},
    )
    reader = create_engine(
        full,
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=8,
        connect_args={"timeout": busy_seconds, "check_same_thread": False},
    )
    _sqlite_pragmas(writer, synchronous="FULL", immediate=True, busy_seconds=busy_seconds)
    _sqlite_pragmas(reader, synchronous="NORMAL", immediate=False, busy_seconds=busy_seconds)
    return Engines(writer, reader)


def _prepare_file(path: Path, must_exist: bool) -> None:
    if must_exist and not path.exists():
        raise DatabaseURLError(
            f"there is no relay database at {path}: pass the right --database "
            "(or set INBOOP_RELAY_HOME), or start the relay once with `inboop-relay serve`"
        )
    if not path.parent.is_dir():
        if path.parent.exists():
            raise DatabaseURLError(f"{path.parent} is not a folder")
        try:
            path.parent.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise DatabaseURLError(f"cannot create {path.parent}: {exc.strerror}") from None
    if not path.exists():
        try:
            # Owner-only from the first byte: it holds customers' messages and users' tokens.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise DatabaseURLError(f"cannot create {path}: {exc.strerror}") from None


def _sqlite_pragmas(
    engine: Engine, *, synchronous: str, immediate: bool, busy_seconds: float
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the begin event below decide when transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def wal_checkpoint(engine: Engine) -> None:
    """Copy a SQLite database's write-ahead log into the file (PASSIVE: writers are never held
    up). Run beside the writer, it leaves the writer's own automatic checkpoints (which hold up
    the commit they follow, and every request waiting on it) only the last few pages to copy;
    those still restart the log, which a checkpoint beside a busy writer never can."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        cursor.close()
    finally:
        raw.close()


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    keep_existing: bool = False,
) -> None:
    """``INSERT`` many rows (all with the same keys) as the driver's SQL, in the caller's
    transaction: the statement SQLAlchemy would send, compiled once, without its per-row
    parameter processing (the ingest path's hottest statements; plain values only). With
    ``keep_existing``, a row whose primary key is taken is left out (``ON CONFLICT (key) DO
    NOTHING``) and the row already there stays as it is."""
    if not rows:
        return
    sql, order = _insert_statement(conn.dialect, table, tuple(rows[0]), keep_existing)
    if order is None:
        conn.exec_driver_sql(sql, list(rows))
    else:
        conn.exec_driver_sql(sql, [tuple(row[k] for k in order) for row in rows])


_STATEMENTS: dict[
    tuple[str, str, str, tuple[str, ...], bool], tuple[str, tuple[str, ...] | None]
] = {}


def _insert_statement(
    dialect: Dialect, table: Table, keys: tuple[str, ...], keep_existing: bool
) -> tuple[str, tuple[str, ...] | None]:
    """The dialect's INSERT text, and the order of positional parameters (None: named)."""
    cache_key = (dialect.name, dialect.paramstyle, table.name, keys, keep_existing)
    found = _STATEMENTS.get(cache_key)
    if found is None:
        statement: Any = insert(table)
        if keep_existing:
            statement = _dialect_insert(dialect, table).on_conflict_do_nothing(
                index_elements=list(table.primary_key.columns)
            )
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        positions = compiled.positiontup
        found = (str(compiled), tuple(positions) if compiled.positional and positions else None)
        _STATEMENTS[cache_key] = found
    return found


def _dialect_insert(dialect: Dialect, table: Table) -> Any:
    """The dialect's own INSERT, which has ``ON CONFLICT``."""
    if dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    raise ValueError(f"no INSERT ... ON CONFLICT for {dialect.name}")
