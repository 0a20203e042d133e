"""Selling from the shell as a user runs it: the CLI, a real relay process, two agents; offline
first, then synced, with the same order numbers on both replicas."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from relay import simulator as mp
from tests.harness import RelayProcess, inboop


def run(home: Path, *args: str) -> str:
    result = inboop(home, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def as_json(home: Path, *args: str) -> Any:
    return json.loads(run(home, *args, "--json"))


def refused(home: Path, *args: str) -> str:
    result = inboop(home, *args)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


@pytest.fixture
def team(relay: RelayProcess, tmp_path: Path) -> tuple[Path, Path]:
    admin = tmp_path / "admin"
    member = tmp_path / "maria"
    run(admin, "login", relay.url, "--token", relay.add_user("admin", admin=True))
    run(member, "login", relay.url, "--token", relay.add_user("maria"))
    customer = mp.whatsapp(
        mp.wa_value(
            messages=[mp.wa_text("919000000001", "wamid.IN1", mp.T0_MS // 1000, "2 kurtas?")],
            contacts=[mp.wa_contact("919000000001", "Asha Verma")],
        )
    )
    assert relay.post(mp.body(customer)).status_code == 200
    for home in (admin, member):
        run(home, "sync")
    return admin, member


def test_the_whole_flow_offline_then_synced_to_a_teammate(
    relay: RelayProcess, team: tuple[Path, Path], tmp_path: Path
) -> None:
    admin, member = team
    run(admin, "payment-settings", "--provider", "razorpay", "--default", "razorpay", "--cod")
    run(admin, "sync")
    relay.stop()  # from here on, nothing reaches the relay
    lead = as_json(admin, "lead", "create", "Asha Verma", "--value", "2998", "--currency", "INR")
    assert lead["ok"] and not lead["sent"]
    made = as_json(
        admin,
        "order",
        "create",
        "Asha Verma",
        "--lead",
        lead["lead_id"][:8],
        "--item",
        "Blue kurta:2:1499",
        "--item",
        "Dupatta: silk:1:399.50",
        "--currency",
        "inr",
        "--cod",
        "--address",
        "12 MG Road, Pune",
        "--region",
        "in",
    )
    order_id = made["order_id"]
    shown = as_json(admin, "order", "show", order_id[:8])
    assert shown["number"] is None and shown["pending"] is True
    assert shown["total"] == 2 * 149900 + 39950 and shown["total_text"] == "INR 3,397.50"
    assert [i["name"] for i in shown["items"]] == ["Blue kurta", "Dupatta: silk"]
    for status in ("confirmed", "shipped", "delivered"):
        args = ["--tracking", "DTDC123"] if status == "shipped" else []
        run(admin, "order", "status", order_id[:8], status, *args)
    paid = as_json(admin, "order", "show", order_id[:8])
    assert (paid["status"], paid["payment_status"]) == ("DELIVERED", "PAID")
    assert as_json(admin, "leads")[0]["status"] == "CONVERTED"
    out = tmp_path / "orders.csv"
    run(admin, "export", "orders", "--out", str(out))
    exported = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["status"], r["payment_status"], r["total"]) for r in exported] == [
        ("DELIVERED", "PAID", "3397.50")
    ]

    relay.start()
    run(admin, "sync")
    run(member, "sync")
    mine, theirs = (as_json(home, "order", "show", order_id[:8]) for home in (admin, member))
    assert mine["number"] == theirs["number"] == "ORD-1001"
    for key in ("status", "payment_status", "total", "lead_id", "tracking_number", "items"):
        assert mine[key] == theirs[key]
    assert [e["description"] for e in mine["timeline"]] == [
        e["description"] for e in theirs["timeline"]
    ]
    assert "ORD-1001" in run(member, "orders", "--status", "delivered")
    summary = as_json(member, "payments")
    assert summary["by_status"] == [
        {"currency": "INR", "key": "PAID", "count": 1, "amount": 339750}
    ]


def test_payment_settings_warn_and_the_order_is_still_made(team: tuple[Path, Path]) -> None:
    admin, member = team
    run(admin, "payment-settings", "--provider", "stripe", "--default", "stripe")
    run(admin, "sync")
    run(member, "sync")
    result = inboop(
        member,
        "order",
        "create",
        "Asha Verma",
        "--item",
        "Kurta:1:999",
        "--currency",
        "INR",
        "--cod",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "warning: cash on delivery is turned off in the payment settings: recorded as ONLINE"
        in result.stderr
    )
    order = as_json(member, "orders")[0]
    assert (order["payment_method"], order["payment_provider"]) == ("ONLINE", "STRIPE")
    assert order["warnings"] == [
        "cash on delivery is turned off in the payment settings: recorded as ONLINE"
    ]


def test_mistakes_get_one_line_and_change_nothing(team: tuple[Path, Path]) -> None:
    _admin, member = team
    base = ["order", "create", "Asha Verma", "--currency", "INR"]
    assert "not an amount" in refused(member, *base, "--item", "Kurta:1:12,5.x")
    assert "not an item" in refused(member, *base, "--item", "Kurta-1-999")
    assert "is not a currency code" in refused(
        member, "order", "create", "Asha Verma", "--item", "Kurta:1:9", "--currency", "RUPEES"
    )
    assert "JPY amounts take no decimals" in refused(
        member, "order", "create", "Asha Verma", "--item", "K:1:9.5", "--currency", "JPY"
    )
    assert "'India' is not a country code" in refused(
        member, *base, "--item", "Kurta:1:9", "--region", "India"
    )
    assert "item names are at most 200 characters" in refused(
        member, *base, "--item", "K" * 201 + ":1:9"
    )
    assert as_json(member, "orders") == []
    ref = as_json(member, *base, "--item", "Kurta:1:999")["order_id"][:8]
    assert "it can become confirmed, cancelled" in refused(
        member, "order", "status", ref, "shipped"
    )
    assert "ORD-1001 is UNPAID: it can become paid" in refused(
        member, "order", "pay", ref, "refunded"
    )
    run(member, "order", "pay", "1001", "paid")
    assert "only an ADMIN may mark an order refunded" in refused(
        member, "order", "pay", ref, "refunded"
    )
    assert "only an ADMIN may change the payment settings" in refused(
        member, "payment-settings", "--provider", "stripe"
    )
    assert "no order ORD-9999" in refused(member, "order", "show", "ORD-9999")
    lead = as_json(member, "lead", "create", "Asha Verma")["lead_id"][:8]
    run(member, "lead", "lost", lead, "--reason", "bought elsewhere")
    assert "closed leads are read-only" in refused(member, "lead", "close", lead, "--reason", "x")


def test_contacts_are_edited_and_merged_by_admins(
    relay: RelayProcess, team: tuple[Path, Path]
) -> None:
    admin, member = team
    ig = mp.instagram(mp.text_message(mp.IG_ACCOUNT_ID, "IGSID1", "ig_in1", "same person"))
    assert relay.post(mp.body(ig)).status_code == 200
    run(admin, "sync")
    assert "only an ADMIN may edit a contact" in refused(
        member, "contact", "edit", "Asha Verma", "--email", "asha@example.com"
    )
    run(
        admin, "contact", "edit", "Asha Verma", "--email", "asha@example.com", "--meta", "tier=gold"
    )
    run(admin, "contact", "merge", "Asha Verma", "IGSID1")
    card = as_json(admin, "contact", "show", "IGSID1")
    assert card["name"] == "Asha Verma" and card["email"] == "asha@example.com"
    assert sorted(h["channel"] for h in card["handles"]) == ["INSTAGRAM", "WHATSAPP"]
    assert card["metadata"] == {"tier": "gold"}
    run(member, "sync")
    assert as_json(member, "contact", "show", "IGSID1")["email"] == "asha@example.com"
    assert [c["name"] for c in as_json(member, "contacts", "--search", "asha@")] == ["Asha Verma"]


def test_selling_exports_neutralise_formulas_and_keep_filters(
    team: tuple[Path, Path], tmp_path: Path
) -> None:
    admin, _ = team
    run(admin, "lead", "create", "Asha Verma", "--notes", '=HYPERLINK("http://x")')
    made = as_json(
        admin, "order", "create", "Asha Verma", "--item", "@SUM(A1):1:10", "--currency", "USD"
    )
    run(admin, "order", "status", made["order_id"][:8], "cancelled")
    as_json(admin, "order", "create", "Asha Verma", "--item", "Kurta:3:12.5", "--currency", "USD")
    leads_csv, items_csv, orders_jsonl = (tmp_path / n for n in ("l.csv", "i.csv", "o.jsonl"))
    run(admin, "export", "leads", "--out", str(leads_csv))
    (lead,) = list(csv.DictReader(leads_csv.open()))
    assert lead["notes"] == '\'=HYPERLINK("http://x")'
    run(admin, "export", "orders", "--items", "--out", str(items_csv), "--status", "cancelled")
    (item,) = list(csv.DictReader(items_csv.open()))
    assert (item["item"], item["line_total"], item["line_total_minor"]) == (
        "'@SUM(A1)",
        "10.00",
        "1000",
    )
    run(
        admin,
        "export",
        "orders",
        "--format",
        "jsonl",
        "--out",
        str(orders_jsonl),
        "--status",
        "new",
    )
    (line,) = [json.loads(x) for x in orders_jsonl.read_text().splitlines()]
    assert (line["total"], line["total_minor"], line["items"]) == ("37.50", 3750, "3 x Kurta")
