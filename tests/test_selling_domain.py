"""Leads, orders and payment status on a real replica file: the rules every replica enforces
(domain.selling), through the one door, confirmed by log entries made as the relay serves them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from inboop_tui.domain.money import MoneyError, format_money, parse_amount
from inboop_tui.domain.selling import PaymentConfig, resolve_payment
from inboop_tui.store.actions import ActionError, Identity
from inboop_tui.store.db import open_replica, writing
from inboop_tui.store.queries import InboxFilter
from inboop_tui.store.rebuild import rebuild
from inboop_tui.store.replica import Replica
from inboop_tui.store.selling_actions import ItemInput
from inboop_tui.store.tables import conflicts, conversations, leads, orders, outbox, team
from relay.protocol import CURRENCY_DIGITS
from tests.app_support import FIXED_NOW
from tests.harness import fill_replica, scenario
from tests.test_pending_layer import as_log, outbox_entries


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_replica(tmp_path / "replica.db")
    fill_replica(engine, scenario())
    with writing(engine) as conn:
        conn.execute(
            insert(team), [{"name": "ana", "role": "MEMBER"}, {"name": "root", "role": "ADMIN"}]
        )
    yield engine
    engine.dispose()


def replica(engine: Engine, name: str = "ana", role: str = "MEMBER") -> Replica:
    return Replica(engine, Identity(name, role), lambda: FIXED_NOW)


def conversation_ids(r: Replica, n: int = 2) -> list[str]:
    return [row.id for row in r.window(InboxFilter(status=None), 0, n)]


def rows(engine: Engine, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(table)).mappings()]


def confirm_all(engine: Engine) -> None:
    """The relay accepts the outbox in order and serves it back."""
    as_log(engine, outbox_entries(engine))


def lead_status(engine: Engine, lead_id: str) -> str:
    return next(row["status"] for row in rows(engine, leads) if row["id"] == lead_id)


def order(engine: Engine, order_id: str) -> dict[str, Any]:
    return next(row for row in rows(engine, orders) if row["id"] == order_id)


# --- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor", "shown"),
    [
        ("1499", "INR", 149900, "INR 1,499.00"),
        ("1499.5", "INR", 149950, "INR 1,499.50"),
        ("1,499.50", "USD", 149950, "USD 1,499.50"),
        ("1500", "JPY", 1500, "JPY 1,500"),
        ("0.250", "KWD", 250, "KWD 0.250"),
        ("12.345", "BHD", 12345, "BHD 12.345"),
    ],
)
def test_amounts_are_read_and_shown_in_each_currencys_minor_units(
    text: str, currency: str, minor: int, shown: str
) -> None:
    assert parse_amount(text, currency) == minor
    assert format_money(minor, currency) == shown


@pytest.mark.parametrize(
    ("text", "currency", "says"),
    [
        ("12.5", "JPY", "JPY amounts take no decimals"),
        ("1.2345", "KWD", "KWD amounts take at most 3 decimals"),
        ("-5", "INR", "is not an amount"),
        ("1e3", "USD", "is not an amount"),
        ("", "USD", "is not an amount"),
    ],
)
def test_a_bad_amount_says_why(text: str, currency: str, says: str) -> None:
    with pytest.raises(MoneyError, match=says):
        parse_amount(text, currency)


@given(
    st.sampled_from(sorted(CURRENCY_DIGITS)),
    st.integers(min_value=0, max_value=10**14),
)
def test_money_round_trips_through_text_without_floats(currency: str, minor: int) -> None:
    shown = format_money(minor, currency).split(" ", 1)[1]
    assert parse_amount(shown, currency) == minor


# --- leads ---------------------------------------------------------------------------------


def test_one_new_lead_per_conversation_and_a_new_one_supersedes(engine: Engine) -> None:
    r = replica(engine)
    cid = conversation_ids(r, 1)[0]
    first = r.actions.create_lead(cid, value="1499", currency="INR", notes="blue kurta")
    second = r.actions.create_lead(cid, notes="red one instead")
    assert first.entity_id and second.entity_id
    assert lead_status(engine, first.entity_id) == "CLOSED"
    old = next(row for row in rows(engine, leads) if row["id"] == first.entity_id)
    assert old["close_reason"] == f"superseded by lead {second.entity_id[:8]}"
    assert lead_status(engine, second.entity_id) == "NEW"
    assert r.conversation(cid) is not None
    with engine.connect() as conn:
        assert (
            conn.execute(select(conversations.c.lead_id).where(conversations.c.id == cid)).scalar()
            == second.entity_id
        )
    confirm_all(engine)
    assert lead_status(engine, first.entity_id) == "CLOSED"
    assert lead_status(engine, second.entity_id) == "NEW"
    with pytest.raises(ActionError, match="closed leads are read-only"):
        r.actions.close_lead(first.entity_id, "lost", "too late")
    r.actions.close_lead(second.entity_id, "lost", "bought elsewhere")
    confirm_all(engine)
    assert lead_status(engine, second.entity_id) == "LOST"
    report = rebuild(engine)
    assert report.identical, report.differing


def test_a_lead_closed_elsewhere_first_makes_this_change_a_conflict(engine: Engine) -> None:
    r = replica(engine)
    cid = conversation_ids(r, 1)[0]
    lead = r.actions.create_lead(cid).entity_id
    assert lead is not None
    confirm_all(engine)
    mine = r.actions.update_lead(lead, notes="call back friday")
    theirs = {
        "id": "00000000-0000-4000-8000-000000000001",
        "author": "root",
        "client_time": "2026-11-25T12:00:00.000Z",
        "type": "lead.close",
        "payload": {"lead_id": lead, "status": "CLOSED", "reason": "duplicate"},
    }
    as_log(engine, [theirs, *outbox_entries(engine)])
    assert lead_status(engine, lead) == "CLOSED"
    found = rows(engine, conflicts)
    assert [c["mutation_id"] for c in found] == [mine.mutation_id]
    assert "is CLOSED already" in found[0]["reason"]
    report = rebuild(engine)
    assert report.identical, report.differing


# --- orders --------------------------------------------------------------------------------


def test_an_order_converts_its_lead_and_numbers_come_from_log_order(engine: Engine) -> None:
    r = replica(engine)
    cid = conversation_ids(r, 1)[0]
    lead = r.actions.create_lead(cid).entity_id
    made = r.actions.create_order(
        cid,
        [ItemInput("Blue kurta", 2, "1499.50"), ItemInput("Dupatta", 1, "399")],
        "INR",
        lead=lead,
        address="12 MG Road, Pune",
    )
    pending = order(engine, str(made.entity_id))
    assert pending["number"] is None and pending["total"] == 2 * 149950 + 39900
    assert lead is not None and lead_status(engine, lead) == "CONVERTED"
    confirm_all(engine)
    confirmed = order(engine, str(made.entity_id))
    assert confirmed["number"] == "ORD-1001" and confirmed["lead_id"] == lead
    timeline = json.loads(confirmed["timeline"])
    assert [e["type"] for e in timeline] == ["CREATED", "LEAD"]
    assert timeline[0]["description"].startswith("created: 2 x Blue kurta @ INR 1,499.50")
    assert not any(e["pending"] for e in timeline)
    report = rebuild(engine)
    assert report.identical, report.differing


def test_fulfilment_moves_only_forward_and_locks_items_once_shipped(engine: Engine) -> None:
    r = replica(engine)
    cid = conversation_ids(r, 1)[0]
    ref = str(r.actions.create_order(cid, [ItemInput("Saree", 1, "2500")], "INR").entity_id)
    with pytest.raises(ActionError, match="it can become confirmed, cancelled"):
        r.actions.set_order_status(ref, "shipped")
    r.actions.set_order_status(ref, "confirmed")
    r.actions.update_order(ref, items=[ItemInput("Saree", 2, "2500")], notes="gift wrap")
    r.actions.set_order_status(ref, "shipped", tracking="DTDC123")
    with pytest.raises(ActionError, match="items and address can no longer change"):
        r.actions.update_order(ref, address="elsewhere")
    r.actions.update_order(ref, notes="left at the door")  # notes: any time
    with pytest.raises(ActionError, match="it can become delivered"):
        r.actions.set_order_status(ref, "cancelled")
    confirm_all(engine)
    done = order(engine, ref)
    assert (done["status"], done["tracking_number"], done["total"]) == (
        "SHIPPED",
        "DTDC123",
        500000,
    )
    assert done["notes"] == "left at the door"
    kinds = [e["type"] for e in json.loads(done["timeline"])]
    assert kinds == ["CREATED", "STATUS", "EDIT", "STATUS", "EDIT"]
    report = rebuild(engine)
    assert report.identical, report.differing


def test_cash_on_delivery_is_paid_when_delivered(engine: Engine) -> None:
    r = replica(engine, "root", "ADMIN")
    cid = conversation_ids(r, 1)[0]
    r.actions.set_payment_config(["RAZORPAY", "MANUAL"], default="RAZORPAY", allow_cod=True)
    ref = str(
        r.actions.create_order(cid, [ItemInput("Kurta", 1, "999")], "INR", cod=True).entity_id
    )
    for status in ("confirmed", "shipped", "delivered"):
        r.actions.set_order_status(ref, status)
    confirm_all(engine)
    done = order(engine, ref)
    assert (done["status"], done["payment_method"], done["payment_status"]) == (
        "DELIVERED",
        "COD",
        "PAID",
    )
    last = json.loads(done["timeline"])[-1]
    assert (last["actor"], last["description"]) == ("SYSTEM", "cash collected on delivery: PAID")
    r.actions.set_order_payment(ref, "refunded")
    confirm_all(engine)
    assert order(engine, ref)["payment_status"] == "REFUNDED"
    with pytest.raises(ActionError, match="it can become nothing"):
        r.actions.set_order_payment(ref, "paid")


def test_refunds_and_payment_settings_are_for_admins(engine: Engine) -> None:
    admin = replica(engine, "root", "ADMIN")
    member = replica(engine)
    cid = conversation_ids(member, 1)[0]
    ref = str(member.actions.create_order(cid, [ItemInput("Kurta", 1, "999")], "INR").entity_id)
    member.actions.set_order_payment(ref, "paid")
    with pytest.raises(ActionError, match="only an ADMIN may mark an order refunded"):
        member.actions.set_order_payment(ref, "refunded")
    with pytest.raises(ActionError, match="only an ADMIN may change the payment settings"):
        member.actions.set_payment_config(["STRIPE"])
    admin.actions.set_order_payment(ref, "refunded")
    assert order(engine, ref)["payment_status"] == "REFUNDED"


# --- payment settings never block an order ---------------------------------------------------


@pytest.mark.parametrize(
    ("config", "cod", "provider", "region", "method", "recorded", "warning"),
    [
        (None, False, "STRIPE", None, "ONLINE", "STRIPE", "payments are not set up yet"),
        (None, True, None, "IN", "COD", None, "cash on delivery not checked"),
        (
            PaymentConfig(("STRIPE", "RAZORPAY"), "RAZORPAY"),
            False,
            "PAYPAL",
            None,
            "ONLINE",
            "RAZORPAY",
            "PAYPAL is not an enabled provider: RAZORPAY recorded instead",
        ),
        (
            PaymentConfig(("STRIPE",), None),
            False,
            "PAYPAL",
            None,
            "ONLINE",
            None,
            "PAYPAL is not an enabled provider: no provider recorded",
        ),
        (
            PaymentConfig(("RAZORPAY",), "RAZORPAY", allow_cod=False),
            True,
            None,
            "IN",
            "ONLINE",
            "RAZORPAY",
            "cash on delivery is turned off",
        ),
        (
            PaymentConfig(("RAZORPAY",), "RAZORPAY", allow_cod=True, cod_regions=("IN",)),
            True,
            None,
            "AE",
            "ONLINE",
            "RAZORPAY",
            "cash on delivery is not offered in AE (only in IN)",
        ),
        (
            PaymentConfig(("RAZORPAY",), "RAZORPAY", allow_cod=True, cod_regions=("IN",)),
            True,
            None,
            "IN",
            "COD",
            None,
            None,
        ),
    ],
)
def test_payment_settings_fall_back_and_warn_but_never_refuse(
    engine: Engine,
    config: PaymentConfig | None,
    cod: bool,
    provider: str | None,
    region: str | None,
    method: str,
    recorded: str | None,
    warning: str | None,
) -> None:
    admin = replica(engine, "root", "ADMIN")
    cid = conversation_ids(admin, 1)[0]
    if config is not None:
        admin.actions.set_payment_config(
            config.enabled_providers,
            default=config.default_provider,
            allow_cod=config.allow_cod,
            cod_regions=config.cod_regions,
        )
    made = admin.actions.create_order(
        cid, [ItemInput("Kurta", 1, "999")], "INR", cod=cod, provider=provider, region=region
    )
    assert (
        made.warnings
        == resolve_payment(config, "COD" if cod else "ONLINE", provider, region).warnings
    )
    confirm_all(engine)
    row = order(engine, str(made.entity_id))
    assert (row["payment_method"], row["payment_provider"]) == (method, recorded)
    warnings = json.loads(row["warnings"])
    if warning is None:
        assert warnings == []
    else:
        assert any(warning in w for w in warnings), warnings
        assert any(e["type"] == "WARNING" for e in json.loads(row["timeline"]))


# --- numbering across replicas ----------------------------------------------------------------


def test_orders_made_offline_on_three_replicas_get_distinct_numbers_in_log_order(
    tmp_path: Path,
) -> None:
    engines = []
    for name in ("ana", "bo", "cy"):
        engine = open_replica(tmp_path / f"{name}.db")
        fill_replica(engine, scenario())
        with writing(engine) as conn:
            conn.execute(insert(team), [{"name": n, "role": "MEMBER"} for n in ("ana", "bo", "cy")])
        engines.append(engine)
    made: list[dict[str, Any]] = []
    for engine, name in zip(engines, ("ana", "bo", "cy"), strict=True):
        r = replica(engine, name)
        cid = conversation_ids(r, 1)[0]
        for n in range(2):
            r.actions.create_order(cid, [ItemInput(f"{name} item {n}", 1, "10")], "USD")
        assert all(row["number"] is None for row in rows(engine, orders))
        made += outbox_entries(engine)
    log = [made[i] for i in (2, 0, 4, 1, 5, 3)]  # the relay's order: pushes interleaved
    numbers = []
    for engine in engines:
        as_log(engine, log)
        with engine.connect() as conn:
            assert conn.execute(select(outbox)).first() is None
        numbers.append({row["id"]: row["number"] for row in rows(engine, orders)})
        report = rebuild(engine)
    assert report.identical, report.differing
    assert numbers[0] == numbers[1] == numbers[2]
    by_log = [numbers[0][m["payload"]["order_id"]] for m in log]
    assert by_log == [f"ORD-{1001 + i}" for i in range(6)]
    for engine in engines:
        engine.dispose()


def test_channel_events_never_create_or_change_a_lead_or_an_order(engine: Engine) -> None:
    r = replica(engine)
    cid = conversation_ids(r, 1)[0]
    lead = str(r.actions.create_lead(cid).entity_id)
    confirm_all(engine)
    before = (rows(engine, leads), rows(engine, orders))
    fill_replica(engine, scenario())  # every customer's messages, statuses, reactions again
    assert (rows(engine, leads), rows(engine, orders)) == before
    assert lead_status(engine, lead) == "NEW"
