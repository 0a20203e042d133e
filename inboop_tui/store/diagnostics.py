"""What the Diagnostics screen and ``inboop doctor`` read: sync state and history, pending and
rejected mutations, conflicts, and log entries this replica could not read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, func, select

from inboop_tui.store import first_screen
from inboop_tui.store.rows import Change, SyncStatus
from inboop_tui.store.tables import (
    conflicts,
    outbox,
    rejected_mutations,
    sync_runs,
    sync_state,
    unreadable_entries,
)


def integrity_problems(conn: Connection, limit: int = 20) -> list[str]:
    """What SQLite's ``quick_check`` finds wrong with the file (empty: nothing). It reads every
    page, so it runs when asked (``inboop doctor``), not on every start."""
    found = [row[0] for row in conn.exec_driver_sql(f"PRAGMA quick_check({int(limit)})")]
    if found == ["ok"]:
        return []
    lines = (line.strip() for text in found for line in str(text).splitlines())
    return [line for line in lines if line and not line.startswith("***")]  # not its headers


def sync_status(conn: Connection) -> SyncStatus:
    driver = conn.connection.driver_connection
    assert driver is not None
    return first_screen.sync_status(driver)


def status_query() -> Select[Any]:
    """The sync's state and the outbox's length, as :class:`SyncStatus` holds them (compiled
    ahead: ``first_screen``)."""
    pending = select(func.count()).select_from(outbox).scalar_subquery()
    s = sync_state.c
    columns = (s.cursor, s.relay_head, s.last_ok_at, s.last_attempt_at, s.last_error)
    return select(*columns, s.last_error_kind, pending).where(s.id == 1)


@dataclass(frozen=True)
class SyncRun:
    started_at: str
    finished_at: str | None
    ok: bool
    pulled: int
    pushed: int
    cursor: int
    error: str | None


def recent_sync_runs(conn: Connection, limit: int = 20) -> list[SyncRun]:
    rows = conn.execute(
        select(
            sync_runs.c.started_at,
            sync_runs.c.finished_at,
            sync_runs.c.ok,
            sync_runs.c.pulled,
            sync_runs.c.pushed,
            sync_runs.c.cursor,
            sync_runs.c.error,
        )
        .order_by(sync_runs.c.id.desc())
        .limit(limit)
    ).all()
    return [SyncRun(*row) for row in rows]


def pending_changes(conn: Connection, conversation_id: str | None = None) -> list[Change]:
    query = select(outbox).order_by(outbox.c.position)
    if conversation_id is not None:
        query = query.where(outbox.c.conversation_id == conversation_id)
    return [
        Change(
            id=row["id"],
            type=row["type"],
            conversation_id=row["conversation_id"],
            summary=describe_change(row["type"], row["payload"]),
            at=row["created_at"],
            pushed_seq=row["pushed_seq"],
        )
        for row in conn.execute(query).mappings()
    ]


def rejected_changes(conn: Connection, limit: int = 50) -> list[Change]:
    query = (
        select(rejected_mutations).order_by(rejected_mutations.c.rejected_at.desc()).limit(limit)
    )
    return [
        Change(
            id=row["id"],
            type=row["type"],
            conversation_id=row["conversation_id"],
            summary=describe_change(row["type"], row["payload"]),
            at=row["rejected_at"],
            reason=row["reason"],
        )
        for row in conn.execute(query).mappings()
    ]


@dataclass(frozen=True)
class ConflictRow:
    seq: int
    type: str
    author: str
    conversation_id: str | None
    reason: str
    client_time: str


def recent_conflicts(conn: Connection, limit: int = 50) -> list[ConflictRow]:
    query = select(
        conflicts.c.seq,
        conflicts.c.type,
        conflicts.c.author,
        conflicts.c.conversation_id,
        conflicts.c.reason,
        conflicts.c.client_time,
    ).order_by(conflicts.c.seq.desc())
    return [ConflictRow(*row) for row in conn.execute(query.limit(limit))]


@dataclass(frozen=True)
class UnreadableRow:
    seq: int
    type: str
    error: str


def unreadable(conn: Connection, limit: int = 50) -> list[UnreadableRow]:
    query = select(unreadable_entries.c.seq, unreadable_entries.c.type, unreadable_entries.c.error)
    return [
        UnreadableRow(*row)
        for row in conn.execute(query.order_by(unreadable_entries.c.seq.desc()).limit(limit))
    ]


def describe_change(kind: str, payload: str) -> str:
    """A mutation in a few words, for lists of changes."""
    try:
        body = json.loads(payload).get("payload", {})
    except ValueError:
        return kind
    if kind == "conversation.assign":
        who = body.get("assignee")
        return f"assign to {who}" if who else "unassign"
    if kind == "conversation.status":
        status = str(body.get("status", "?")).lower()
        until = body.get("snoozed_until")
        if until:
            return f"{status} until {str(until)[:16].replace('T', ' ')} UTC"
        return status
    if kind == "conversation.tags":
        parts = [f"+{t}" for t in body.get("add", [])] + [f"-{t}" for t in body.get("remove", [])]
        return "tags " + " ".join(parts)
    if kind == "conversation.note":
        text = " ".join(str(body.get("text", "")).split())
        return f"note: {text[:60]}{'…' if len(text) > 60 else ''}"
    if kind == "message.reply":
        if body.get("template"):
            return f"template reply {body['template'].get('name')}"
        file = body.get("attachment")
        text = " ".join(str(body.get("text") or "").split())
        if file:
            return f"reply with {file.get('filename')}" + (f": {text[:50]}" if text else "")
        return f"reply: {text[:60]}{'…' if len(text) > 60 else ''}"
    if kind == "canned.save":
        return f"canned reply /{body.get('shortcode')}"
    if kind == "canned.delete":
        return "delete a canned reply"
    if kind == "workspace.sla":
        minutes = body.get("expected_first_response_minutes")
        return f"SLA {minutes} min" if minutes else "SLA off"
    return _describe_selling(kind, body)


def _describe_selling(kind: str, body: dict[str, Any]) -> str:
    short = str(body.get("lead_id") or body.get("order_id") or "")[:8]
    if kind == "lead.create":
        return "create a lead"
    if kind == "lead.update":
        return f"edit lead {short}"
    if kind == "lead.close":
        return f"mark lead {short} {str(body.get('status', '')).lower()}"
    if kind == "order.create":
        items = body.get("items") or []
        return f"create an order ({len(items)} item{'s' if len(items) != 1 else ''})"
    if kind == "order.update":
        return f"edit order {short}"
    if kind == "order.status":
        return f"order {short} {str(body.get('status', '')).lower()}"
    if kind == "order.payment":
        return f"order {short} {str(body.get('status', '')).lower()}"
    if kind == "workspace.payments":
        return "payment settings"
    if kind == "contact.update":
        return "edit a contact"
    if kind == "contact.merge":
        return "merge two contacts"
    if kind == "conversation.metadata":
        return "conversation metadata"
    return kind
