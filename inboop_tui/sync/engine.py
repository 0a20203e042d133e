"""``inboop sync``: push the outbox, refresh the team, pull new entries and apply them.

- **Push**: the outbox goes up in batches; each mutation comes back accepted (it stays in the
  outbox until its own log entry is pulled) or rejected (it leaves the outbox, its effect is
  lifted off, and the reason is kept for Diagnostics). Pushing again is harmless: the relay
  answers the same seq for the same id.
- **Pull**: pages of entries, applied with the cursor in one transaction (a few pages together
  when the replica is far behind), so a kill at any point resumes exactly. The cursor never
  moves backwards and entries already stored are skipped, so two syncs of one replica at once
  are safe; a lock file makes the second one wait for the first anyway.
- **Never wedge**: a page with a gap is refused before anything is applied; a relay whose log
  is behind this replica (restored from a backup), or differs from it at the replica's cursor,
  is reported in one line that says to run ``inboop sync --resync``.

Transient failures (network, 5xx, timeouts) are retried with backoff until the time budget is
spent. Every run is recorded for Diagnostics.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from inboop_tui.store.apply import News, apply_entries, current_cursor
from inboop_tui.store.config import ClientConfig
from inboop_tui.store.db import ReplicaError, explain_on, writing
from inboop_tui.store.pending import relayer
from inboop_tui.store.projections import clear_projections
from inboop_tui.store.tables import (
    log_events,
    outbox,
    outbox_files,
    rejected_mutations,
    sending_accounts,
    sync_runs,
    sync_state,
    team,
)
from inboop_tui.sync.client import RelayClient, SyncError
from inboop_tui.sync.lock import replica_lock
from inboop_tui.sync.read_ahead import ReadAhead
from relay.protocol import MAX_PUSH, format_time

log = logging.getLogger("inboop.sync")

BATCH = 500
# A replica catching up applies this many pages per transaction: each transaction rewrites the
# conversations it touches and commits, so fewer, larger ones cost less per entry (~20 % at 100k
# messages), while the write lock is never held for more than a second or so.
GROUP_PAGES = 10
DEFAULT_TIMEOUT = 30.0
T = TypeVar("T")

Progress = Callable[[int, int], None]  # (cursor, relay head)


@dataclass(frozen=True)
class Rejection:
    id: str
    type: str
    conversation_id: str | None
    reason: str


@dataclass(frozen=True)
class SyncOutcome:
    ok: bool
    pulled: int
    cursor: int
    head: int
    seconds: float
    error: str | None = None
    error_kind: str | None = None
    pushed: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    news: list[News] = field(default_factory=list)
    news_count: int = 0
    conflicts: int = 0
    unreadable: int = 0


def now_text() -> str:
    return format_time(datetime.now(UTC))


@dataclass
class _Run:
    """What one sync has done so far."""

    pulled: int = 0
    pushed: int = 0
    cursor: int = 0
    head: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    news: list[News] = field(default_factory=list)
    news_count: int = 0
    conflicts: int = 0
    unreadable: int = 0


class _Budget:
    """Retries transient failures with backoff until the deadline: ``timeout`` seconds without
    an answer. Each answer moves the deadline on, so a long pull that keeps getting its pages
    (a first sync of a big team: minutes) keeps its per-call timeouts and retries throughout."""

    def __init__(
        self,
        timeout: float,
        on_retry: Callable[[str, float], None] | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.on_retry = on_retry
        self.sleep = sleep

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def call(self, work: Callable[[float], T], stopped: threading.Event | None = None) -> T:
        """``work(timeout)``, retried while its failures are transient and time is left (and,
        for work in the background, until ``stopped``: nobody waits for it any more)."""
        backoff = 0.25
        while True:
            try:
                answer = work(max(1.0, min(10.0, self.remaining())))
                self.deadline = max(self.deadline, time.monotonic() + self.timeout)
                return answer
            except SyncError as exc:
                remaining = self.remaining()
                if not exc.transient or remaining <= backoff or (stopped and stopped.is_set()):
                    raise
                if self.on_retry is not None:
                    self.on_retry(str(exc), remaining)
                self.sleep(backoff)
                backoff = min(backoff * 2, 4.0)


def sync(
    engine: Engine,
    config: ClientConfig,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    batch: int = BATCH,
    progress: Progress | None = None,
    on_retry: Callable[[str, float], None] | None = None,
    client: RelayClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    resync: bool = False,
    wait: float = 0,
    record: bool = True,
    max_pages: int | None = None,
) -> SyncOutcome:
    """One sync. ``wait`` long-polls the first pull (live sync); ``record`` False keeps quiet
    rounds (nothing pushed or pulled, no error) out of the sync history; ``max_pages`` leaves
    the rest of a long pull to the next sync (a CLI action confirms its change quickly)."""
    started = time.monotonic()
    started_at = now_text()
    run = _Run()
    error: SyncError | None = None
    own_client = client is None
    try:
        if not config.is_configured:
            raise SyncError(
                "no relay configured: run `inboop login RELAY_URL` first",
                transient=False,
                kind="auth",
            )
        assert config.relay_url is not None and config.token is not None
        if client is None:
            client = RelayClient(config.relay_url, config.token)
        budget = _Budget(timeout, on_retry, sleep)
        if resync:
            agreed = _agreed_prefix(engine, client, budget)
            with replica_lock(_path(engine), budget.remaining()):
                _local(reset_replica, engine, config.user_name, agreed)
        run.cursor = run.head = _local(_cursor, engine)
        _push(engine, client, budget, run)
        _pull(engine, client, budget, run, batch, progress, wait, config.user_name, max_pages)
        _refresh_team(engine, client, budget)
        _local(_forget_sent_files, engine)
    except SyncError as exc:
        error = exc
    finally:
        if own_client and client is not None:
            client.close()
    outcome = SyncOutcome(
        ok=error is None,
        pulled=run.pulled,
        cursor=run.cursor,
        head=run.head,
        seconds=time.monotonic() - started,
        error=None if error is None else str(error),
        error_kind=None if error is None else error.kind,
        pushed=run.pushed,
        rejected=run.rejected,
        news=run.news,
        news_count=run.news_count,
        conflicts=run.conflicts,
        unreadable=run.unreadable,
    )
    _record(engine, started_at, outcome, always=record)
    return outcome


# --- push --------------------------------------------------------------------------------


def _push(engine: Engine, client: RelayClient, budget: _Budget, run: _Run) -> None:
    after = 0
    while True:
        rows = _local(_outbox_after, engine, after)
        if not rows:
            return
        refused = _push_files(engine, client, budget, rows)
        if refused:  # they leave the outbox now, as if the relay had rejected them
            gone = [r for r in rows if r.id in refused]
            _local(_settle, engine, gone, [refused[r.id] for r in gone], run)
            rows = [r for r in rows if r.id not in refused]
            if not rows:
                continue
        payloads = [json.loads(row.payload) for row in rows]
        answer = budget.call(partial(_push_batch, client, payloads))
        _local(_settle, engine, rows, answer["results"], run)
        run.pushed += sum(1 for r in answer["results"] if r["status"] == "accepted")
        if answer["head"] < run.cursor:
            raise _behind(client.base_url, answer["head"], run.cursor)
        after = rows[-1].position


def _push_files(
    engine: Engine, client: RelayClient, budget: _Budget, rows: list[Any]
) -> dict[str, dict[str, Any]]:
    """The files of these replies, to the relay first (only those it does not have). A file the
    relay refuses (too large for it, say) rejects its reply, as the relay would: one bad file
    never holds up the outbox. Returns those rejections by mutation id."""
    refused: dict[str, dict[str, Any]] = {}
    for row in rows:
        payload = json.loads(row.payload)
        attachment = (payload.get("payload") or {}).get("attachment")
        if payload.get("type") != "message.reply" or not isinstance(attachment, dict):
            continue
        upload_id = attachment.get("upload_id")
        if not isinstance(upload_id, str) or budget.call(partial(_has_upload, client, upload_id)):
            continue
        file = _local(_outbox_file, engine, upload_id)
        if file is None:
            continue  # pushed before and forgotten here: the relay's answer tells
        try:
            budget.call(partial(_upload, client, file))
        except SyncError as exc:
            if exc.status not in (413, 422):
                raise
            reason = f"the relay refused the file {file.filename}: {exc}"
            refused[row.id] = {"status": "rejected", "reason": reason}
    return refused


def _has_upload(client: RelayClient, upload_id: str, timeout: float) -> bool:
    return client.has_upload(upload_id, timeout=timeout)


def _upload(client: RelayClient, file: Any, timeout: float) -> Any:
    return client.upload(file.data, file.filename, file.mime_type, timeout=max(timeout, 60.0))


def _outbox_file(engine: Engine, upload_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(outbox_files).where(outbox_files.c.upload_id == upload_id)
        ).first()


def _forget_sent_files(engine: Engine) -> None:
    """Files whose replies have all left the outbox are at the relay: drop the local copy."""
    with writing(engine) as conn:
        kept = set()
        for payload in conn.execute(
            select(outbox.c.payload).where(outbox.c.type == "message.reply")
        ).scalars():
            attachment = (json.loads(payload).get("payload") or {}).get("attachment") or {}
            kept.add(attachment.get("upload_id"))
        stored = conn.execute(select(outbox_files.c.upload_id)).scalars().all()
        gone = [upload_id for upload_id in stored if upload_id not in kept]
        if gone:
            conn.execute(delete(outbox_files).where(outbox_files.c.upload_id.in_(gone)))


def _push_batch(client: RelayClient, payloads: list[dict[str, Any]], timeout: float) -> Any:
    return client.push(payloads, timeout=timeout)


def _outbox_after(engine: Engine, after: int) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    outbox.c.position,
                    outbox.c.id,
                    outbox.c.type,
                    outbox.c.conversation_id,
                    outbox.c.payload,
                )
                .where(outbox.c.position > after)
                .order_by(outbox.c.position)
                .limit(MAX_PUSH)
            )
        )


def _settle(engine: Engine, rows: list[Any], results: list[dict[str, Any]], run: _Run) -> None:
    """Record the relay's answers: accepted ones keep waiting for their log entry; rejected
    ones leave the outbox and their effect is lifted off."""
    rejected = []
    with writing(engine) as conn:
        for row, result in zip(rows, results, strict=True):
            if result["status"] == "accepted":
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(pushed_seq=result["seq"], last_error=None)
                )
                continue
            reason = str(result.get("reason") or "rejected by the relay")
            rejected.append(Rejection(row.id, row.type, row.conversation_id, reason))
            conn.execute(delete(outbox).where(outbox.c.id == row.id))
            conn.execute(
                insert(rejected_mutations)
                .prefix_with("OR REPLACE")
                .values(
                    id=row.id,
                    type=row.type,
                    conversation_id=row.conversation_id,
                    payload=row.payload,
                    reason=reason,
                    rejected_at=now_text(),
                )
            )
        if rejected:
            relayer(conn)
    run.rejected.extend(rejected)


# --- the team ----------------------------------------------------------------------------


def _refresh_team(engine: Engine, client: RelayClient, budget: _Budget) -> None:
    """The relay's users (for assignment and mentions offline) and the accounts it can send
    from. A convenience: if the relay cannot say, the last lists stay and the sync counts."""
    try:
        members = budget.call(lambda seconds: client.users(timeout=seconds))
        accounts = budget.call(lambda seconds: client.accounts(timeout=seconds))
    except SyncError as exc:
        log.warning("could not refresh the team and accounts: %s", exc)
        return
    senders = [
        {"channel": a["channel"], "account_id": a["account_id"]}
        for a in accounts
        if a.get("can_send")
    ]
    rows = [
        {"name": m["name"], "role": m.get("role") if m.get("role") == "ADMIN" else "MEMBER"}
        for m in members
    ]

    def store(engine: Engine) -> None:
        with writing(engine) as conn:
            conn.execute(delete(team))
            if rows:
                conn.execute(insert(team), rows)
            conn.execute(delete(sending_accounts))
            if senders:
                conn.execute(insert(sending_accounts), senders)

    _local(store, engine)


# --- pull --------------------------------------------------------------------------------


def _pull(
    engine: Engine,
    client: RelayClient,
    budget: _Budget,
    run: _Run,
    batch: int,
    progress: Progress | None,
    wait: float,
    me: str | None,
    max_pages: int | None = None,
) -> None:
    # Each page is asked for from one entry back: the relay must still have this replica's
    # newest entry, exactly as it is here (_check_overlap).
    polled: tuple[int, dict[str, Any]] | None = None
    if wait:
        # Long-poll before taking the lock: waiting for news must not hold up another sync.
        after = max(0, run.cursor - 1)
        polled = (after, budget.call(lambda s: client.events(after, batch, wait=wait, timeout=s)))
    pages = 0
    # Pages are read ahead while the ones before them are applied: the relay, the network and
    # the JSON work alongside the replica's writes instead of taking turns with them.
    ahead: ReadAhead | None = None
    # Pages read but not yet applied: a replica far behind takes GROUP_PAGES at a time.
    held: list[dict[str, Any]] = []

    def apply_held() -> None:
        if held:
            last = held[-1]["seq"]
            _local(_apply, engine, held, last, run.head, me, run)
            run.pulled += len(held)
            run.cursor = last
            held.clear()
            if progress is not None:
                progress(last, run.head)

    try:
        with replica_lock(_path(engine), max(1.0, budget.remaining())):
            while True:
                if held:
                    cursor = held[-1]["seq"]
                else:
                    cursor = run.cursor = max(run.cursor, _local(_cursor, engine))  # another sync?
                after = max(0, cursor - 1)
                try:
                    page = polled[1] if polled is not None and polled[0] == after else None
                    if page is None and ahead is not None:
                        page = ahead.take(after)
                    if page is None:
                        page = budget.call(partial(_page, client, after, batch))
                    polled = None
                    head = page["head"]
                    if head < cursor:
                        raise _behind(client.base_url, head, cursor)
                    events = page["events"]
                    if held:
                        events = _check_held(client.base_url, events, held[-1])
                    elif cursor > 0:
                        events = _check_overlap(engine, client.base_url, events, cursor)
                except SyncError:
                    apply_held()  # what was read before the failure is kept
                    raise
                run.head = max(head, cursor)
                if not events:
                    _local(_apply, engine, [], cursor, run.head, me, run)
                    return
                last = events[-1]["seq"]
                pages += 1
                more = last < head and (max_pages is None or pages < max_pages)
                if more and ahead is None:
                    left = None if max_pages is None else max_pages - pages
                    ahead = ReadAhead(
                        lambda a, stopped: budget.call(partial(_page, client, a, batch), stopped),
                        last - 1,
                        left,
                        depth=GROUP_PAGES,
                    )
                held.extend(events)
                if not more or pages % GROUP_PAGES == 0:
                    apply_held()
                if not more:
                    return
    finally:
        if ahead is not None:
            ahead.stop()


def _page(client: RelayClient, after: int, batch: int, timeout: float) -> dict[str, Any]:
    return client.events(after, batch, timeout=timeout)


def _agreed_prefix(engine: Engine, client: RelayClient, budget: _Budget) -> int:
    """The last seq up to which the relay's log and this replica's copy are the same entries
    (a relay restored from a backup keeps a prefix of what it had). A binary search, one
    entry per request."""
    cursor = _local(_cursor, engine)
    head = budget.call(partial(_page, client, 0, 1))["head"]
    low, high = 0, min(cursor, head)  # low agrees; find the highest that does
    while low < high:
        middle = (low + high + 1) // 2
        page = budget.call(partial(_page, client, middle - 1, 1))
        mine = _local(_stored_entry, engine, middle)
        theirs = page["events"][0] if page["events"] else None
        if (
            mine is not None
            and theirs is not None
            and theirs["seq"] == middle
            and _same(mine, theirs)
        ):
            low = middle
        else:
            high = middle - 1
    return low


def _check_overlap(
    engine: Engine, url: str, events: list[dict[str, Any]], cursor: int
) -> list[dict[str, Any]]:
    """The page starts one entry back: that entry must be the one this replica has."""
    mine = _local(_stored_entry, engine, cursor)
    theirs = events[0] if events else None
    if mine is not None and (theirs is None or theirs["seq"] != cursor or not _same(mine, theirs)):
        raise _restored(f"the relay's log at {url} differs from this replica's at seq {cursor:,}")
    return [e for e in events if e["seq"] > cursor]


def _check_held(
    url: str, events: list[dict[str, Any]], held: dict[str, Any]
) -> list[dict[str, Any]]:
    """The page starts one entry back: that entry must be the one read on the page before."""
    theirs = events[0] if events else None
    if theirs is None or theirs["seq"] != held["seq"] or _fields(theirs) != _fields(held):
        raise _restored(f"the relay's log at {url} changed under this sync at seq {held['seq']:,}")
    return events[1:]


def _fields(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["origin"], entry["type"], entry["recorded_at"], entry["event"])


def _same(mine: Any, theirs: dict[str, Any]) -> bool:
    try:
        payload = json.loads(mine.payload)
    except ValueError:
        return False
    return (mine.origin, mine.type, mine.recorded_at, payload) == _fields(theirs)


def _stored_entry(engine: Engine, seq: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(
                log_events.c.origin,
                log_events.c.type,
                log_events.c.recorded_at,
                log_events.c.payload,
            ).where(log_events.c.seq == seq)
        ).first()


def _behind(url: str, head: int, cursor: int) -> SyncError:
    return _restored(
        f"the relay at {url} has {head:,} log entries but this replica has applied {cursor:,}"
    )


def _restored(what: str) -> SyncError:
    return SyncError(
        f"{what}: the relay was probably restored from a backup. Run `inboop sync --resync` to "
        "rebuild this replica from the relay (your unsynced changes are kept)",
        transient=False,
        kind="relay_behind",
    )


def _apply(
    engine: Engine,
    entries: list[dict[str, Any]],
    cursor: int,
    head: int,
    me: str | None,
    run: _Run,
) -> None:
    with writing(engine) as conn:
        applied = apply_entries(conn, entries, cursor=cursor, relay_head=head, me=me)
    run.news.extend(applied.news[: max(0, 20 - len(run.news))])
    run.news_count += applied.news_count
    run.conflicts += applied.conflicts
    run.unreadable += applied.unreadable


# --- the replica -------------------------------------------------------------------------


def reset_replica(engine: Engine, me: str | None = None, agreed: int | None = None) -> None:
    """Forget the log copy and every projection, keeping the outbox (to push again), unread
    marks and history: the next pull rebuilds the replica from the relay.

    A relay restored from a backup has lost what came after it. This user's own changes that
    this replica had confirmed after the last entry both still agree on (``agreed``) go back
    into the outbox, ahead of the unsynced ones, so the push gives them to the relay again (an
    id it still has answers its seq; nothing is appended twice)."""
    with writing(engine) as conn:
        if me is not None and agreed is not None:
            _requeue_mine(conn, me, agreed)
        conn.execute(delete(log_events))
        clear_projections(conn)
        conn.execute(update(outbox).values(pushed_seq=None))
        conn.execute(update(sync_state).where(sync_state.c.id == 1).values(cursor=0, relay_head=0))
        relayer(conn)


def _requeue_mine(conn: Any, me: str, after: int) -> None:
    rows = conn.execute(
        select(log_events.c.payload)
        .where(log_events.c.origin == "mutation", log_events.c.seq > after)
        .order_by(log_events.c.seq)
    ).scalars()
    lost = []
    for payload in rows:
        try:
            mutation = json.loads(payload)
        except ValueError:
            continue
        # Replies stay out: the customer may have them already, and a reply is never sent
        # twice (docs/design.md); they are gone from the restored relay's thread.
        if (
            isinstance(mutation, dict)
            and mutation.get("author") == me
            and mutation.get("type") != "message.reply"
        ):
            lost.append(mutation)
    if not lost:
        return
    waiting = conn.execute(select(outbox).order_by(outbox.c.position)).mappings().all()
    known = {row["id"] for row in waiting}
    conn.execute(delete(outbox))
    again = [
        {
            "id": m["id"],
            "type": m["type"],
            "conversation_id": (m.get("payload") or {}).get("conversation_id"),
            "payload": json.dumps(m, ensure_ascii=False),
            "created_at": m.get("client_time") or now_text(),
        }
        for m in lost
        if m.get("id") not in known
    ]
    rest = [
        {k: row[k] for k in ("id", "type", "conversation_id", "payload", "created_at")}
        for row in waiting
    ]
    if again or rest:
        conn.execute(insert(outbox), again + rest)


def _cursor(engine: Engine) -> int:
    with engine.connect() as conn:
        return current_cursor(conn)


def _local(work: Callable[..., T], engine: Engine, *args: Any) -> T:
    """Run ``work`` on the replica; a database failure becomes a one-line SyncError."""
    try:
        return work(engine, *args)
    except ReplicaError as exc:
        raise SyncError(str(exc), transient=False, kind="local") from exc
    except DBAPIError as exc:
        raise SyncError(str(explain_on(engine, exc)), transient=False, kind="local") from exc


def _record(engine: Engine, started_at: str, outcome: SyncOutcome, *, always: bool) -> None:
    finished_at = now_text()
    state: dict[str, Any] = {
        "last_attempt_at": finished_at,
        "last_error": outcome.error,
        "last_error_kind": outcome.error_kind,
    }
    if outcome.ok:
        state["last_ok_at"] = finished_at
    busy = outcome.pulled or outcome.pushed or outcome.rejected or not outcome.ok
    try:
        with writing(engine) as conn:
            conn.execute(update(sync_state).where(sync_state.c.id == 1).values(**state))
            if always or busy:
                conn.execute(
                    insert(sync_runs).values(
                        started_at=started_at,
                        finished_at=finished_at,
                        ok=outcome.ok,
                        pulled=outcome.pulled,
                        pushed=outcome.pushed,
                        cursor=outcome.cursor,
                        error=outcome.error,
                        error_kind=outcome.error_kind,
                    )
                )
    except DBAPIError:
        pass  # the database itself is the problem, and the outcome already says so


def _path(engine: Engine) -> Path:
    return Path(engine.url.database or "")
