"""``migrate-store``: a stopped SQLite relay copied into PostgreSQL, table by table, and
checked (rows per table, the log head)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Table, func, insert, select, text

from relay.log import head_seq
from relay.operate import OperateError
from relay.operate.copies import serving_lock, sqlite_file
from relay.settings import RelaySettings
from relay.store.dialect import (
    create_engines,
    driver_url,
    sqlite_path,
)
from relay.store.migrate import upgrade_to_head
from relay.store.tables import events, metadata

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
    source_path = sqlite_file(settings, "migrate-store")
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
