"""The replica's file, opened without SQLAlchemy: the app's first screen is read before it
loads (~0.12 s of a start; ``first_screen``).

Opening holds the file's in-use lock, makes sure its schema is the newest (migrating through
an engine only when it is not: a replica already there, nearly every start, is only read), and
gives the driver's connections for the first reads. The engine is made when first asked for;
from then on its connections serve those reads too. Errors come back as one line that says
what to do (:class:`ReplicaError`).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from inboop_tui.store import search_index
from inboop_tui.store.paths import private_file, tighten

if TYPE_CHECKING:
    from sqlalchemy import Engine

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
# sync instead (:func:`db.checkpoint`), once the new messages are on their way to the screen; a
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


def search_index_damaged(path: Path, found: str | None = None) -> ReplicaError:
    said = f" ({found})" if found else ""
    return ReplicaError(
        f"the search index of {path} is damaged{said}; run `inboop doctor --rebuild` to make "
        "it again from the messages (nothing is lost)"
    )


def in_use_path(database: Path) -> Path:
    return database.with_name(database.name + ".in-use")


def _hold_in_use(path: Path, wait_seconds: float = 10.0) -> int | None:
    """A shared lock on the replica's in-use file, held as long as it is open (its file, or an
    engine on it), so that `doctor --recover` never moves a replica another process is writing
    to. While a recovery holds it alone, opening waits for it to end."""
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
    """Hold the replica alone: refused while it is open anywhere else (a :class:`ReplicaFile`
    or an engine), in this process or another (the app, a command still running)."""
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


def configure(db: sqlite3.Connection) -> None:
    """A connection's settings, whoever opens it (the engine's pool, or :class:`ReplicaFile`)."""
    db.isolation_level = None
    cursor = db.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: the others may wait
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    cursor.close()


def current_revision(db: sqlite3.Connection) -> str | None:
    """The replica's schema revision (None: a new, empty database)."""
    if db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone():
        found = db.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if found is None else str(found[0])
    return None


def newer_schema(path: Path, revision: str) -> ReplicaError:
    return ReplicaError(
        f"the local database {path} was made by a newer inboop (schema {revision}); "
        "upgrade inboop, or move the file aside and run `inboop sync` to rebuild it"
    )


class ReplicaFile:
    """The replica's file, held open: the driver's connections for reads (its own until the
    engine is made, the engine's after), and the engine, made on first use."""

    def __init__(self, path: Path, in_use: int | None = None, engine: Engine | None = None) -> None:
        self.path = path
        self._in_use = in_use  # the in-use lock's file, closed when the file is let go
        self._engine = engine
        self._owns_engine = engine is None
        self._making = threading.Lock()  # one engine, made by the first to ask
        self._pool = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    @classmethod
    def around(cls, engine: Engine) -> ReplicaFile:
        """The file of an engine made elsewhere (a command's, a test's), which keeps it."""
        return cls(Path(engine.url.database or ""), engine=engine)

    @property
    def engine(self) -> Engine:
        """SQLAlchemy's engine on the file, made (and SQLAlchemy loaded) on first use."""
        engine = self._engine
        if engine is None or self._closed:
            with self._making:
                if self._closed:  # a worker still running as the app goes
                    raise ReplicaError(f"the local database {self.path} is closed")
                if self._engine is None:
                    from inboop_tui.store.db import engine_on

                    self._engine = engine_on(self.path, self._let_go)
                engine = self._engine
        return engine

    @property
    def has_engine(self) -> bool:
        return self._engine is not None

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection of the driver's, its reads in one snapshot of the replica."""
        with self._connection() as db:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        engine = self._engine
        if engine is not None:
            with engine.connect() as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                yield driver
            return
        with self._pool:
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            try:
                configure(db)
            except BaseException:
                db.close()
                raise
        try:
            yield db
        finally:
            # Kept until the file is closed, even once the engine serves the reads: the last
            # connection to close copies the write-ahead log back, which the app does at its
            # own times (`db.checkpoint`), not on whichever thread made the engine.
            with self._pool:
                kept = not self._closed
                if kept:
                    self._idle.append(db)  # the one used last is used next: its pages are warm
            if not kept:
                db.close()

    def close(self) -> None:
        """Close its connections and the engine it made, and let go of the file; no engine is
        made after (a worker still running as the app goes gets a ReplicaError)."""
        with self._making:
            with self._pool:
                self._closed = True
            engine = self._engine
        if engine is not None and self._owns_engine:
            engine.dispose()  # lets go of the file (`engine_on`)
        else:
            self._let_go()

    def _let_go(self) -> None:
        """Close its own connections and its in-use lock: the file is closed, or the engine it
        made is disposed (a command's, which it only opened)."""
        with self._pool:
            self._closed = True
            idle, self._idle = self._idle, []
            in_use, self._in_use = self._in_use, None
        for db in idle:
            db.close()
        if in_use is not None:
            os.close(in_use)

    def upgrade(self) -> None:
        """Migrate to the newest schema, through the engine only when it is not there yet."""
        head, known = revisions()
        current: str | None = None
        try:
            with self.reading() as db:
                current = current_revision(db)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower():
                log.info("cannot open the replica %s", self.path, exc_info=True)
                raise explain(exc, self.path) from exc
            # Another process is making it (its first migration): `db.upgrade` watches for
            # that to end.
            log.info("the replica is busy (another process migrating); looking again")
        except sqlite3.Error as exc:
            log.info("cannot open the replica %s", self.path, exc_info=True)
            raise explain(exc, self.path) from exc
        if current == head:
            return
        if current is not None and current not in known:
            raise newer_schema(self.path, current)
        from inboop_tui.store.db import migrate

        migrate(self.engine, self.path)


def hold(path: Path) -> int | None:
    """The replica's file made private to its user (made empty if it is not there) and its
    in-use lock held: the lock's file, to close when the replica is let go."""
    private_file(path)  # SQLite gives its WAL and shared-memory files the database's mode
    for suffix in ("-wal", "-shm"):
        tighten(Path(f"{path}{suffix}"))
    return _hold_in_use(path)


def open_replica_file(path: Path) -> ReplicaFile:
    """The replica's file with migrations applied, or a ReplicaError that says what is wrong."""
    try:
        in_use = hold(path)
    except OSError as exc:
        raise ReplicaError(
            f"cannot create the local database {path}: {exc.strerror or exc}; "
            "check the folder's permissions and free disk space"
        ) from None
    opened = ReplicaFile(path, in_use)
    try:
        opened.upgrade()
    except BaseException:
        opened.close()
        raise
    return opened
