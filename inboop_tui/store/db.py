"""The replica's SQLite database: engine, connection settings, migrations, clear errors.

WAL (readers never wait for the sync writer), foreign keys on, a busy timeout, and
``synchronous=NORMAL`` (the relay keeps the durable copy; a replica can always re-pull).
Writes begin with ``BEGIN IMMEDIATE`` so two writers queue instead of deadlocking.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 5000


class ReplicaError(Exception):
    """The local database cannot be used; the message says why and what to do."""


def explain(exc: BaseException, path: Path) -> ReplicaError:
    text = str(getattr(exc, "orig", exc)).lower()
    if "locked" in text or "busy" in text:
        return ReplicaError(
            f"the local database {path} is locked by another program (another inboop?); close it and try again"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return ReplicaError(
            f"the local database {path} is damaged; move it aside and run `inboop sync` to rebuild it from the relay"
        )
    if "readonly" in text or "unable to open" in text or "permission" in text:
        return ReplicaError(
            f"cannot write the local database {path}: check its permissions and free disk space"
        )
    return ReplicaError(f"local database error ({path}): {getattr(exc, 'orig', exc)}")


def create_replica_engine(path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

    return engine


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


def upgrade(engine: Engine) -> None:
    with writing(engine) as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def open_replica(path: Path) -> Engine:
    """The replica's engine with migrations applied, or a ReplicaError that says what is wrong."""
    engine = create_replica_engine(path)
    try:
        upgrade(engine)
    except (DBAPIError, sqlite3.Error) as exc:
        engine.dispose()
        raise explain(exc, path) from exc
    return engine
