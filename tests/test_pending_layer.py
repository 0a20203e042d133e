"""The pending layer on a real replica file: local changes show at once, the log decides.

Log entries are made here as the relay would serve them; the relay itself is in the sync and
convergence tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from inboop_tui.store.actions import ActionError, Identity
from inboop_tui.store.apply import apply_entries, current_cursor
from inboop_tui.store.db import open_replica, writing
from inboop_tui.store.pending import relayer
from inboop_tui.store.queries import InboxFilter
from inboop_tui.store.rebuild import digest, rebuild
from inboop_tui.store.replica import Replica
from inboop_tui.store.tables import outbox, rejected_mutations, shadows, team
from tests.app_support import FIXED_NOW
from tests.harness import fill_replica, scenario


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_replica(tmp_path / "replica.db")
    fill_replica(engine, scenario())
    with writing(engine) as conn:
        conn.execute(insert(team), [{"name": n, "role": "MEMBER"} for n in ("ana", "bo")])
    yield engine
    engine.dispose()


def replica(engine: Engine, name: str = "ana", role: str = "MEMBER") -> Replica:
    return Replica(engine, Identity(name, role), lambda: FIXED_NOW)


def first_conversation(r: Replica) -> str:
    return r.window(InboxFilter(), 0, 1)[0].id


def outbox_entries(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        payloads = conn.execute(select(outbox.c.payload).order_by(outbox.c.position)).scalars()
        return [json.loads(p) for p in payloads]


def as_log(engine: Engine, mutations: list[dict[str, Any]]) -> None:
    """The relay's log hands these mutations back, after the entries the replica has."""
    with writing(engine) as conn:
        cursor = current_cursor(conn)
        entries = [
            {
                "seq": cursor + i,
                "origin": "mutation",
                "type": m["type"],
                "recorded_at": "2026-11-25T12:00:01.000Z",
                "event": m,
            }
            for i, m in enumerate(mutations, start=1)
        ]
        apply_entries(conn, entries, cursor=cursor + len(entries), relay_head=cursor + len(entries))


def rebuilt_is_identical(engine: Engine) -> bool:
    return rebuild(engine).identical


def test_a_change_shows_at_once_and_waits_in_the_outbox(engine: Engine) -> None:
    r = replica(engine)
    cid = first_conversation(r)
    r.actions.assign(cid, "bo")
    r.actions.tag(cid, ["vip"])
    r.actions.add_note(cid, "@bo call them")
    row = r.conversation(cid)
    assert row is not None and (row.assignee, row.tags, row.pending) == ("bo", ("vip",), 3)
    thread = r.thread(cid)
    assert thread is not None and [(n.text, n.pending, n.mentions) for n in thread.notes] == [
        ("@bo call them", True, ("bo",))
    ]
    assert [m["type"] for m in outbox_entries(engine)] == [
        "conversation.assign",
        "conversation.tags",
        "conversation.note",
    ]
    assert rebuilt_is_identical(engine)  # reduce(log) with the outbox on top, again


def test_a_confirmed_change_leaves_the_outbox_and_the_replica_is_reduce_of_the_log(
    engine: Engine,
) -> None:
    r = replica(engine)
    cid = first_conversation(r)
    r.actions.set_status(cid, "RESOLVED")
    r.actions.add_note(cid, "done")
    with engine.connect() as conn:
        shown = digest(conn)
    as_log(engine, outbox_entries(engine))
    assert outbox_entries(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(shadows)).all() == []
        confirmed = digest(conn)
    assert confirmed["conversations"] == shown["conversations"]
    thread = r.thread(cid)
    assert thread is not None and not thread.notes[0].pending
    assert rebuilt_is_identical(engine)


def test_pending_changes_stay_on_top_until_the_log_orders_them(engine: Engine) -> None:
    mine, theirs = replica(engine, "ana"), replica(engine, "bo")
    cid = first_conversation(mine)
    mine.actions.assign(cid, "ana")
    mine_entry = outbox_entries(engine)[0]
    # A teammate's assignment reaches this replica first: mine, still pending, stays on top.
    other = dict(mine_entry, id="0b0b0b0b-0000-4000-8000-000000000001", author="bo")
    other["payload"] = {"conversation_id": cid, "assignee": "bo"}
    as_log(engine, [other])
    row = mine.conversation(cid)
    assert row is not None and row.assignee == "ana" and row.pending == 1
    as_log(engine, [mine_entry])  # the relay put mine after theirs: mine wins
    row = theirs.conversation(cid)
    assert row is not None and row.assignee == "ana" and row.pending == 0
    as_log(engine, [dict(other, id="0b0b0b0b-0000-4000-8000-000000000002")])  # then theirs again
    row = theirs.conversation(cid)
    assert row is not None and row.assignee == "bo"
    assert rebuilt_is_identical(engine)


def test_a_rejected_change_is_undone_and_kept_for_diagnostics(engine: Engine) -> None:
    r = replica(engine)
    cid = first_conversation(r)
    before = r.conversation(cid)
    done = r.actions.assign(cid, "bo")
    r.actions.tag(cid, ["vip"])
    with writing(engine) as conn:  # what the sync does with a rejection
        row = conn.execute(select(outbox).where(outbox.c.id == done.mutation_id)).mappings().one()
        conn.execute(outbox.delete().where(outbox.c.id == done.mutation_id))
        conn.execute(
            insert(rejected_mutations).values(
                id=row["id"],
                type=row["type"],
                conversation_id=cid,
                payload=row["payload"],
                reason="there is no active user named 'bo'",
                rejected_at="2026-11-25T12:00:00.000Z",
            )
        )
        relayer(conn)
    after = r.conversation(cid)
    assert before is not None and after is not None
    assert after.assignee == before.assignee and after.tags == ("vip",) and after.pending == 1
    report = r.diagnostics()
    assert [c.reason for c in report.rejected] == ["there is no active user named 'bo'"]
    assert [c.summary for c in report.pending] == ["tags +vip"]


