"""Applying log entries to the replica: keep each entry, reduce it into the projections.

One batch is one transaction (the caller's): the log rows, the projections, the outbox and the
cursor move together, so a kill mid-sync loses nothing and doubles nothing. Entries are reduced
in log order: runs of channel events in one slice (their rules are order-independent), runs of
mutations one after another (log order decides). An entry this version cannot read or reduce is
kept in the log and listed in ``unreadable_entries``; it never stops a sync.

Pending mutations of this replica sit on top of the confirmed state (``store.pending``): a batch
lifts them off, applies the new entries, drops the mutations whose own entries came back, and
puts the rest back on.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from inboop_tui.domain.mutations import Conflict, apply_mutation
from inboop_tui.domain.reducer import Slice, needs
from inboop_tui.store.pending import lift_pending, put_pending_back
from inboop_tui.store.projections import apply_channel_events, load_slice, write_slice
from inboop_tui.store.tables import (
    conflicts,
    outbox,
    sync_state,
    unreadable_entries,
)
from relay.protocol import (
    CHANNEL_EVENT_TYPES,
    DOMAIN_EVENT_TYPES,
    MUTATION_TYPES,
    Mutation,
    parse_channel_event,
    parse_mutation,
)

log = logging.getLogger("inboop.apply")

NEWS_KEPT = 20


@dataclass(frozen=True)
class News:
    """Something a person should hear about: a customer wrote, or a teammate mentioned them."""

    kind: str  # message | mention
    conversation_id: str
    text: str
    author: str | None = None  # the teammate, for a mention


@dataclass
class AppliedBatch:
    entries: int = 0
    applied: int = 0  # entries reduced into the projections
    unreadable: int = 0  # entries kept in the log that this version cannot read or reduce
    conflicts: int = 0
    confirmed: list[str] = dataclasses.field(default_factory=list)  # outbox ids that came back
    news: list[News] = dataclasses.field(default_factory=list)  # the first NEWS_KEPT
    news_count: int = 0

    def add_news(self, item: News) -> None:
        self.news_count += 1
        if len(self.news) < NEWS_KEPT:
            self.news.append(item)


def apply_entries(
    conn: Connection,
    entries: Sequence[dict[str, Any]],
    *,
    cursor: int,
    relay_head: int,
    me: str | None = None,
) -> AppliedBatch:
    """Keep the entries in the local log, reduce them, settle the outbox and move the cursor,
    in ``conn``'s transaction. Entries at or below the cursor are already here and skipped; the
    cursor never moves backwards. ``me`` (the local user) decides what counts as news."""
    with collector_paused():
        cursor_before = current_cursor(conn)
        fresh = [e for e in entries if e["seq"] > cursor_before]
        batch = AppliedBatch(entries=len(fresh))
        if fresh:
            conn.exec_driver_sql(
                "INSERT INTO log_events (seq, origin, type, recorded_at, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (e["seq"], e["origin"], e["type"], e["recorded_at"], _payload_text(e["event"]))
                    for e in fresh
                ],
            )
            lift_pending(conn)
            reduce_entries(conn, fresh, batch, me=me)
            if batch.confirmed:
                conn.execute(delete(outbox).where(outbox.c.id.in_(batch.confirmed)))
            put_pending_back(conn)
        conn.execute(
            update(sync_state)
            .where(sync_state.c.id == 1)
            .values(cursor=max(cursor, cursor_before), relay_head=relay_head)
        )
        return batch


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is applied. A batch's pages, rows and states
    live until it ends and then go by reference counting, yet a batch lived long enough for the
    collector to walk them all, over and over (~18 % of a first sync). The collector is the
    process's: other threads go without it for the batch too. Whoever turned it off keeps it
    off (the app's start, a batch already running)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def reduce_entries(
    conn: Connection,
    entries: Sequence[dict[str, Any]],
    batch: AppliedBatch,
    *,
    me: str | None = None,
) -> None:
    """Reduce log entries (seq order) into the projections: runs of channel events together,
    runs of mutations in order; what cannot be read or reduced is recorded, never raised."""
    run: list[tuple[int, Any]] = []
    run_origin: str | None = None
    for entry in entries:
        seq, origin, kind = entry["seq"], entry["origin"], entry["type"]
        try:
            if origin == "channel" and kind in CHANNEL_EVENT_TYPES:
                item: Any = parse_channel_event(entry["event"])
            elif origin == "mutation" and kind in MUTATION_TYPES:
                item = parse_mutation(entry["event"])
                batch.confirmed.append(item.id)
            elif origin == "domain" and kind in DOMAIN_EVENT_TYPES:
                # A name for what the mutation before it did (OrderCreated …), for outbound
                # webhooks later; the mutation itself already changed the projections.
                batch.applied += 1
                continue
            else:
                raise UnreadableEntry(
                    f"this version does not know {origin} entries of type {kind!r}"
                )
        except (ValueError, UnreadableEntry) as exc:
            _unreadable(conn, seq, kind, exc, batch)
            continue
        if origin != run_origin and run:
            _reduce_run(conn, run_origin, run, batch, me)
            run = []
        run_origin = origin
        run.append((seq, item))
    if run:
        _reduce_run(conn, run_origin, run, batch, me)


class UnreadableEntry(Exception):
    pass


def _unreadable(
    conn: Connection, seq: int, kind: str, exc: BaseException, batch: AppliedBatch
) -> None:
    text = str(exc).strip().splitlines()
    reason = text[0] if len(text) == 1 else " ".join(line.strip() for line in text[:4])
    conn.execute(
        sqlite_insert(unreadable_entries)
        .values(seq=seq, type=kind[:64], error=f"{type(exc).__name__}: {reason}"[:2000])
        .on_conflict_do_nothing()
    )
    batch.unreadable += 1


def _reduce_run(
    conn: Connection,
    origin: str | None,
    run: list[tuple[int, Any]],
    batch: AppliedBatch,
    me: str | None,
) -> None:
    """Reduce a run; if the reducer fails, reduce its entries one by one so that only the
    entry that fails is set aside (and listed), never the sync. The database failing is not an
    entry's fault (a full disk, a damaged file or search index): that stops the sync, which
    says what to do, and the entries are applied once it is put right."""
    reduce = _reduce_channel_run if origin == "channel" else _reduce_mutation_run
    try:
        with conn.begin_nested():
            reduce(conn, run, batch, me)
        return
    except Exception as exc:
        if not _entrys_fault(exc):
            raise
        log.exception("reducing entries %d..%d failed; retrying one by one", run[0][0], run[-1][0])
    for seq, item in run:
        try:
            with conn.begin_nested():
                reduce(conn, [(seq, item)], batch, me)
        except Exception as exc:
            if not _entrys_fault(exc):
                raise
            _unreadable(conn, seq, item.type, ReducerError(f"{type(exc).__name__}: {exc}"), batch)


def _entrys_fault(exc: Exception) -> bool:
    """A reducer's failure an entry can cause: anything but the database's own (of those, only
    a constraint an entry's values break)."""
    return not isinstance(exc, DBAPIError) or isinstance(exc, IntegrityError)


class ReducerError(Exception):
    """This version's reducer failed on an entry (a bug, or an entry it misreads)."""


def _reduce_channel_run(
    conn: Connection, run: list[tuple[int, Any]], batch: AppliedBatch, me: str | None
) -> None:
    piece = apply_channel_events(conn, [event for _, event in run])
    batch.applied += len(run)
    for key in piece.arrived:
        message = piece.messages[key]
        if message.direction != "INBOUND":
            continue
        conv = piece.conversations.get(message.conversation_id)
        if conv is not None and conv.assignee in (None, me):
            batch.add_news(News("message", conv.id, message.text or "", None))


def _reduce_mutation_run(
    conn: Connection, run: list[tuple[int, Any]], batch: AppliedBatch, me: str | None
) -> None:
    piece, found = apply_mutations(conn, run)
    batch.applied += len(run) - len(found)
    batch.conflicts += len(found)
    if found:
        record_conflicts(conn, found)
    for note in piece.new_notes:
        if me is not None and me in json.loads(note.mentions) and note.author != me:
            batch.add_news(News("mention", note.conversation_id, note.text, note.author))


def apply_mutations(
    conn: Connection, run: Sequence[tuple[int | None, Mutation]]
) -> tuple[Slice, list[Conflict]]:
    """Apply mutations in order (``seq`` None: pending) and write what they changed."""
    piece = load_slice(conn, needs([], [m for _, m in run]))
    found = []
    for seq, mutation in run:
        conflict = apply_mutation(piece, mutation, seq)
        if conflict is not None:
            found.append(conflict)
    write_slice(conn, piece)
    return piece, found


def record_conflicts(conn: Connection, found: Sequence[Conflict]) -> None:
    conn.execute(
        sqlite_insert(conflicts).on_conflict_do_nothing(),
        [dataclasses.asdict(c) for c in found],
    )


def current_cursor(conn: Connection) -> int:
    return int(conn.execute(select(sync_state.c.cursor).where(sync_state.c.id == 1)).scalar_one())


def _payload_text(event: dict[str, Any] | str) -> str:
    return event if isinstance(event, str) else orjson.dumps(event).decode()
