"""`POST /v1/mutations`, `GET /v1/users` and `GET /v1/diagnostics` on a real relay process."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.harness import RelayProcess

CONV = "cv_" + "a" * 24


def mutation(author: str, kind: str = "conversation.assign", **payload: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "author": author,
        "client_time": "2026-11-25T10:00:00.000Z",
        "type": kind,
        "payload": payload or {"conversation_id": CONV, "assignee": author},
    }


def push(relay: RelayProcess, token: str, *mutations: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/v1/mutations",
        content=json.dumps({"mutations": list(mutations)}),  # ASCII: lone surrogates escaped
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_a_mutation_is_appended_once_and_answers_its_seq_again(
    relay: RelayProcess, admin_token: str
) -> None:
    first = mutation("admin")
    answer = push(relay, admin_token, first).json()
    assert answer["results"] == [
        {"id": first["id"], "status": "accepted", "seq": 1, "reason": None}
    ]
    again = push(relay, admin_token, first, first).json()  # a lost response, pushed twice
    assert [r["seq"] for r in again["results"]] == [1, 1]
    log = relay.all_events(admin_token)
    assert len(log) == 1 and log[0]["origin"] == "mutation"
    assert log[0]["type"] == "conversation.assign" and log[0]["event"]["id"] == first["id"]
    assert log[0]["event"]["payload"] == {"conversation_id": CONV, "assignee": "admin"}


def test_each_mutation_of_a_batch_is_judged_on_its_own(
    relay: RelayProcess, admin_token: str
) -> None:
    member = relay.add_user("maria")
    good = mutation(
        "maria", "conversation.note", conversation_id=CONV, text="hi", mentions=["admin"]
    )
    admin_only = mutation("maria", "workspace.sla", expected_first_response_minutes=30)
    not_mine = mutation("admin")
    broken = mutation("maria", "conversation.status", conversation_id=CONV, status="SNOOZED")
    unknown_type = {**mutation("maria"), "type": "conversation.teleport"}
    nobody = mutation("maria", conversation_id=CONV, assignee="ghost")
    results = push(
        relay, member, good, admin_only, not_mine, broken, unknown_type, nobody, {}
    ).json()["results"]
    assert [r["status"] for r in results] == ["accepted"] + ["rejected"] * 6
    reasons = [r["reason"] for r in results[1:]]
    assert reasons[0] == "only an ADMIN may change the workspace's SLA"
    assert reasons[1] == "the author 'admin' is not the token's user 'maria'"
    assert "snoozed_until is required" in reasons[2]
    assert "unknown mutation type 'conversation.teleport'" in reasons[3]
    assert reasons[4] == "there is no active user named 'ghost'"
    assert reasons[5].startswith("unknown mutation type None")
    assert [e["event"]["id"] for e in relay.all_events(admin_token)] == [good["id"]]
    sla = mutation("admin", "workspace.sla", expected_first_response_minutes=30)
    assert push(relay, admin_token, sla).json()["results"][0]["status"] == "accepted"


def test_absurd_mutations_are_refused_one_by_one_never_a_server_error(
    relay: RelayProcess, admin_token: str
) -> None:
    good = mutation("admin")
    lone = "\ud800"  # JSON may carry it; UTF-8 cannot store or send it
    results = push(
        relay,
        admin_token,
        {**mutation("admin"), "type": {}},
        {**mutation("admin"), "type": ["conversation.assign"] * 40},
        {**mutation("admin"), "type": 5},
        {**mutation("admin"), "id": lone},
        mutation("admin", "conversation.note", conversation_id=CONV, text=f"hi {lone}"),
        good,
    )
    assert results.status_code == 200, results.text
    answers = results.json()["results"]
    assert [r["status"] for r in answers] == ["rejected"] * 5 + ["accepted"]
    reasons = [r["reason"] for r in answers]
    assert reasons[0].startswith("unknown mutation type {}")
    assert (
        reasons[1].startswith("unknown mutation type ['conversation.assign', ")
        and len(reasons[1]) < 140
    )
    assert (
        reasons[3]
        == reasons[4]
        == ("the mutation holds text that is not valid Unicode (a lone surrogate)")
    )
    assert answers[3]["id"] is None
    assert [e["event"]["id"] for e in relay.all_events(admin_token)] == [good["id"]]


def test_an_id_taken_by_another_user_is_refused(relay: RelayProcess, admin_token: str) -> None:
    member = relay.add_user("maria")
    mine = mutation("admin")
    push(relay, admin_token, mine)
    theirs = {**mine, "author": "maria", "payload": {"conversation_id": CONV, "assignee": None}}
    result = push(relay, member, theirs).json()["results"][0]
    assert result == {
        "id": mine["id"],
        "status": "rejected",
        "seq": None,
        "reason": "this mutation id is already used",
    }


def test_pushing_needs_a_token_and_a_sane_body(relay: RelayProcess, admin_token: str) -> None:
    assert push(relay, "inb_wrong", mutation("admin")).status_code == 401
    no_list = httpx.post(
        f"{relay.url}/v1/mutations",
        json={"mutations": "nope"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert no_list.status_code == 422
    too_many = push(relay, admin_token, *[mutation("admin") for _ in range(501)])
    assert too_many.status_code == 422
    assert relay.all_events(admin_token) == []


def test_the_team_and_the_diagnostics(relay: RelayProcess, admin_token: str) -> None:
    member = relay.add_user("maria")
    relay.add_user("gone")
    relay.cli("users", "revoke", "gone")
    team = relay.get("/v1/users", member).json()
    assert team == [{"name": "admin", "role": "ADMIN"}, {"name": "maria", "role": "MEMBER"}]
    assert relay.get("/v1/diagnostics", member).status_code == 403
    push(relay, admin_token, mutation("admin"))
    assert relay.post(b"not json").status_code == 200  # kept and listed as a failure
    report = relay.get("/v1/diagnostics", admin_token).json()
    assert report["head"] == 1 and report["mutations"] == 1 and report["writer_alive"] is True
    assert report["deliveries"] == {"FAILED": 1}
    assert report["open_integration_failures"] == 1
    assert report["recent_integration_failures"][0]["kind"] == "malformed_json"


def test_out_of_range_cursors_are_refused_as_input_errors(
    relay: RelayProcess, admin_token: str
) -> None:
    for after in ("9223372036854775808", "-1", "x"):
        assert relay.get("/v1/events", admin_token, after=after).status_code == 422
