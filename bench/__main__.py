"""Benchmarks, each reported as a ratio to a baseline measured in the same run.

    python -m bench [--events 20000] [--conversations 100000] [--deliveries 2000]

- sync apply: events applied per second by the replica (log copy, reducers, projections, FTS),
  over raw ``sqlite3`` ``executemany`` inserts of the same events into one plain table.
- inbox window: a 100-row inbox window (first page and deep page) from the real query, over the
  same page read with a plain indexed ``SELECT`` in raw ``sqlite3``.
- relay ingest: signed deliveries per second through the real relay process on loopback
  (32 concurrent clients, group commit), over the same clients calling the relay's
  ``/healthz`` (the HTTP floor, no database), and over raw ``sqlite3`` with one
  ``synchronous=FULL`` transaction per delivery storing the same body.
- export: messages exported to CSV per second, over raw ``sqlite3`` + ``csv.writer`` of the
  same rows; and the export's peak traced memory at 4x the rows over 1x (flat is ~1).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from inboop_tui.store.apply import apply_entries
from inboop_tui.store.db import open_replica, writing
from inboop_tui.store.queries import InboxFilter, conversation_window, count_conversations
from relay import simulator as mp
from relay.channels import normalise_delivery
from relay.signing import sign
from tests.harness import log_entries


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def best_of(runs: int, work: Callable[[], object]) -> float:
    return min(timed(work) for _ in range(runs))


def entries_for(count: int, conversations: int) -> list[dict]:
    items = [
        mp.text_message(
            mp.PAGE_ID,
            f"P{i % conversations}",
            f"m_{i}",
            f"hello, price of item {i}?",
            ts=mp.T0_MS + i * 10,
        )
        for i in range(count)
    ]
    events = []
    for start in range(0, count, 500):
        events.extend(normalise_delivery(mp.body(mp.messenger(*items[start : start + 500]))).events)
    return log_entries(events)


def apply_all(db: Path, entries: list[dict], batch: int = 500) -> None:
    engine = open_replica(db)
    try:
        for start in range(0, len(entries), batch):
            chunk = entries[start : start + batch]
            with writing(engine) as conn:
                apply_entries(conn, chunk, cursor=chunk[-1]["seq"], relay_head=len(entries))
    finally:
        engine.dispose()


def raw_inserts(db: Path, entries: list[dict], batch: int = 500) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT, recorded_at TEXT, payload TEXT)"
    )
    for start in range(0, len(entries), batch):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?)",
            [
                (e["seq"], e["type"], e["recorded_at"], json.dumps(e["event"]))
                for e in entries[start : start + batch]
            ],
        )
        conn.execute("COMMIT")
    conn.close()


def bench_sync_apply(count: int) -> dict[str, float]:
    entries = entries_for(count, max(1, count // 10))
    with tempfile.TemporaryDirectory() as tmp:
        ours = timed(lambda: apply_all(Path(tmp) / "replica.db", entries))
        raw = timed(lambda: raw_inserts(Path(tmp) / "raw.db", entries))
    return {
        "events": count,
        "ours_per_s": count / ours,
        "raw_per_s": count / raw,
        "ratio": raw / ours,
    }


def bench_inbox_window(conversations: int) -> dict[str, float]:
    entries = entries_for(conversations, conversations)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "replica.db"
        apply_all(db, entries, batch=1000)
        engine = open_replica(db)
        raw = sqlite3.connect(db)
        deep = max(0, conversations - 200)
        try:
            with engine.connect() as conn:
                assert count_conversations(conn, InboxFilter()) == conversations
                ours_first = best_of(20, lambda: conversation_window(conn, InboxFilter(), 0, 100))
                ours_deep = best_of(20, lambda: conversation_window(conn, InboxFilter(), deep, 100))
            sql = "SELECT id, preview, last_message_at FROM conversations WHERE last_message_key IS NOT NULL ORDER BY last_message_key DESC LIMIT 100 OFFSET ?"
            raw_first = best_of(20, lambda: raw.execute(sql, (0,)).fetchall())
            raw_deep = best_of(20, lambda: raw.execute(sql, (deep,)).fetchall())
        finally:
            raw.close()
            engine.dispose()
    return {
        "conversations": conversations,
        "ours_first_ms": ours_first * 1000,
        "ours_deep_ms": ours_deep * 1000,
        "raw_first_ms": raw_first * 1000,
        "raw_deep_ms": raw_deep * 1000,
        "ratio_first": ours_first / raw_first,
        "ratio_deep": ours_deep / raw_deep,
    }


def bench_relay_ingest(deliveries: int) -> dict[str, float]:
    from tests.harness import APP_SECRET, RelayProcess

    bodies = [
        mp.body(
            mp.messenger(
                mp.text_message(
                    mp.PAGE_ID, f"P{i % 50}", f"m_ingest_{i}", f"hi {i}", ts=mp.T0_MS + i
                )
            )
        )
        for i in range(deliveries)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        relay = RelayProcess(Path(tmp) / "relay", INBOOP_RELAY_LOG_LEVEL="WARNING").start()
        try:
            with (
                httpx.Client(timeout=30, limits=httpx.Limits(max_connections=32)) as client,
                ThreadPoolExecutor(max_workers=32) as pool,
            ):
                latencies: list[float] = []

                def deliver(body: bytes) -> int:
                    start = time.perf_counter()
                    status = client.post(
                        f"{relay.url}/webhooks/meta",
                        content=body,
                        headers={"X-Hub-Signature-256": sign(APP_SECRET, body)},
                    ).status_code
                    latencies.append(time.perf_counter() - start)
                    return status

                def health(_: bytes) -> int:
                    return client.get(f"{relay.url}/healthz").status_code

                floor = timed(lambda: list(pool.map(health, bodies)))
                start = time.perf_counter()
                statuses = list(pool.map(deliver, bodies))
                ours = time.perf_counter() - start
            assert statuses == [200] * deliveries
        finally:
            relay.stop()
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE deliveries (id INTEGER PRIMARY KEY, body BLOB)")
        start = time.perf_counter()
        for body in bodies:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO deliveries (body) VALUES (?)", (body,))
            conn.execute("COMMIT")
        raw = time.perf_counter() - start
        conn.close()
    latencies.sort()
    return {
        "deliveries": deliveries,
        "ours_per_s": deliveries / ours,
        "http_floor_per_s": deliveries / floor,
        "raw_commit_per_s": deliveries / raw,
        "ratio_to_http_floor": floor / ours,
        "ratio_to_raw_commits": raw / ours,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def bench_export(messages: int) -> dict[str, float]:
    import csv
    import tracemalloc

    from inboop_tui.store.export import ExportKind, export

    def measured(work: Callable[[], object]) -> tuple[float, int]:
        """Seconds of a plain run, and the peak traced memory of a second run (tracing is slow)."""
        seconds = timed(work)
        tracemalloc.start()
        work()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return seconds, top

    with tempfile.TemporaryDirectory() as tmp:
        results: dict[int, tuple[float, int]] = {}
        for size in (messages // 4, messages):
            db = Path(tmp) / f"replica-{size}.db"
            apply_all(db, entries_for(size, max(1, size // 20)), batch=1000)
            engine = open_replica(db)
            try:
                with engine.connect() as conn:
                    results[size] = measured(
                        lambda conn=conn, size=size: export(
                            conn, ExportKind.MESSAGES, Path(tmp) / f"out-{size}.csv"
                        )
                    )
            finally:
                engine.dispose()

        def raw() -> None:
            conn = sqlite3.connect(Path(tmp) / f"replica-{messages}.db")
            with (Path(tmp) / "raw.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                for row in conn.execute(
                    "SELECT conversation_id, channel, channel_message_id, direction, sender_type, content_type,"
                    " coalesce(edit_text, original_text), attachments, reply_to, sent_at, delivery_status,"
                    " edit_key IS NOT NULL, is_deleted FROM messages WHERE has_body ORDER BY sent_at, channel_message_id"
                ):
                    writer.writerow(row)
            conn.close()

        raw_seconds = timed(raw)
    _, small_peak = results[messages // 4]
    seconds, top = results[messages]
    return {
        "messages": messages,
        "ours_rows_per_s": messages / seconds,
        "raw_rows_per_s": messages / raw_seconds,
        "ratio": raw_seconds / seconds,
        "peak_kib_quarter": small_peak / 1024,
        "peak_kib_full": top / 1024,
        "peak_growth_4x_rows": top / small_peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=2_000)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    results = {
        "sync_apply": bench_sync_apply(args.events),
        "inbox_window": bench_inbox_window(args.conversations),
        "relay_ingest": bench_relay_ingest(args.deliveries),
        "export": bench_export(args.messages),
    }
    for name, values in results.items():
        print(
            name
            + ": "
            + ", ".join(
                f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in values.items()
            )
        )


if __name__ == "__main__":
    main()
