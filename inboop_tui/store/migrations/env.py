"""Alembic environment for the replica: run through inboop_tui.store.db, which passes a connection."""

from alembic import context

from inboop_tui.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through inboop_tui.store.db, which passes a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
