"""Alembic migrations, run on start by the server and by every admin command.

A database migrated by a newer relay is refused (its revision is unknown here): running older
code on it could misread what the newer code wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, select

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseTooNew(Exception):
    """The database was migrated by a newer version of the relay."""


@dataclass(frozen=True)
class MigrationState:
    current: str | None  # None: a new, empty database
    head: str
    pending: int  # migrations this version would apply on start

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def migration_state(conn: Connection) -> MigrationState:
    """Where the database stands; DatabaseTooNew when a newer relay migrated it."""
    scripts = ScriptDirectory.from_config(_config())
    head = scripts.get_current_head()
    assert head is not None
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None and not _known(scripts, current):
        raise DatabaseTooNew(
            f"the database was migrated by a newer inboop-relay (revision {current}; this "
            f"version knows up to {head}): upgrade inboop-relay, or restore a backup"
        )
    pending = len(list(scripts.iterate_revisions(head, current)))
    return MigrationState(current, head, pending)


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for an unknown revision
        return False


# Relays starting together on one PostgreSQL database migrate it one at a time.
MIGRATION_LOCK = 7_462_025


def upgrade_to_head(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        migration_state(conn)
        command.upgrade(_config(conn), "head")
