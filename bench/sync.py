"""First sync, incremental sync and the relay's ``/v1/events`` serving, at one size.

The relay's log is filled without HTTP (the deliveries normalised and appended as the relay's
writer does, in batches), then served by the real relay process; ``inboop sync`` runs as a user
runs it, into an empty replica, and its peak memory is the child's own. Then the relay, holding
that history, takes deliveries from wrk as the ingest benchmark sends them (``bench.ingest.into``).

Baseline: raw ``sqlite3`` ``executemany`` of the same final rows (the log copy, messages,
conversations, contacts and both search indexes, as the sync left them) into the same schema,
one transaction per GROUP_PAGES pages, as the sync commits when it catches up.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from itertools import groupby
from pathlib import Path
from typing import Any

import httpx

from bench import ingest
from bench.common import process_peak_rss_mib, run_child
from bench.data import Traffic
from inboop_tui.store import search_index
from inboop_tui.store.config import load_config
from inboop_tui.store.db import checkpoint, open_replica
from inboop_tui.store.paths import resolve_paths
from inboop_tui.sync.engine import BATCH, GROUP_PAGES, sync
from relay.channels import normalise_delivery
from relay.log import Delivery, append_deliveries, new_delivery_id, now_text
from relay.signing import sign
from relay.store.dialect import create_engines
from relay.store.migrate import upgrade_to_head
from tests.harness import APP_SECRET, RelayProcess

# Seconds of each load of ingest into the filled relay (``--quick`` shortens it).
INGEST_SECONDS = 6

# What the sync's replica holds, in the order the baseline writes it (then the messages'
# search index, whose parts are made as the sync made them).
TABLES = (
    "log_events",
    "contacts",
    "conversations",
    "messages",
    "conversations_fts",
)


def long_conversation(messages: int) -> int:
    """How many messages go to the one long conversation: 10k, or a tenth of small runs."""
    return min(10_000, messages // 10)


def fill_relay(home: Path, traffic: Traffic) -> int:
    """The relay's database with ``traffic`` appended; its head."""
    home.mkdir(parents=True, exist_ok=True)
    engines = create_engines(f"sqlite:///{home / 'relay.db'}")
    try:
        upgrade_to_head(engines.writer)
        batch: list[Delivery] = []
        for body in traffic.deliveries():
            batch.append(Delivery(new_delivery_id(), now_text(), body, normalise_delivery(body)))
            if len(batch) == 500:
                with engines.writer.begin() as conn:
                    append_deliveries(conn, batch)
                batch = []
        if batch:
            with engines.writer.begin() as conn:
                append_deliveries(conn, batch)
        with engines.reader.connect() as conn:
            return int(conn.exec_driver_sql("SELECT last_seq FROM log_head").scalar_one())
    finally:
        engines.dispose()


def inboop(home: Path, *args: str) -> tuple[float, float, str]:
    env = {**os.environ, "INBOOP_HOME": str(home)}
    return run_child([sys.executable, "-m", "inboop_tui", *args], env)


def serving(relay: RelayProcess, token: str, head: int) -> float:
    """Entries per second read from ``/v1/events`` alone, page by page, as the sync asks."""
    start = time.perf_counter()
    after = 0
    with httpx.Client(base_url=relay.url, headers={"Authorization": f"Bearer {token}"}) as client:
        while after < head:
            page = client.get("/v1/events", params={"after": after, "limit": BATCH}).json()
            after = page["events"][-1]["seq"]
    return head / (time.perf_counter() - start)


