"""The replica's SQLite database through SQLAlchemy: its engine, writes, migrations, and the
errors only an engine can look into. Its file, settings and errors without SQLAlchemy are in
``replica_file`` (the app's start reads its first screen before SQLAlchemy loads).

WAL (readers never wait for the sync writer), foreign keys on, a busy timeout, and
``synchronous=NORMAL`` (the relay keeps the durable copy; a replica can always re-pull).
Writes begin with ``BEGIN IMMEDIATE`` so two writers queue instead of deadlocking.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Select, create_engine, event
from sqlalchemy.exc import DBAPIError

from inboop_tui.store import replica_file, search_index
from inboop_tui.store.replica_file import (
    BUSY_TIMEOUT_MS,
    MIGRATIONS,
    NewerSchema,
    ReplicaError,
    ReplicaFile,
    configure,
    explain,
    hold,
    newer_schema,
    open_replica_file,
    revisions,
    search_index_damaged,
)

log = logging.getLogger("inboop.replica")


def explain_on(engine: Engine, exc: BaseException) -> ReplicaError:
    """:func:`explain` for a failure on ``engine``'s replica, which can be looked at: when a
    table of the search index lost one of its own tables, SQLite says no more than "SQL logic
    error" (a search, or a sync indexing new messages)."""
    path = Path(engine.url.database or "")
    if search_index.is_lost_table_error(exc) and _index_damaged(engine):
        return search_index_damaged(path)
    return explain(exc, path)


def _index_damaged(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            return bool(search_index.damage(conn))
    except (DBAPIError, sqlite3.Error):
        return False


def engine_on(path: Path, let_go: Callable[[], None]) -> Engine:
    """SQLAlchemy's engine on the replica at ``path``; ``let_go`` runs when it is disposed."""
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        # The connection used last is used next: its pages, its compiled statements and the
        # search index's tables it has opened are warm (the pool would otherwise go round its
        # connections, each read on one that has done the least lately).
        pool_use_lifo=True,
    )

    @event.listens_for(engine, "engine_disposed")
    def _on_dispose(_engine: Engine) -> None:
        let_go()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        configure(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

    return engine


def create_replica_engine(path: Path) -> Engine:
    """An engine on the replica at ``path`` as it is (no migration), holding its in-use lock."""
    return ReplicaFile(path, hold(path)).engine


def driver_rows(
    conn: Connection,
    query: Select[Any] | str,
    params: Sequence[Any] | Mapping[str, Any] = (),
) -> sqlite3.Cursor:
    """A query's rows as plain tuples straight from ``sqlite3``, in ``conn``'s transaction, for
    the big reads (exports, the inbox's order) and the sync's per-batch reads, where a
    SQLAlchemy row per result costs more than reading it. ``query`` may be fixed SQL with
    positional ``params``, or a statement with named ones for its bound parameters."""
    if not isinstance(query, str):
        # Executed by SQLAlchemy for its cache of compiled statements (compiling one costs
        # ~0.4 ms), its rows read from the driver's cursor.
        named = dict(params) if isinstance(params, Mapping) else None
        return cast(sqlite3.Cursor, conn.execute(query, named).cursor)
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver.execute(query, params)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction, holding the write lock from its start."""
    with engine.connect() as conn:
        conn.info["write"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop("write", None)


def checkpoint(engine: Engine) -> tuple[int, int] | None:
    """Copy what the write-ahead log holds back into the database, without waiting for readers
    or writers (what a reader still needs stays for the next time): the log's frames and how
    many of them are copied, or None when it could not run (logged)."""
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            _, frames, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return frames, copied
    except (DBAPIError, sqlite3.Error) as exc:  # locked or damaged: the next one will do
        log.warning("checkpoint skipped: %s", exc)
        return None


def current_revision(conn: Connection) -> str | None:
    """The replica's schema revision (None: a new, empty database)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    return replica_file.current_revision(driver)


def upgrade(engine: Engine, *, wait_seconds: float = 30.0) -> None:
    """Migrate to the newest schema. A replica that is already there is only read, so opening
    it never waits for the write lock another process (a long sync) holds; and while another
    process migrates it, this one watches for that to finish instead of queueing behind a sync
    that starts right after."""
    head, known = revisions()
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with engine.connect() as conn:
                current = current_revision(conn)
            if current == head:
                return
            if current is not None and current not in known:
                raise NewerSchema(current)
            _migrate(engine)
            return
        except (DBAPIError, sqlite3.OperationalError) as exc:  # the revision: on the driver
            if "locked" not in str(getattr(exc, "orig", exc)).lower():
                raise
            if time.monotonic() > deadline:
                raise
            log.info("the replica is busy (another process migrating or syncing); looking again")
            time.sleep(0.05)


def _migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA busy_timeout = 250")  # briefly: then look again
        conn.info["write"] = True
        try:
            with conn.begin():
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        finally:
            conn.info.pop("write", None)
            raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def migrate(engine: Engine, path: Path) -> None:
    """:func:`upgrade`, its failures said in one line (:class:`ReplicaError`)."""
    try:
        upgrade(engine)
    except NewerSchema as exc:
        raise newer_schema(path, str(exc)) from None
    except (DBAPIError, sqlite3.Error) as exc:
        log.info("cannot open the replica %s", path, exc_info=True)
        raise explain(exc, path) from exc


def open_replica(path: Path) -> Engine:
    """The replica's engine with migrations applied, or a ReplicaError that says what is wrong
    (the engine lets go of the file when disposed)."""
    return open_replica_file(path).engine
