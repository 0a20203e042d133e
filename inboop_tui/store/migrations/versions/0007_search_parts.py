"""The messages' search index in parts of 131,072 messages by key (``store.search_index``): a
search's first screen builds the matches of the newest part first, not of every message.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from alembic import op

from inboop_tui.store import search_index

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    tokenize = search_index.tokenizer(conn)
    top = conn.exec_driver_sql("SELECT max(rowid) FROM messages_fts").scalar()
    for part in range(search_index.part_of(top) + 1 if top is not None else 0):
        keys = (part << search_index.PART_BITS, (part + 1) << search_index.PART_BITS)
        where = "FROM messages_fts WHERE rowid >= ? AND rowid < ?"
        if conn.exec_driver_sql(f"SELECT 1 {where} LIMIT 1", keys).first():
            search_index.make_part(conn, part, tokenize)
            conn.exec_driver_sql(
                f"INSERT INTO {search_index.part_table(part)} (rowid, text) "
                f"SELECT rowid, text {where}",
                keys,
            )
    op.execute("DROP TABLE messages_fts")


def downgrade() -> None:
    conn = op.get_bind()
    tokenize = search_index.tokenizer(conn)
    conn.exec_driver_sql(f"CREATE VIRTUAL TABLE messages_fts USING fts5(text, tokenize={tokenize})")
    for part in search_index.parts(conn):
        conn.exec_driver_sql(
            "INSERT INTO messages_fts (rowid, text) "
            f"SELECT rowid, text FROM {search_index.part_table(part)}"
        )
    search_index.drop_all(conn)
