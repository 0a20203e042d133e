"""Selling in the real app under the pilot: the whole flow with the relay down (lead, order,
confirm, ship, deliver, COD paid, export), then the relay comes back and a teammate's replica
shows the same order, number included. Also the board, the leads screen and the settings."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from textual.widgets import DataTable, Input, OptionList, Static, Switch, TextArea

from inboop_tui.app import InboopApp
from inboop_tui.screens.export_dialog import ExportDialog
from inboop_tui.screens.inbox import InboxScreen
from inboop_tui.screens.leads import LeadsScreen
from inboop_tui.screens.orders import OrderDetailScreen, OrdersScreen
from inboop_tui.screens.payments import PaymentsScreen
from inboop_tui.screens.selling_dialogs import (
    LeadDialog,
    OrderDialog,
    OrderStatusDialog,
    PaymentSettingsDialog,
    ReasonDialog,
)
from inboop_tui.store.config import ClientConfig, save_config
from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths
from inboop_tui.store.queries import InboxFilter
from inboop_tui.store.selling_actions import ItemInput
from inboop_tui.store.selling_queries import LeadFilter, OrderFilter
from inboop_tui.widgets.thread_body import ThreadBody
from inboop_tui.widgets.thread_view import ThreadView
from relay import simulator as mp
from tests.app_support import (
    FIXED_NOW,
    demo_bodies,
    make_app,
    settle,
    shown,
    use_utc,
    wait_until,
)
from tests.harness import RelayProcess, inboop


@pytest.fixture(autouse=True)
def utc() -> None:
    use_utc()


@pytest.fixture
def team(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> Iterator[tuple[Paths, Engine, Path]]:
    """An ADMIN's synced replica (as the app opens it) and a teammate's CLI home."""
    for body in demo_bodies(3):
        assert relay.post(body).status_code == 200
    teammate = tmp_path / "maria"
    assert inboop(teammate, "login", relay.url, "--token", relay.add_user("maria")).returncode == 0
    admin = tmp_path / "admin"
    assert inboop(admin, "login", relay.url, "--token", admin_token).returncode == 0
    assert inboop(admin, "sync").returncode == 0
    paths = Paths(admin, admin)
    engine = open_replica(paths.database)
    yield paths, engine, teammate
    engine.dispose()


def text_of(app: InboopApp, selector: str) -> str:
    return " ".join(shown(app.screen.query_one(selector, Static), width=200).split())


def orders_of(app: InboopApp) -> list[str]:
    table = app.screen.query_one("#orders-table", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def type_into(app: InboopApp, selector: str, text: str) -> None:
    app.screen.query_one(selector, Input).value = text


async def test_the_whole_flow_with_the_relay_down_then_synced(
    relay: RelayProcess, team: tuple[Paths, Engine, Path], tmp_path: Path
) -> None:
    paths, engine, teammate = team
    relay.stop()
    app = make_app(paths, engine)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        # Payment settings first (ADMIN): COD in India.
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, PaymentsScreen)
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PaymentSettingsDialog)
        app.screen.query_one("#cod", Switch).value = True
        type_into(app, "#default", "razorpay")
        type_into(app, "#regions", "IN")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "cash on delivery in IN" in text_of(app, "#payments-summary")

        # The inbox: $ makes a lead, then $ makes an order for it.
        await pilot.press("f1")
        await settle(pilot)
        assert "$ create a lead" in text_of(app, "#thread-header")
        await pilot.press("dollar_sign")
        await settle(pilot)
        assert isinstance(app.screen, LeadDialog)
        type_into(app, "#value", "2998")
        type_into(app, "#currency", "INR")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "lead NEW · $ create an order" in text_of(app, "#thread-header")
        await pilot.press("dollar_sign")
        await settle(pilot)
        assert isinstance(app.screen, OrderDialog)
        assert app.screen.query_one("#currency", Input).value == "INR"  # the lead's
        app.screen.query_one("#items", TextArea).insert("Blue kurta:2:1499\nDupatta:1:399.50")
        type_into(app, "#region", "IN")
        app.screen.query_one("#cod", Switch).value = True
        await settle(pilot)
        assert "total INR 3,397.50" in text_of(app, "#total")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "no open lead · 1 order" in text_of(app, "#thread-header")

        # Orders: pending until synced; moved along from the detail; COD paid on delivery.
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen)
        assert [label.startswith("pending ") for label in orders_of(app)] == [True]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, OrderDetailScreen)
        await pilot.press("greater_than_sign")  # confirmed
        await settle(pilot)
        await pilot.press("greater_than_sign")  # shipping asks for the tracking number
        await settle(pilot)
        assert isinstance(app.screen, OrderStatusDialog)
        await pilot.press(*"DTDC123", "enter")
        await settle(pilot)
        await pilot.press("greater_than_sign")  # delivered
        await settle(pilot)
        body = text_of(app, "#order-body")
        assert "DELIVERED · PAID · COD · RAZORPAY" not in body  # COD records no provider
        assert "DELIVERED · PAID · COD" in body and "tracking: DTDC123" in body
        for step in (
            "status NEW → CONFIRMED",
            "status CONFIRMED → SHIPPED (tracking DTDC123)",
            "status SHIPPED → DELIVERED",
            "cash collected on delivery: PAID",
            "converted lead",
        ):
            assert step in body
        await pilot.press("escape")
        await settle(pilot)

        # Export, from the Orders screen, with its filters.
        out = tmp_path / "orders.csv"
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        type_into(app, "#path", str(out))
        await pilot.click("#export")
        await wait_until(pilot, out.exists)
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [(r["status"], r["payment_status"], r["total"], r["items"]) for r in rows] == [
            ("DELIVERED", "PAID", "3397.50", "2 x Blue kurta; 1 x Dupatta")
        ]

        # The relay comes back: a sync numbers the order, and a teammate sees the same.
        relay.start()
        await pilot.press("s")
        await wait_until(pilot, lambda: orders_of(app) == ["ORD-1001"])
    assert inboop(teammate, "sync").returncode == 0
    theirs = json.loads(inboop(teammate, "orders", "--json").stdout)
    assert [(o["number"], o["status"], o["payment_status"], o["total"]) for o in theirs] == [
        ("ORD-1001", "DELIVERED", "PAID", 339750)
    ]
    assert json.loads(inboop(teammate, "leads", "--json", "--status", "converted").stdout)


async def test_the_board_moves_orders_along_and_leads_close_with_a_reason(
    team: tuple[Paths, Engine, Path],
) -> None:
    paths, engine, _ = team
    save_config(paths, ClientConfig(user_name="admin", role="ADMIN"))  # no relay: offline
    app = make_app(paths, engine)
    replica = app.replica
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        inbox = app.screen
        assert isinstance(inbox, InboxScreen)
        rows = [inbox.conversations.row(i) for i in range(3)]
        made = []
        for row in rows:
            assert row is not None
            made.append(replica.actions.create_lead(row.id, notes=f"wants {row.display_name}"))
        first = rows[0]
        assert first is not None
        lead = made[0].entity_id
        replica.actions.create_order(first.id, [ItemInput("Saree", 1, "2500")], "INR", lead=lead)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        new_column = app.screen.query_one("#column-NEW", OptionList)
        assert new_column.option_count == 1 and new_column.has_focus
        new_column.highlighted = 0
        await pilot.press("greater_than_sign")
        await settle(pilot)
        assert app.screen.query_one("#column-CONFIRMED", OptionList).option_count == 1
        assert replica.orders(OrderFilter())[0].status == "CONFIRMED"
        confirmed = app.screen.query_one("#column-CONFIRMED", OptionList)
        assert confirmed.has_focus and confirmed.highlighted == 0  # the selection moved with it
        await pilot.press("right")  # the next column; and back
        await settle(pilot)
        assert app.screen.query_one("#column-SHIPPED", OptionList).has_focus
        await pilot.press("left")
        await settle(pilot)
        await pilot.press("x")  # cancel: allowed before shipping
        await settle(pilot)
        assert app.screen.query_one("#column-CANCELLED", OptionList).option_count == 1
        assert replica.orders(OrderFilter())[0].status == "CANCELLED"

        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, LeadsScreen)
        assert "2 leads · new" in text_of(app, "#filter-line")  # the first one converted
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press(*"bought elsewhere", "enter")
        await settle(pilot)
        assert "1 lead · new" in text_of(app, "#filter-line")
        await pilot.press("S")  # converted
        await settle(pilot)
        assert "1 lead · converted" in text_of(app, "#filter-line")
        await pilot.press("S")  # lost
        await settle(pilot)
        assert "bought elsewhere" in text_of(app, "#lead-detail")
        lost = replica.leads(LeadFilter(status="LOST"))[0]
        await pilot.press("enter")  # its conversation, in the inbox
        await settle(pilot)
        assert isinstance(app.screen, InboxScreen)
        shown_now = app.screen.query_one(ThreadView).shown
        assert shown_now is not None and shown_now[0].id == lost.conversation_id


async def test_a_whatsapp_cart_shows_as_a_cart_and_prefills_an_order(
    relay: RelayProcess, team: tuple[Paths, Engine, Path]
) -> None:
    paths, engine, _ = team
    cart = mp.wa_cart(
        "919000000077",
        "wamid.CART1",
        int(FIXED_NOW.timestamp()) - 60,
        [("SKU-KURTA-BLUE", 2, 1499.5, "INR"), ("SKU-DUPATTA", 1, 399, "INR")],
        text="these please",
    )
    body = mp.whatsapp(
        mp.wa_value(messages=[cart], contacts=[mp.wa_contact("919000000077", "Kavya Rao")])
    )
    assert relay.post(mp.body(body)).status_code == 200
    assert inboop(paths.config_dir, "sync").returncode == 0
    app = make_app(paths, engine)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        inbox = app.screen
        assert isinstance(inbox, InboxScreen)
        row = next(
            r
            for i in range(inbox.conversations.count)
            if (r := inbox.conversations.row(i)) is not None and r.display_name == "Kavya Rao"
        )
        inbox.go_to(row.id)
        await settle(pilot)
        body_text = " ".join(shown(app.screen.query_one(ThreadBody), width=200).split())
        assert "[cart] 2 x SKU-KURTA-BLUE @ INR 1499.5 1 x SKU-DUPATTA @ INR 399" in body_text
        assert "total INR 3,398.00 B: create an order from this cart" in body_text
        await pilot.press("B")
        await settle(pilot)
        assert isinstance(app.screen, OrderDialog)
        assert app.screen.query_one("#currency", Input).value == "INR"
        assert app.screen.query_one("#items", TextArea).text == (
            "SKU-KURTA-BLUE:2:1499.5\nSKU-DUPATTA:1:399"
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
    (order,) = app.replica.orders(OrderFilter())
    assert order.total == 339800 and order.conversation_id == row.id
    assert [i["retailer_id"] for i in order.items] == ["SKU-KURTA-BLUE", "SKU-DUPATTA"]


async def test_the_order_form_keeps_what_was_typed_and_locks_a_shipped_order(
    team: tuple[Paths, Engine, Path],
) -> None:
    paths, engine, _ = team
    save_config(paths, ClientConfig(user_name="admin", role="ADMIN"))  # no relay: offline
    app = make_app(paths, engine)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        customer = app.replica.window(InboxFilter(status=None), 0, 1)[0].display_name
        await pilot.press("f3", "n")
        await settle(pilot)
        assert isinstance(app.screen, OrderDialog)
        type_into(app, "#conversation", "Zed Nobody")
        app.screen.query_one("#items", TextArea).insert("Kurta:1:999")
        type_into(app, "#currency", "INR")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, OrderDialog)  # nothing typed is lost
        assert "no conversation matches 'Zed Nobody'" in text_of(app, "#error")
        assert app.screen.query_one("#items", TextArea).text == "Kurta:1:999"
        type_into(app, "#conversation", customer)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen)
        (order,) = app.replica.orders(OrderFilter())
        for status in ("CONFIRMED", "SHIPPED"):
            app.replica.actions.set_order_status(order.id, status)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
        assert isinstance(app.screen, OrderDialog)
        assert app.screen.query_one("#items", TextArea).read_only
        type_into(app, "#notes", "leave it with the guard")
        await pilot.press("ctrl+s")
        await settle(pilot)
        shipped = app.replica.orders(OrderFilter())[0]
        assert shipped.notes == "leave it with the guard" and shipped.items == order.items
