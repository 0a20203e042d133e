"""Operating a relay: ``check`` (is everything in place?), ``backup`` and ``restore``.

Each finding is one line in plain words. ``check`` changes nothing: it does not create the
database, run migrations or make folders. A backup is a consistent copy taken while the relay
runs (SQLite's online backup API); a restore refuses while a relay serves the database, keeps
the database it replaces, and migrates the copy to this version.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from relay.log import head_seq
from relay.settings import RelaySettings, SettingsError, id_map, token_map
from relay.store.dialect import (
    DatabaseURLError,
    create_engines,
    driver_url,
    first_line,
    sqlite_path,
)
from relay.store.migrate import DatabaseTooNew, migration_state, upgrade_to_head
from relay.store.tables import events, metadata


class OperateError(Exception):
    """The operation cannot be done; the message says why and what to do, in one line."""


# --- check -----------------------------------------------------------------------------------


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)  # (ok | note | FAIL, text)

    def ok(self, said: str) -> None:
        self.lines.append(("ok", said))

    def note(self, said: str) -> None:
        self.lines.append(("note", said))

    def fail(self, said: str) -> None:
        self.lines.append(("FAIL", said))

    @property
    def failures(self) -> int:
        return sum(1 for kind, _ in self.lines if kind == "FAIL")


def check(settings: RelaySettings) -> Report:
    report = Report()
    _check_secrets(settings, report)
    _check_sending(settings, report)
    _check_limits(settings, report)
    _check_home(settings.relay_home, report)
    _check_database(settings, report)
    return report


def _check_secrets(settings: RelaySettings, report: Report) -> None:
    try:
        settings.require_secrets()
    except SettingsError as exc:
        report.fail(str(exc))
        return
    count = len(settings.app_secrets())
    apps = "1 Meta app" if count == 1 else f"{count} Meta apps"
    report.ok(f"secrets: the app secret ({apps}) and the webhook verify token are set")


def _check_sending(settings: RelaySettings, report: Report) -> None:
    url = urlsplit(settings.graph_api_url)
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    if (url.scheme != "https" and not (url.scheme == "http" and loopback)) or not url.hostname:
        report.fail(
            f"INBOOP_GRAPH_API_URL is {settings.graph_api_url!r}: it must be an https:// URL "
            "such as https://graph.facebook.com/v23.0"
        )
    else:
        report.ok(f"Graph API: {settings.graph_api_url}")
    counts = []
    for name, value, what in (
        ("INBOOP_PAGE_TOKENS", settings.page_tokens, "Facebook Page"),
        ("INBOOP_INSTAGRAM_TOKENS", settings.instagram_tokens, "Instagram account"),
        ("INBOOP_WHATSAPP_TOKENS", settings.whatsapp_tokens, "WhatsApp number"),
    ):
        try:
            found = token_map(value, name)
        except SettingsError as exc:
            report.fail(str(exc))
            continue
        counts.append(f"{len(found)} {what}{'' if len(found) == 1 else 's'}")
    try:
        id_map(settings.whatsapp_business_accounts, "INBOOP_WHATSAPP_BUSINESS_ACCOUNTS")
    except SettingsError as exc:
        report.fail(str(exc))
    if counts:
        report.ok(f"sending from {', '.join(counts)}; other accounts are receive only")


def _check_limits(settings: RelaySettings, report: Report) -> None:
    bad = [
        name
        for name, value in (
            ("INBOOP_RELAY_MAX_BODY_BYTES", settings.relay_max_body_bytes),
            ("INBOOP_RELAY_MAX_API_BODY_BYTES", settings.relay_max_api_body_bytes),
            ("INBOOP_RELAY_MAX_UPLOAD_BYTES", settings.relay_max_upload_bytes),
            ("INBOOP_MEDIA_MAX_BYTES", settings.media_max_bytes),
            ("INBOOP_RELAY_BUSY_TIMEOUT_SECONDS", settings.relay_busy_timeout_seconds),
            ("INBOOP_OUTBOUND_MAX_ATTEMPTS", settings.outbound_max_attempts),
        )
        if value <= 0
    ] + [
        name
        for name, value in (
            ("INBOOP_RELAY_RATE_LIMIT_WEBHOOKS", settings.relay_rate_limit_webhooks),
            ("INBOOP_RELAY_RATE_LIMIT_API", settings.relay_rate_limit_api),
            ("INBOOP_MEDIA_RETENTION_DAYS", settings.media_retention_days),
        )
        if value < 0
    ]
    if bad:
        report.fail(f"{', '.join(bad)}: must be more than 0 (rates and retention: 0 or more)")
    if settings.relay_log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        report.fail(
            f"INBOOP_RELAY_LOG_LEVEL is {settings.relay_log_level!r}: "
            "use DEBUG, INFO, WARNING or ERROR"
        )


def _check_home(home: Path, report: Report) -> None:
    if not home.exists():
        parent = next((p for p in home.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            report.note(f"data dir {home} does not exist yet: the relay creates it (owner-only)")
        else:
            report.fail(f"data dir {home} does not exist and cannot be created here")
        return
    if not home.is_dir():
        report.fail(f"data dir {home} is not a folder")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=home, prefix=".check-"):
            pass
    except OSError as exc:
        report.fail(
            f"data dir {home} is not writable ({exc.strerror}): the relay keeps its files "
            "there; give its user write access (systemd: ReadWritePaths)"
        )
        return
    if home.stat().st_mode & 0o077:
        report.note(f"data dir {home} can be read by other users: `chmod 700 {home}`")
    else:
        report.ok(f"data dir {home}: writable, owner-only")


def _check_database(settings: RelaySettings, report: Report) -> None:
    try:
        url = driver_url(settings.database_url)
    except DatabaseURLError as exc:
        report.fail(str(exc))
        return
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        report.note(f"database {shown}: none yet; `inboop-relay serve` creates it")
        return
    try:
        engines = create_engines(url, busy_seconds=2.0, must_exist=True)
    except DatabaseURLError as exc:
        report.fail(str(exc))
        return
    try:
        with engines.reader.connect() as conn:
            conn.execute(text("SELECT 1"))
            state = migration_state(conn)
    except DatabaseTooNew as exc:
        report.fail(str(exc))
        return
    except DBAPIError as exc:
        report.fail(f"database {shown} cannot be reached: {first_line(exc)}")
        return
    finally:
        engines.dispose()
    if state.is_current:
        report.ok(f"database {shown}: reachable, migrations current ({state.head})")
    else:
        report.note(
            f"database {shown}: reachable; {state.pending} migration(s) run on the next start"
        )


# --- backup and restore ----------------------------------------------------------------------


@dataclass(frozen=True)
class Copied:
    path: Path
    size: int
    head: int


def _sqlite_file(settings: RelaySettings, what: str) -> Path:
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
    source = _sqlite_file(settings, "backup")
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
    target = _sqlite_file(settings, "restore")
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
    lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


# --- moving to PostgreSQL --------------------------------------------------------------------

CHUNK = 2000


@dataclass(frozen=True)
class Moved:
    rows: dict[str, int]  # per table
    head: int


def migrate_store(settings: RelaySettings, target_url: str) -> Moved:
    """Copy a stopped SQLite relay into another database (PostgreSQL), table by table, then
    check that every table has as many rows and the log the same head.

    Run again, it copies everything again over what it copied before; it refuses a target
    whose log is not a copy of this one's (a relay has been writing there since)."""
    source_path = _sqlite_file(settings, "migrate-store")
    if not source_path.exists():
        raise OperateError(f"there is no relay database at {source_path} to copy")
    target_full = driver_url(target_url)
    if sqlite_path(target_full) == source_path:
        raise OperateError("--to names the relay's own database: give the new database's URL")
    with serving_lock(source_path, wait=False) as held:
        if not held:
            raise OperateError(
                f"a relay is serving {source_path}: stop it first, so nothing arrives "
                "during the copy"
            )
        source = create_engines(driver_url(settings.database_url), must_exist=True)
        target = create_engines(target_full)
        try:
            upgrade_to_head(source.writer)
            upgrade_to_head(target.writer)
            with source.reader.connect() as src, target.writer.begin() as dst:
                _refuse_a_used_target(src, dst)
                tables = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
                for table in reversed(tables):
                    dst.execute(table.delete())
                copied = {table.name: _copy(src, dst, table) for table in tables}
                _reset_counters(dst, tables)
                counts = {
                    t.name: dst.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in tables
                }
                if counts != copied:
                    raise OperateError(f"the copy does not add up: {counts} against {copied}")
                head = head_seq(src)
                if head_seq(dst) != head:
                    raise OperateError("the copy's log head differs from the original's")
        finally:
            source.dispose()
            target.dispose()
    return Moved(copied, head)


def _refuse_a_used_target(src: Connection, dst: Connection) -> None:
    theirs = head_seq(dst)
    if theirs == 0:
        return
    mine = src.execute(select(events.c.dedup_key).where(events.c.seq == theirs)).scalar()
    at = dst.execute(select(events.c.dedup_key).where(events.c.seq == theirs)).scalar()
    if theirs > head_seq(src) or mine != at:
        raise OperateError(
            "the target database already has a log that is not a copy of this one "
            "(a relay has written there): give an empty database"
        )


def _copy(src: Connection, dst: Connection, table: Table) -> int:
    count = 0
    result = src.execution_options(yield_per=CHUNK).execute(select(table))
    for part in result.mappings().partitions(CHUNK):
        dst.execute(insert(table), [dict(row) for row in part])
        count += len(part)
    return count


def _reset_counters(dst: Connection, tables: list[Table]) -> None:
    """PostgreSQL's sequences behind autoincrement keys continue after the copied rows."""
    if dst.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True:
                dst.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                    )
                )
