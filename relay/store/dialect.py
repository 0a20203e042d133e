"""Everything that depends on the database dialect: URLs, engines and connection settings.

SQLite: WAL, ``synchronous=FULL`` (a 200 to Meta is a promise), a busy timeout, and writes that
take the write lock when they begin (``BEGIN IMMEDIATE``) so two writers never deadlock on a
lock upgrade. The writer engine has a single connection: the relay keeps one writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool


class DatabaseURLError(ValueError):
    pass


def async_url(url: str) -> str:
    """The async driver's URL for a URL a person would write."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
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
    writer: AsyncEngine
    reader: AsyncEngine

    async def dispose(self) -> None:
        await self.writer.dispose()
        await self.reader.dispose()


def create_engines(url: str) -> Engines:
    full = async_url(url)
    path = sqlite_path(full)
    if path is None:
        if make_url(full).get_backend_name() == "sqlite":
            raise DatabaseURLError("the relay needs a SQLite file, not an in-memory database")
        writer = create_async_engine(full, pool_pre_ping=True)
        reader = create_async_engine(full, pool_pre_ping=True)
        return Engines(writer, reader)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = create_async_engine(
        full,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": 30},
    )
    reader = create_async_engine(full, connect_args={"timeout": 30})
    _sqlite_pragmas(writer, synchronous="FULL", immediate=True)
    _sqlite_pragmas(reader, synchronous="NORMAL", immediate=False)
    return Engines(writer, reader)


def _sqlite_pragmas(engine: AsyncEngine, *, synchronous: str, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event below decide when transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