def raw_baseline(replica: Path, folder: Path) -> float:
    """Seconds to write the replica's final rows into an empty replica of the same schema."""
    target = folder / "baseline.db"
    open_replica(target).dispose()  # the same schema and indexes
    source = sqlite3.connect(replica)
    columns = {
        table: ["rowid", *(c[1] for c in source.execute(f"PRAGMA table_info({table})"))]
        for table in TABLES
    }
    rows = {
        table: source.execute(f"SELECT {', '.join(columns[table])} FROM {table}").fetchall()
        for table in TABLES
    }
    # The messages' search index, in its parts (store.search_index), as one list by key.
    parts = source.execute(*search_index.PARTS_QUERY).fetchall()
    searchable = sorted(
        row for name, _ in parts for row in source.execute(f"SELECT rowid, text FROM {name}")
    )
    source.close()
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    for _, sql in parts:
        conn.execute(sql)
    transactions = max(1, len(rows["log_events"]) // (BATCH * GROUP_PAGES))
    for number in range(transactions):
        conn.execute("BEGIN")
        for table, table_rows in rows.items():
            names = ", ".join(columns[table])
            marks = ", ".join("?" * len(columns[table]))
            piece = _slice(table_rows, number, transactions)
            if piece:
                conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", piece)
        in_order = _slice(searchable, number, transactions)
        for part, part_rows in groupby(in_order, lambda row: search_index.part_of(row[0])):
            conn.executemany(
                f"INSERT INTO {search_index.part_table(part)} (rowid, text) VALUES (?, ?)",
                list(part_rows),
            )
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def _slice(rows: list[Any], number: int, count: int) -> list[Any]:
    size = -(-len(rows) // count)
    return rows[number * size : (number + 1) * size]


def in_process_sync(home: Path, relay: RelayProcess, traffic: Traffic) -> tuple[float, float]:
    """Seconds of one sync of ``traffic`` (delivered first), inside a running process (the
    app's live sync), without the CLI's start-up; and of the checkpoint the app runs after it,
    once the new messages are on their way to the screen."""
    paths = resolve_paths({"INBOOP_HOME": str(home)})
    engine = open_replica(paths.database)
    try:
        deliver(relay, traffic)
        start = time.perf_counter()
        outcome = sync(engine, load_config(paths))
        seconds = time.perf_counter() - start
        if not outcome.ok or outcome.pulled < traffic.messages:
            raise SystemExit(f"incremental sync: {outcome}")
        start = time.perf_counter()
        checkpoint(engine)
        return seconds, time.perf_counter() - start
    finally:
        engine.dispose()


def deliver(relay: RelayProcess, traffic: Traffic) -> None:
    with httpx.Client() as client:
        for body in traffic.deliveries():
            client.post(
                f"{relay.url}/webhooks/meta",
                content=body,
                headers={"X-Hub-Signature-256": sign(APP_SECRET, body)},
            ).raise_for_status()


def run(messages: int, agent: Path) -> dict[str, Any]:
    """The figures at ``messages``; the synced agent's home is left at ``agent`` (for the app
    and export benchmarks)."""
    traffic = Traffic(messages, max(1, messages // 10), hot=long_conversation(messages))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        head = fill_relay(folder / "relay", traffic)
        relay = RelayProcess(folder / "relay").start()
        try:
            token = relay.add_user("bench", admin=True)
            serve_rate = serving(relay, token, head)
            home = agent
            inboop(home, "login", relay.url, "--token", token)
            seconds, sync_rss, _ = inboop(home, "sync")
            replica = home / "replica.db"
            customers = max(1, messages // 10)
            deliver(relay, Traffic(1_000, customers, seed=8, prefix="cli"))
            incremental_cli, _, _ = inboop(home, "sync")
            incremental, checkpointed = in_process_sync(
                home, relay, Traffic(1_000, customers, seed=9, prefix="in")
            )
            relay_rss = process_peak_rss_mib(relay.proc.pid) if relay.proc else float("nan")
            held_ingest = ingest.into(relay, folder, INGEST_SECONDS)
        finally:
            relay.stop()
        raw = raw_baseline(replica, folder)
    return {
        "messages": messages,
        "entries": head,
        "serving_per_s": serve_rate,
        "first_sync_s": seconds,
        "first_sync_per_s": head / seconds,
        "raw_per_s": head / raw,
        "ratio": raw / seconds,
        "sync_peak_rss_mib": sync_rss,
        "relay_peak_rss_mib": relay_rss,
        "incremental_1k_s": incremental,
        "incremental_1k_cli_s": incremental_cli,
        "incremental_1k_checkpoint_s": checkpointed,
        **held_ingest,
    }
