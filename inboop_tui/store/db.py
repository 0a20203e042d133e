"""The replica's SQLite database: engine, connection settings, migrations, clear errors.

WAL (readers never wait for the sync writer), foreign keys on, a busy timeout, and
``synchronous=NORMAL`` (the relay keeps the durable copy; a replica can always re-pull).
Writes begin with ``BEGIN IMMEDIATE`` so two writers queue instead of deadlocking.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Select, create_engine, event
from sqlalchemy.exc import DBAPIError

from inboop_tui.store import search_index
from inboop_tui.store.paths import private_file, tighten

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("inboop.replica")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Writers wait this long for another's transaction (a sync applies page after page).
BUSY_TIMEOUT_MS = 10_000
# Commits copy the write-ahead log back into the database only past ~40 MiB (10,000 pages;
# SQLite's default is 1,000): each copy ends in an fsync, and a sync of 1k messages into a
# 1M-message replica spent a third of its time in six of them. The app copies it after each
# sync instead (:func:`checkpoint`), once the new messages are on their way to the screen; a
# command's last close copies it on the way out.
CHECKPOINT_PAGES = 10_000


class ReplicaError(Exception):
    """The local database cannot be used; the message says why and what to do."""

    def __init__(self, message: str, *, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged  # SQLite found the file itself damaged: `doctor --recover`


class NewerSchema(Exception):
    """The replica was migrated by a newer inboop than this one."""


def explain(exc: BaseException, path: Path) -> ReplicaError:
    text = str(getattr(exc, "orig", exc)).lower()
    if "locked" in text or "busy" in text:
        return ReplicaError(
            f"the local database {path} is locked by another program (another inboop?); close it and try again"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return ReplicaError(
            f"the local database {path} is damaged; run `inboop doctor --recover` to set it aside "
            "and rebuild it from the relay, keeping your unsynced changes",
            damaged=True,
        )
    if any(f"vtable constructor failed: {name}" in text for name in search_index.TABLE_PREFIXES):
        return search_index_damaged(path)
    if "full" in text or "disk i/o" in text:
        return ReplicaError(
            f"cannot write the local database {path}: the disk is full or failing; free some "
            "space and run it again (nothing already saved is lost)"
        )
    if "readonly" in text or "unable to open" in text or "permission" in text:
        return ReplicaError(
            f"cannot write the local database {path}: check its permissions and free disk space"
        )
    return ReplicaError(f"local database error ({path}): {getattr(exc, 'orig', exc)}")


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


def search_index_damaged(path: Path, found: str | None = None) -> ReplicaError:
    said = f" ({found})" if found else ""
    return ReplicaError(
        f"the search index of {path} is damaged{said}; run `inboop doctor --rebuild` to make "
        "it again from the messages (nothing is lost)"
    )


def in_use_path(database: Path) -> Path:
    return database.with_name(database.name + ".in-use")


def _hold_in_use(path: Path, wait_seconds: float = 10.0) -> int | None:
    """A shared lock on the replica's in-use file, held as long as an engine on it lives, so
    that `doctor --recover` never moves a replica another process is writing to. While a
    recovery holds it alone, opening waits for it to end."""
    if fcntl is None:
        return None
    try:
        fd = os.open(in_use_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a read-only folder: nothing here can be written, nor set aside
        return None
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise ReplicaError(
                    f"the local database {path} is being recovered (`inboop doctor --recover`); "
                    "try again when that ends"
                ) from None
            time.sleep(0.05)


@contextmanager
def sole_user(path: Path) -> Iterator[None]:
    """Hold the replica alone: refused while any other engine on it is open, in this process
    or another (the app, a command still running)."""
    if fcntl is None:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(in_use_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReplicaError(
                f"the local database {path} is open in another inboop (the app, or a sync still "
                "running); close it, then run this again"
            ) from None
        yield
    finally:
        os.close(fd)


def create_replica_engine(path: Path) -> Engine:
    private_file(path)  # SQLite gives its WAL and shared-memory files the database's mode
    for suffix in ("-wal", "-shm"):
        tighten(Path(f"{path}{suffix}"))
    in_use = _hold_in_use(path)
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
        nonlocal in_use
        if in_use is not None:
            os.close(in_use)
            in_use = None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: the others may wait
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

    return engine


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


def revisions() -> tuple[str, frozenset[str]]:
    """The migrations' head and every revision, read from their files. Importing Alembic costs
    each command ~0.2 s, and a replica already at the head (nearly every start) needs none of
    it."""
    named, revised = set(), set()
    for file in (MIGRATIONS / "versions").glob("*.py"):
        source = file.read_text(encoding="utf-8")
        named.update(re.findall(r'^revision = "([^"]+)"', source, re.MULTILINE))
        revised.update(re.findall(r'^down_revision = "([^"]+)"', source, re.MULTILINE))
    (head,) = named - revised
    return head, frozenset(named)


def current_revision(conn: Connection) -> str | None:
    """The replica's schema revision (None: a new, empty database)."""
    if conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).first():
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None


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
        except DBAPIError as exc:
            if "locked" not in str(exc.orig).lower() or time.monotonic() > deadline:
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


def open_replica(path: Path) -> Engine:
    """The replica's engine with migrations applied, or a ReplicaError that says what is wrong."""
    try:
        engine = create_replica_engine(path)
    except OSError as exc:
        raise ReplicaError(
            f"cannot create the local database {path}: {exc.strerror or exc}; "
            "check the folder's permissions and free disk space"
        ) from None
    try:
        upgrade(engine)
    except NewerSchema as exc:
        engine.dispose()
        raise ReplicaError(
            f"the local database {path} was made by a newer inboop (schema {exc}); "
            "upgrade inboop, or move the file aside and run `inboop sync` to rebuild it"
        ) from None
    except (DBAPIError, sqlite3.Error) as exc:
        engine.dispose()
        log.info("cannot open the replica %s", path, exc_info=True)
        raise explain(exc, path) from exc
    return engine
