"""The local replica: SQLite, projections, the outbox, search and exports."""
