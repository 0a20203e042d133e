"""``backup`` and ``restore``: a consistent copy taken while the relay runs (SQLite's online
backup API), and a restore that refuses while a relay serves the database, copies before it
moves anything, keeps the database it replaces and migrates the copy to this version."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from relay.operate import OperateError
from relay.settings import RelaySettings
from relay.store.dialect import (
    create_engines,
    driver_url,
    sqlite_path,
)
from relay.store.migrate import DatabaseTooNew, migration_state, upgrade_to_head


@dataclass(frozen=True)
class Copied:
    path: Path
    size: int
    head: int


def sqlite_file(settings: RelaySettings, what: str) -> Path:
    url = driver_url(settings.database_url)
    path = sqlite_path(url)
    if path is None:
        raise OperateError(
            f"{what} copies a SQLite relay; for PostgreSQL use its own tools: "
            "`pg_dump --format=custom --file relay.dump DATABASE_URL` and `pg_restore`"
        )
    return path


def backup(settings: RelaySettings, out: Path, *, folder: bool = False) -> Copied:
    """A consistent copy of the relay's database, taken while it runs; into ``out`` when it
    is a folder (``folder``: even one not made yet)."""
    source = sqlite_file(settings, "backup")
    if not source.exists():
        raise OperateError(f"there is no relay database at {source} to back up")
    target = out.expanduser()
    if folder or target.is_dir():  # a new file in it
        now = datetime.now(UTC)
        target = target / f"relay-{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z.db"
    if target.resolve() == source.resolve():
        raise OperateError("--out is the relay's own database: choose another file")
    if target.exists():
        raise OperateError(f"{target} exists: a backup never overwrites another file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_CREAT | os.O_WRONLY, 0o600))
        with _sqlite(source) as src, _sqlite(partial) as dst:
            src.backup(dst)  # one read transaction: a snapshot, whatever is being written
            head = _verified(dst, partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise OperateError(f"the backup failed: {exc}") from None
    except OSError as exc:
        raise OperateError(f"cannot write {target}: {exc.strerror}") from None
    return Copied(target, target.stat().st_size, head)


def restore(settings: RelaySettings, backup_file: Path) -> tuple[Copied, int | None, Path | None]:
    """Put a backup in place of the relay's database (the relay must be stopped). The copy,
    the head of the log it replaced (None: there was none) and where that database was kept."""
    target = sqlite_file(settings, "restore")
    source = backup_file.expanduser()
    if not source.is_file():
        raise OperateError(f"there is no backup at {source}")
    try:
        with _sqlite(source) as conn:
            head = _verified(conn, source)
    except sqlite3.Error as exc:
        raise OperateError(f"{source} is not a relay backup: {exc}") from None
    _not_newer(source)
    with serving_lock(target, wait=False) as held:
        if not held:
            raise OperateError(
                f"a relay is serving {target}: stop it first (systemctl stop inboop-relay), "
                "then restore"
            )
        # The copy is made and synced beside the database before anything is moved: a full
        # disk or a failed copy leaves the relay's database as it was.
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = target.with_name(target.name + ".restoring")
        try:
            with open(source, "rb") as src, _owner_only(partial) as dst:
                shutil.copyfileobj(src, dst)
                dst.flush()
                os.fsync(dst.fileno())
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise OperateError(f"cannot copy the backup next to {target}: {exc.strerror}") from None
        previous_head, kept = None, None
        if target.exists():
            try:
                with _sqlite(target) as conn:
                    previous_head = _head(conn)
            except sqlite3.Error:
                previous_head = None
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            kept = target.with_name(f"{target.name}.before-restore-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                old = Path(str(target) + suffix)
                if old.exists():
                    os.replace(old, Path(str(kept) + suffix))
        os.replace(partial, target)
        engines = create_engines(driver_url(settings.database_url), must_exist=True)
        try:
            upgrade_to_head(engines.writer)
        finally:
            engines.dispose()
    return Copied(target, target.stat().st_size, head), previous_head, kept


def _not_newer(path: Path) -> None:
    """A backup this version can run: not one a newer relay migrated."""
    engines = create_engines(f"sqlite:///{path}", must_exist=True)
    try:
        with engines.reader.connect() as conn:
            migration_state(conn)
    except DatabaseTooNew as exc:
        raise OperateError(f"{path}: {exc}") from None
    finally:
        engines.dispose()


def _verified(conn: sqlite3.Connection, path: Path) -> int:
    """The log head of a relay database that passes SQLite's integrity check."""
    found = conn.execute("PRAGMA integrity_check").fetchone()
    if not found or found[0] != "ok":
        raise OperateError(f"{path} is damaged: SQLite's integrity check says {found[0]!r}")
    try:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        head = _head(conn)
    except sqlite3.Error:
        raise OperateError(f"{path} is not a relay database (no event log in it)") from None
    if revision is None:
        raise OperateError(f"{path} is not a relay database (never migrated)")
    return head


def _head(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT last_seq FROM log_head WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def _owner_only(path: Path) -> Iterator[IO[bytes]]:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        yield handle


@contextmanager
def serving_lock(database: Path, *, wait: bool) -> Iterator[bool]:
    """The lock a serving relay holds on its SQLite file (``relay.db.lock`` beside it): a
    second relay on the same file, or a restore under a running relay, is refused."""
    lock = database.with_name(database.name + ".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        raise OperateError(
            f"cannot create {lock} ({exc.strerror}): give the relay's user write access to "
            f"{lock.parent} (systemd: ReadWritePaths)"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
