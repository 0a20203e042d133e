"""Alembic environment: migrations run on a connection the relay hands over (see migrate.py)."""

from alembic import context

from relay.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through relay.store.migrate, which passes a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
