"""One export, timed inside its own process: ``python -m bench.export_child ours|raw REPLICA OUT``.

``ours`` is the app's CSV export of messages; ``raw`` is plain ``sqlite3`` + ``csv.writer`` of
the same columns in the same order. Prints the seconds and the rows written."""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
import time
from pathlib import Path

RAW_SQL = (
    "SELECT m.conversation_id, m.channel, coalesce(p.name, c.customer_id), m.channel_message_id,"
    " m.direction, m.sender_type, m.content_type, coalesce(m.edit_text, m.original_text),"
    " m.attachments, m.reply_to, m.sent_at, m.delivery_status, m.edit_key IS NOT NULL,"
    " m.is_deleted FROM messages m JOIN conversations c ON c.id = m.conversation_id"
    " LEFT JOIN contacts p ON p.id = c.contact_id"
    " WHERE m.has_body ORDER BY m.sent_at, m.channel_message_id"
)


def ours(replica: Path, out: Path) -> int:
    from inboop_tui.store.db import open_replica
    from inboop_tui.store.export import ExportKind, export

    engine = open_replica(replica)
    try:
        with engine.connect() as conn:
            return export(conn, ExportKind.MESSAGES, out)
    finally:
        engine.dispose()


def raw(replica: Path, out: Path) -> int:
    conn = sqlite3.connect(replica)
    rows = 0
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        for row in conn.execute(RAW_SQL):
            writer.writerow(row)
            rows += 1
    conn.close()
    return rows


def main() -> None:
    work = ours if sys.argv[1] == "ours" else raw
    start = time.perf_counter()
    rows = work(Path(sys.argv[2]), Path(sys.argv[3]))
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))


if __name__ == "__main__":
    main()