def test_a_rejected_rename_leaves_the_search_index_too(engine: Engine) -> None:
    with writing(engine) as conn:
        conn.execute(team.update().where(team.c.name == "ana").values(role="ADMIN"))
    r = replica(engine, role="ADMIN")
    row = r.window(InboxFilter(), 0, 1)[0]
    done = r.actions.update_contact(row.contact_id, name="Zenobia Quill")
    assert r.list_order(InboxFilter(search="zenobia")).keys  # shown at once, found by it
    with writing(engine) as conn:  # what the sync does with a rejection
        conn.execute(outbox.delete().where(outbox.c.id == done.mutation_id))
        relayer(conn)
    assert not r.list_order(InboxFilter(search="zenobia")).keys
    assert rebuilt_is_identical(engine)


def test_a_mutation_on_a_conversation_nobody_has_is_a_conflict_everywhere(engine: Engine) -> None:
    ghost = {
        "id": "0c0c0c0c-0000-4000-8000-000000000001",
        "author": "bo",
        "client_time": "2026-11-25T11:00:00.000Z",
        "type": "conversation.assign",
        "payload": {"conversation_id": "cv_" + "0" * 24, "assignee": "bo"},
    }
    as_log(engine, [ghost])
    report = replica(engine).diagnostics()
    assert [(c.type, c.author, c.reason) for c in report.conflicts] == [
        ("conversation.assign", "bo", "the conversation does not exist in this workspace")
    ]
    assert rebuilt_is_identical(engine)  # a rebuild finds the same conflict


def test_entries_this_version_cannot_read_are_kept_and_listed(engine: Engine) -> None:
    r = replica(engine)
    cid = first_conversation(r)
    with writing(engine) as conn:
        cursor = current_cursor(conn)
        weird = [
            {
                "seq": cursor + 1,
                "origin": "channel",
                "type": "message.teleported",
                "recorded_at": "x",
                "event": {},
            },
            {
                "seq": cursor + 2,
                "origin": "mutation",
                "type": "conversation.assign",
                "recorded_at": "x",
                "event": {"id": "broken"},
            },
            {
                "seq": cursor + 3,
                "origin": "channel",
                "type": "contact.profile",
                "recorded_at": "x",
                "event": {"channel": "NOPE"},
            },
            {
                "seq": cursor + 4,
                "origin": "oracle",
                "type": "prophecy",
                "recorded_at": "x",
                "event": {},
            },
        ]
        batch = apply_entries(conn, weird, cursor=cursor + 4, relay_head=cursor + 4)
        assert batch.unreadable == 4 and current_cursor(conn) == cursor + 4
    as_log(
        engine,
        [
            {
                "id": "0d0d0d0d-0000-4000-8000-000000000001",
                "author": "bo",
                "client_time": "2026-11-25T11:00:00.000Z",
                "type": "conversation.assign",
                "payload": {"conversation_id": cid, "assignee": "bo"},
            }
        ],
    )
    row = r.conversation(cid)
    assert row is not None and row.assignee == "bo"  # what came after still applies
    listed = r.diagnostics().unreadable
    assert [u.seq for u in listed] == [cursor + 4, cursor + 3, cursor + 2, cursor + 1]
    assert "does not know channel entries of type 'message.teleported'" in listed[-1].error
    assert rebuilt_is_identical(engine)


def test_actions_refuse_what_cannot_work(engine: Engine) -> None:
    r = replica(engine)
    cid = first_conversation(r)
    cases = [
        (lambda: r.actions.assign(cid, "ghost"), "no teammate named 'ghost'"),
        (lambda: r.actions.set_status(cid, "SNOOZED"), "snoozing needs a time"),
        (
            lambda: r.actions.set_status(cid, "SNOOZED", FIXED_NOW - timedelta(minutes=1)),
            "in the future",
        ),
        (lambda: r.actions.set_status(cid, "CLOSED"), "is not a status"),
        (lambda: r.actions.tag(cid, [], []), "at least one tag"),
        (lambda: r.actions.tag(cid, ["a"], ["a"]), "added and removed at once"),
        (lambda: r.actions.add_note(cid, "   "), "needs some text"),
        (lambda: r.actions.add_note(cid, "x" * 10_001), "at most 10,000"),
        (lambda: r.actions.set_sla(30), "only an ADMIN"),
        (lambda: r.actions.assign("cv_" + "f" * 24, None), "no conversation"),
        (
            lambda: Replica(engine, None, lambda: FIXED_NOW).actions.assign(cid, None),
            "sign in first",
        ),
    ]
    for attempt, message in cases:
        with pytest.raises(ActionError, match=message):
            attempt()
    assert outbox_entries(engine) == []
    # The team list (the relay's word at the last sync) decides the role, not the login's.
    with pytest.raises(ActionError, match="only an ADMIN"):
        replica(engine, role="ADMIN").actions.set_sla(45)
    with writing(engine) as conn:
        conn.execute(team.update().where(team.c.name == "ana").values(role="ADMIN"))
    assert replica(engine).actions.set_sla(45).summary == "SLA 45 min"
