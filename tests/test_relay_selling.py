"""The relay and selling mutations: who may push what, the named entries it appends after them
(OrderCreated with the number every replica derives, LeadConverted, OrderDelivered), and the
hook point that follows the log without ever holding it up."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from relay import simulator as mp
from relay.log import StoredEvent
from tests.relay_in_process import relay_in_process

CONV = "cv_" + "b" * 24


def mutation(author: str, kind: str, **payload: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "author": author,
        "client_time": "2026-11-25T10:00:00.000Z",
        "type": kind,
        "payload": payload,
    }


def order(author: str, lead: str | None = None) -> dict[str, Any]:
    return mutation(
        author,
        "order.create",
        order_id=str(uuid.uuid4()),
        conversation_id=CONV,
        lead_id=lead,
        items=[{"name": "Kurta", "quantity": 1, "unit_price": 99900}],
        currency="INR",
    )


def test_named_entries_follow_what_the_mutations_did() -> None:
    with relay_in_process({"ana": False, "root": True}) as relay:
        lead = str(uuid.uuid4())
        superseded = str(uuid.uuid4())
        first, second = order("ana"), order("ana", lead)
        ship = first["payload"]["order_id"]
        batch = [
            mutation("ana", "lead.create", lead_id=superseded, conversation_id=CONV),
            mutation("ana", "lead.create", lead_id=lead, conversation_id=CONV),
            first,
            second,
            order("ana", superseded),  # that lead was closed by the next one: not converted
            mutation("ana", "order.status", order_id=ship, status="DELIVERED"),  # not allowed
            mutation("ana", "order.status", order_id=ship, status="CONFIRMED"),
            mutation("ana", "order.status", order_id=ship, status="SHIPPED"),
            mutation("ana", "order.status", order_id=ship, status="DELIVERED"),
        ]
        answer = relay.client.post(
            "/v1/mutations",
            json={"mutations": batch},
            headers={"Authorization": f"Bearer {relay.tokens['ana']}"},
        ).json()
        assert all(r["status"] == "accepted" for r in answer["results"])
        log = relay.log()
        named = [(e["type"], e["event"]) for e in log if e["origin"] == "domain"]
        assert [(kind, body.get("number")) for kind, body in named] == [
            ("OrderCreated", "ORD-1001"),
            ("OrderCreated", "ORD-1002"),
            ("LeadConverted", None),
            ("OrderCreated", "ORD-1003"),
            ("OrderDelivered", "ORD-1001"),
        ]
        assert (
            named[2][1]["lead_id"] == lead
            and named[2][1]["order_id"] == second["payload"]["order_id"]
        )
        # Each named entry comes right after its mutation, and pushing again adds nothing.
        seqs = {e["event"].get("id"): e["seq"] for e in log if e["origin"] == "mutation"}
        created = next(e for e in log if e["type"] == "OrderCreated")
        assert created["seq"] == seqs[first["id"]] + 1
        relay.client.post(
            "/v1/mutations",
            json={"mutations": batch},
            headers={"Authorization": f"Bearer {relay.tokens['ana']}"},
        )
        assert len(relay.log()) == len(log)


def test_refunds_and_settings_are_refused_to_members() -> None:
    with relay_in_process({"ana": False, "root": True}) as relay:
        refund = mutation("ana", "order.payment", order_id=str(uuid.uuid4()), status="REFUNDED")
        settings = mutation("ana", "workspace.payments", enabled_providers=["STRIPE"])
        merge = mutation(
            "ana", "contact.merge", contact_id="ct_" + "1" * 24, merged_id="ct_" + "2" * 24
        )
        paid = mutation("ana", "order.payment", order_id=str(uuid.uuid4()), status="PAID")
        nobody = {**order("ana"), "payload": {**order("ana")["payload"], "assignee": "ghost"}}
        results = relay.client.post(
            "/v1/mutations",
            json={"mutations": [refund, settings, merge, paid, nobody]},
            headers={"Authorization": f"Bearer {relay.tokens['ana']}"},
        ).json()["results"]
        assert [r["reason"] for r in results] == [
            "only an ADMIN may mark an order refunded",
            "only an ADMIN may change the payment settings",
            "only an ADMIN may merge contacts",
            None,
            "there is no active user named 'ghost'",
        ]


def test_a_failing_or_stuck_subscriber_never_holds_up_the_log() -> None:
    seen: list[int] = []
    release = threading.Event()
    stuck_saw: list[int] = []

    def recorder(entry: StoredEvent) -> None:
        seen.append(entry.seq)

    failed_on: list[int] = []

    def failing(entry: StoredEvent) -> None:
        failed_on.append(entry.seq)
        raise RuntimeError(f"the webhook endpoint is down ({entry.seq})")

    def stuck(entry: StoredEvent) -> None:
        stuck_saw.append(entry.seq)
        release.wait(30)

    with relay_in_process({"ana": True}, subscribers=[failing, stuck, recorder]) as relay:
        for n in range(20):
            relay.deliver(
                mp.body(
                    mp.messenger(mp.text_message(mp.PAGE_ID, f"PSID{n}", f"m_{n}", f"hello {n}"))
                )
            )
        pushed = relay.client.post(
            "/v1/mutations",
            json={"mutations": [order("ana")]},
            headers={"Authorization": f"Bearer {relay.tokens['ana']}"},
        )
        assert pushed.json()["results"][0]["status"] == "accepted"
        head = len(relay.log())
        deadline = time.monotonic() + 20
        while len(seen) < head and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen == list(range(1, head + 1))  # every entry, once, in log order
        assert failed_on == seen  # a subscriber that raises goes on with the next entry
        assert stuck_saw == [1]  # still on its first entry; nobody waited for it
        release.set()
