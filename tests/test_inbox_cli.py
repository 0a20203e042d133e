"""Working the inbox from the shell, online and offline, as a user runs it: the CLI as a
subprocess, a real relay process, two agents' real replicas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RelayProcess, inboop, scenario


@pytest.fixture
def agents(relay: RelayProcess, admin_token: str, tmp_path: Path) -> tuple[Path, Path]:
    for body in scenario():
        assert relay.post(body).status_code == 200
    member = relay.add_user("maria")
    admin_home, member_home = tmp_path / "admin", tmp_path / "maria"
    for home, token in ((admin_home, admin_token), (member_home, member)):
        assert inboop(home, "login", relay.url, "--token", token).returncode == 0
        assert inboop(home, "sync").returncode == 0
    return admin_home, member_home


def ok(home: Path, *args: str) -> str:
    result = inboop(home, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def as_json(home: Path, *args: str) -> Any:
    return json.loads(ok(home, *args, "--json"))


def refused(home: Path, *args: str, code: int = 1) -> str:
    result = inboop(home, *args)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    return result.stderr


def test_list_and_show_conversations(agents: tuple[Path, Path]) -> None:
    admin, _ = agents
    listed = as_json(admin, "conversations")
    assert [c["customer"]["display_name"] for c in listed] == ["P2", "P1", "I1", "Asha Verma"]
    first = listed[0]
    assert set(first) >= {
        "id",
        "channel",
        "customer",
        "status",
        "snoozed_until",
        "assignee",
        "tags",
        "unread",
        "over_sla",
        "last_message_at",
        "pending_changes",
    }
    assert (first["channel"], first["status"], first["assignee"], first["tags"]) == (
        "MESSENGER",
        "OPEN",
        None,
        [],
    )
    shown = as_json(admin, "show", "asha verma")  # a name, in any case
    assert shown["customer"]["phone"] == "9190" and shown["customer"]["id"] == "9190"
    assert [m["text"] for m in shown["messages"]] == ["Namaste, kurta price?", "₹1,499 for M"]
    assert as_json(admin, "show", "9190")["id"] == shown["id"]  # the WhatsApp number
    assert as_json(admin, "show", "verma")["id"] == shown["id"]  # a surname
    assert as_json(admin, "show", shown["id"])["id"] == shown["id"]
    line = ok(admin, "show", "P1")
    assert "Messenger" in line and "P1: Is the blue dress in stock?" in line
    assert "matches more than one conversation" in refused(admin, "show", "P")
    assert "no conversation matches 'nobody'" in refused(admin, "show", "nobody")
    assert [m["name"] for m in as_json(admin, "team")] == ["admin", "maria"]


def test_changes_show_at_once_and_reach_the_other_agent(
    agents: tuple[Path, Path],
) -> None:
    admin, member = agents
    assigned = as_json(admin, "assign", "P1", "maria")
    assert assigned["summary"] == "assign to maria" and assigned["sent"] is True
    assert ok(admin, "assign", "I1", "--me").strip() == "I1 (Instagram): assign to admin (sent)"
    ok(admin, "status", "P2", "snoozed", "--until", "2h")
    ok(admin, "tag", "P1", "+VIP", "+#Big Order", "-waiting")
    note = subprocess.run(
        [sys.executable, "-m", "inboop_tui", "note", "P1", "-"],
        input="@maria please call [b]now[/b] ✅\n",
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "INBOOP_HOME": str(admin)},
        timeout=60,
    )
    assert note.returncode == 0, note.stderr
    mine = as_json(admin, "show", "P1")
    assert (mine["assignee"], mine["tags"]) == ("maria", ["big-order", "vip"])
    assert mine["pending_changes"] == []  # the relay was up: sent and confirmed at once
    assert as_json(admin, "show", "P2")["status"] == "SNOOZED"
    assert [
        c["customer"]["id"] for c in as_json(admin, "conversations", "--status", "snoozed")
    ] == ["P2"]
    assert [c["customer"]["id"] for c in as_json(admin, "conversations", "--tag", "vip")] == ["P1"]
    assert [c["customer"]["id"] for c in as_json(admin, "conversations", "--mine")] == ["I1"]

    ok(member, "sync")
    theirs = as_json(member, "show", "P1")
    assert (theirs["assignee"], theirs["tags"], theirs["pending_changes"]) == (
        "maria",
        ["big-order", "vip"],
        [],
    )
    assert [(n["author"], n["text"], n["mentions"]) for n in theirs["notes"]] == [
        ("admin", "@maria please call [b]now[/b] ✅", ["maria"])
    ]
    assert [c["customer"]["id"] for c in as_json(member, "conversations", "--mine")] == ["P1"]
    unassigned = as_json(member, "conversations", "--unassigned")
    assert [c["customer"]["id"] for c in unassigned] == ["P2", "9190"]


def test_changes_made_offline_are_queued_and_pushed_later(
    relay: RelayProcess, agents: tuple[Path, Path]
) -> None:
    admin, member = agents
    relay.stop()
    queued = ok(member, "assign", "Asha Verma", "--me").strip()
    assert queued.startswith(
        "Asha Verma (WhatsApp): assign to maria (queued; the next sync sends it ("
    )
    ok(member, "status", "P1", "resolved")
    ok(member, "note", "I1", "customer asked for a call")
    assert "only an ADMIN may change the workspace's SLA" in refused(member, "sla", "30")
    doctor = ok(member, "doctor")
    assert "pending changes: 3" in doctor
    offline = inboop(member, "sync", "--timeout", "1")
    assert offline.returncode == 1 and "not reachable" in offline.stderr
    relay.start()
    assert "pushed 3 changes" in ok(member, "sync")
    assert "pending changes: 0" in ok(member, "doctor")
    ok(admin, "sync")
    assert as_json(admin, "show", "P1")["status"] == "RESOLVED"
    assert as_json(admin, "show", "9190")["assignee"] == "maria"


def test_the_sla_marks_conversations_whose_customer_waits(agents: tuple[Path, Path]) -> None:
    admin, member = agents
    assert "SLA 30 min" in ok(admin, "sla", "30")
    ok(admin, "sync")
    ok(member, "sync")
    late = {c["customer"]["id"] for c in as_json(member, "conversations", "--over-sla")}
    # The scenario is a year old: customers whose last message has no reply after it wait.
    assert late == {"P2", "I1"}
    ok(admin, "sla", "off")
    ok(admin, "sync")
    ok(member, "sync")
    assert as_json(member, "conversations", "--over-sla") == []


def test_refusals_are_one_clear_line(agents: tuple[Path, Path]) -> None:
    admin, _ = agents
    assert "no teammate named 'ghost'" in refused(admin, "assign", "P1", "ghost")
    scripted = inboop(admin, "assign", "P1", "ghost", "--json")
    assert scripted.returncode == 1 and json.loads(scripted.stdout) == {
        "ok": False,
        "error": "no teammate named 'ghost'; the team: admin, maria",
    }
    assert "name one of" in refused(admin, "assign", "P1", code=2)
    assert "snoozing needs a time" in refused(admin, "status", "P1", "snoozed")
    assert "is not a status" in refused(admin, "status", "P1", "closed", code=2)
    assert "is not a time" in refused(
        admin, "status", "P1", "snoozed", "--until", "someday", code=2
    )
    assert "at least one tag" in refused(admin, "tag", "P1", "+")
    assert "a note needs some text" in refused(admin, "note", "P1", "   ")
    assert "not a number of minutes" in refused(admin, "sla", "soon", code=2)
    assert "--mine and --unassigned" in refused(
        admin, "conversations", "--mine", "--unassigned", code=2
    )
    assert "pending changes: 0" in ok(admin, "doctor")


def test_marking_read(agents: tuple[Path, Path]) -> None:
    admin, _ = agents
    assert len(as_json(admin, "conversations", "--unread")) == 4  # every one has an inbound
    assert ok(admin, "read", "P2").strip() == "marked P2 read"
    assert len(as_json(admin, "conversations", "--unread")) == 3
    assert "marked 3 conversations read" in ok(admin, "read", "--all")
    assert as_json(admin, "conversations", "--unread") == []
