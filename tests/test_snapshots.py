"""Snapshots of the inbox at a fixed terminal size, on a fixed replica, clock and zone.

Update only after looking at the new pictures: `pytest tests/test_snapshots.py --snapshot-update`
writes them under tests/__snapshots__/, and the report shows the difference.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from textual.pilot import Pilot
from textual.widgets import Input

from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths
from tests.app_support import demo_replica, make_app, settle, use_utc
from tests.harness import fill_replica, scenario

SIZE = (120, 34)
SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def utc() -> None:
    use_utc()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    paths, engine = demo_replica(tmp_path / "demo")
    yield paths, engine
    engine.dispose()


@pytest.fixture
def cases(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    paths = Paths(tmp_path / "cases", tmp_path / "cases")
    engine = open_replica(paths.database)
    fill_replica(engine, scenario())
    yield paths, engine
    engine.dispose()


def keys(*pressed: str) -> Callable[[Pilot[object]], object]:
    async def run(pilot: Pilot[object]) -> None:
        await settle(pilot)
        if pressed:
            await pilot.press(*pressed)
            await settle(pilot)

    return run


def test_inbox_with_the_newest_thread_open(
    snap_compare: SnapCompare, demo: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*demo), terminal_size=SIZE, run_before=keys())


def test_inbox_second_conversation_shown(
    snap_compare: SnapCompare, demo: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*demo), terminal_size=SIZE, run_before=keys("down"))


def test_search_results(snap_compare: SnapCompare, demo: tuple[Paths, Engine]) -> None:
    assert snap_compare(
        make_app(*demo), terminal_size=SIZE, run_before=keys("slash", *"price", "enter")
    )


def test_thread_with_watermark_unsend_and_statuses(
    snap_compare, cases: tuple[Paths, Engine]
) -> None:
    # Conversations newest first: P2, P1 (read watermark), Instagram (unsend, image), WhatsApp.
    assert snap_compare(make_app(*cases), terminal_size=SIZE, run_before=keys("down"))


def test_instagram_thread_with_unsend_and_image(
    snap_compare: SnapCompare, cases: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*cases), terminal_size=SIZE, run_before=keys("down", "down"))


def test_whatsapp_thread(snap_compare: SnapCompare, cases: tuple[Paths, Engine]) -> None:
    assert snap_compare(make_app(*cases), terminal_size=SIZE, run_before=keys("c", "c"))


def test_export_dialog(snap_compare: SnapCompare, demo: tuple[Paths, Engine]) -> None:
    async def open_dialog(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        pilot.app.screen.query_one("#path", Input).value = "/exports/inboop-messages.csv"
        await settle(pilot)

    assert snap_compare(make_app(*demo), terminal_size=SIZE, run_before=open_dialog)


@pytest.fixture
def worked(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    """The demo replica of an agent who has been working offline: a note, tags, assignments,
    a snoozed conversation, an SLA, a rejected change and a conflict."""
    from sqlalchemy import insert

    from inboop_tui.store.actions import Identity
    from inboop_tui.store.config import ClientConfig, save_config
    from inboop_tui.store.db import writing
    from inboop_tui.store.pending import relayer
    from inboop_tui.store.queries import InboxFilter
    from inboop_tui.store.replica import Replica
    from inboop_tui.store.tables import (
        conflicts,
        outbox,
        rejected_mutations,
        sync_runs,
        sync_state,
        team,
    )
    from tests.app_support import FIXED_NOW

    paths, engine = demo_replica(tmp_path / "worked")
    save_config(
        paths,
        ClientConfig(relay_url="http://127.0.0.1:9", token="inb_x", user_name="ana", role="ADMIN"),
    )
    with writing(engine) as conn:
        conn.execute(
            insert(team), [{"name": "ana", "role": "ADMIN"}, {"name": "bo", "role": "MEMBER"}]
        )
    r = Replica(engine, Identity("ana", "ADMIN"), lambda: FIXED_NOW)
    rows = r.window(InboxFilter(), 0, 12)
    top, second, third = rows[0].id, rows[1].id, rows[2].id
    r.actions.set_sla(60)
    r.actions.assign(top, "ana")
    r.actions.tag(top, ["vip", "cod"])
    r.actions.add_note(top, "@bo they asked for delivery by Friday; [b]not[/b] markup")
    r.actions.assign(second, "bo")
    r.actions.set_status(second, "PENDING")
    r.actions.set_status(third, "SNOOZED", FIXED_NOW.replace(hour=18))
    rejected = r.actions.assign(rows[3].id, "bo")
    with writing(engine) as conn:
        row = (
            conn.execute(outbox.select().where(outbox.c.id == rejected.mutation_id))
            .mappings()
            .one()
        )
        conn.execute(outbox.delete().where(outbox.c.id == rejected.mutation_id))
        conn.execute(
            insert(rejected_mutations).values(
                id=row["id"],
                type=row["type"],
                conversation_id=row["conversation_id"],
                payload=row["payload"],
                reason="there is no active user named 'bo'",
                rejected_at="2026-11-25T11:58:00.000Z",
            )
        )
        relayer(conn)
        conn.execute(
            insert(conflicts).values(
                seq=41,
                mutation_id="0e0e0e0e-0000-4000-8000-000000000001",
                type="conversation.assign",
                author="bo",
                conversation_id="cv_" + "0" * 24,
                reason="the conversation does not exist in this workspace",
                client_time="2026-11-25T11:00:00.000Z",
            )
        )
        conn.execute(
            insert(sync_runs).values(
                started_at="2026-11-25T11:59:00.000Z",
                finished_at="2026-11-25T11:59:05.000Z",
                ok=False,
                pulled=0,
                pushed=0,
                cursor=90,
                error_kind="network",
                error="the relay at http://127.0.0.1:9 is not reachable (connection refused)",
            )
        )
        conn.execute(
            sync_state.update().values(
                last_attempt_at="2026-11-25T11:59:05.000Z",
                last_ok_at="2026-11-25T09:30:00.000Z",
                last_error="the relay at http://127.0.0.1:9 is not reachable (connection refused)",
                last_error_kind="network",
            )
        )
    yield paths, engine
    engine.dispose()


def test_thread_with_notes_and_pending_changes(
    snap_compare: SnapCompare, worked: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*worked), terminal_size=SIZE, run_before=keys())


def test_filtered_inbox(snap_compare: SnapCompare, worked: tuple[Paths, Engine]) -> None:
    # Unassigned, then open only: the list says what it keeps; badges show state.
    assert snap_compare(make_app(*worked), terminal_size=SIZE, run_before=keys("m", "m", "S"))


def test_badges_for_status_assignee_sla_and_pending(
    snap_compare: SnapCompare, worked: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*worked), terminal_size=SIZE, run_before=keys("down", "down"))


def test_diagnostics_screen(snap_compare: SnapCompare, worked: tuple[Paths, Engine]) -> None:
    assert snap_compare(make_app(*worked), terminal_size=SIZE, run_before=keys("D"))


def test_assign_dialog(snap_compare: SnapCompare, worked: tuple[Paths, Engine]) -> None:
    assert snap_compare(make_app(*worked), terminal_size=SIZE, run_before=keys("a"))


@pytest.fixture
def replied(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    """The newest conversation with five replies: one not synced yet, then queued, sent,
    delivered, read and failed, as the relay's log reports them."""
    import json
    from datetime import timedelta
    from itertools import count

    from sqlalchemy import insert, select

    from inboop_tui.store.actions import Identity
    from inboop_tui.store.apply import apply_entries, current_cursor
    from inboop_tui.store.config import ClientConfig, save_config
    from inboop_tui.store.db import writing
    from inboop_tui.store.queries import InboxFilter
    from inboop_tui.store.replica import Replica
    from inboop_tui.store.tables import outbox, team
    from relay.protocol import DeliveryState, MessageStatus, ProviderError, ReplyFailed, ReplySent
    from tests.app_support import FIXED_NOW

    paths, engine = demo_replica(tmp_path / "replied")
    save_config(paths, ClientConfig(relay_url="http://127.0.0.1:9", token="x", user_name="ana"))
    with writing(engine) as conn:
        conn.execute(insert(team), [{"name": "ana", "role": "MEMBER"}])
    minutes = count(1)
    r = Replica(engine, Identity("ana"), lambda: FIXED_NOW - timedelta(minutes=30 - next(minutes)))
    row = r.window(InboxFilter(), 0, 1)[0]
    texts = ["Queued at the relay", "Sent", "Delivered", "Read", "Failed", "Not synced yet"]
    for text in texts:
        r.actions.reply(row.id, text)
    with engine.connect() as conn:
        payloads = [
            json.loads(p)
            for p in conn.execute(select(outbox.c.payload).order_by(outbox.c.position)).scalars()
        ]
    confirmed = payloads[:5]
    identity = {"channel": "WHATSAPP", "account_id": row.account_id, "customer_id": row.customer_id}
    at = FIXED_NOW - timedelta(minutes=5)
    results = [
        ReplySent(
            dedup_key="s1",
            occurred_at=at,
            reply_id=confirmed[1]["id"],
            channel_message_id="wamid.R1",
            **identity,
        ),
        MessageStatus(
            dedup_key="s2",
            occurred_at=at,
            channel_message_id="wamid.R2",
            status=DeliveryState.DELIVERED,
            reply_id=confirmed[2]["id"],
            **identity,
        ),
        MessageStatus(
            dedup_key="s3",
            occurred_at=at,
            channel_message_id="wamid.R3",
            status=DeliveryState.READ,
            reply_id=confirmed[3]["id"],
            **identity,
        ),
        ReplyFailed(
            dedup_key="s4",
            occurred_at=at,
            reply_id=confirmed[4]["id"],
            error=ProviderError(
                code="131047",
                title="Re-engagement message",
                message="More than 24 hours have passed since the customer last replied.",
            ),
            **identity,
        ),
    ]
    with writing(engine) as conn:
        cursor = current_cursor(conn)
        entries = [
            {
                "seq": cursor + i,
                "origin": "mutation",
                "type": "message.reply",
                "recorded_at": "2026-11-25T11:50:00.000Z",
                "event": m,
            }
            for i, m in enumerate(confirmed, start=1)
        ] + [
            {
                "seq": cursor + 6 + i,
                "origin": "channel",
                "type": e.type,
                "recorded_at": "2026-11-25T11:55:00.000Z",
                "event": e.model_dump(mode="json"),
            }
            for i, e in enumerate(results)
        ]
        head = entries[-1]["seq"]
        apply_entries(conn, entries, cursor=head, relay_head=head)
    yield paths, engine
    engine.dispose()


def test_thread_with_replies_in_every_state(
    snap_compare: SnapCompare, replied: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*replied), terminal_size=(120, 44), run_before=keys())


@pytest.fixture
def selling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Paths, Engine]]:
    """An ADMIN's workspace a week into selling: leads in every state, orders along every
    step of fulfilment and payment (one delivered but unpaid, one COD still to collect), the
    payment settings, and one order made offline (no number yet)."""
    from datetime import timedelta

    from sqlalchemy import insert

    from inboop_tui.store.actions import Identity
    from inboop_tui.store.config import ClientConfig, save_config
    from inboop_tui.store.db import writing
    from inboop_tui.store.queries import InboxFilter
    from inboop_tui.store.replica import Replica
    from inboop_tui.store.selling_actions import ItemInput
    from inboop_tui.store.tables import team
    from tests.app_support import FIXED_NOW
    from tests.test_pending_layer import as_log, outbox_entries

    ids = random.Random(7)  # the ids people see (lead 3f2a9c1e, a pending order) stay put
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=ids.getrandbits(128), version=4))
    paths, engine = demo_replica(tmp_path / "selling")
    save_config(paths, ClientConfig(user_name="ana", role="ADMIN"))
    with writing(engine) as conn:
        conn.execute(
            insert(team), [{"name": "ana", "role": "ADMIN"}, {"name": "bo", "role": "MEMBER"}]
        )
    ago = [timedelta(hours=50)]  # each step below happens a little later than the one before
    r = Replica(engine, Identity("ana", "ADMIN"), lambda: FIXED_NOW - ago[0])

    def later(hours: float) -> None:
        ago[0] -= timedelta(hours=hours)

    rows = r.window(InboxFilter(), 0, 8)
    a = r.actions
    a.set_payment_config(
        ["RAZORPAY", "STRIPE", "MANUAL"], default="RAZORPAY", allow_cod=True, cod_regions=["IN"]
    )

    def lead(row: int, value: str | None, notes: str) -> str:
        later(2)
        made = a.create_lead(rows[row].id, value=value, currency="INR", notes=notes, assignee="bo")
        return str(made.entity_id)

    def order(row: int, items: list[ItemInput], **options: object) -> str:
        later(1.5)
        return str(a.create_order(rows[row].id, items, "INR", **options).entity_id)  # type: ignore[arg-type]

    kurta = [ItemInput("Blue kurta", 2, "1499"), ItemInput("Silk dupatta", 1, "399.50")]
    converted = lead(0, "3397.50", "two kurtas, wants them before Diwali")
    delivered = order(0, kurta, lead=converted, address="12 MG Road, Pune", region="IN")
    for status in ("CONFIRMED", "SHIPPED", "DELIVERED"):
        later(5)
        a.set_order_status(delivered, status, tracking="DTDC123" if status == "SHIPPED" else None)
    cod = order(1, [ItemInput("Tote bag", 1, "1250")], cod=True, region="IN", address="Jaipur")
    a.set_order_status(cod, "CONFIRMED")
    a.set_order_status(cod, "SHIPPED", tracking="BLUEDART 99")
    paid = order(2, [ItemInput("Saree", 1, "2500")], provider="STRIPE")
    a.set_order_payment(paid, "PAID")
    a.set_order_status(paid, "CONFIRMED")
    cancelled = order(3, [ItemInput("Earrings", 3, "350")])
    a.set_order_status(cancelled, "CANCELLED")
    lost = lead(4, "899", "asked for a discount")
    a.close_lead(lost, "LOST", "bought elsewhere")
    lead(5, "12000", "bulk order for a boutique, 20 pieces")
    lead(6, None, "browsing")
    as_log(engine, outbox_entries(engine))  # the relay has all of it: numbers given
    later(3)
    order(7, [ItemInput("Bangles set", 2, "450")], cod=True, region="AE")  # offline, warned
    yield paths, engine
    engine.dispose()


def test_leads_screen(snap_compare: SnapCompare, selling: tuple[Paths, Engine]) -> None:
    # Every status (S cycles new, converted, lost, closed, any), the converted lead selected.
    assert snap_compare(
        make_app(*selling), terminal_size=SIZE, run_before=keys("f2", "S", "S", "S", "S")
    )


def test_orders_table(snap_compare: SnapCompare, selling: tuple[Paths, Engine]) -> None:
    assert snap_compare(make_app(*selling), terminal_size=SIZE, run_before=keys("f3"))


def test_orders_board(snap_compare: SnapCompare, selling: tuple[Paths, Engine]) -> None:
    assert snap_compare(make_app(*selling), terminal_size=SIZE, run_before=keys("f3", "b"))


def test_order_detail_with_timeline(
    snap_compare: SnapCompare, selling: tuple[Paths, Engine]
) -> None:
    # The newest first: the offline order, then the cancelled one… the delivered one is last.
    assert snap_compare(make_app(*selling), terminal_size=SIZE, run_before=keys("f3", "G", "enter"))


def test_payments_screen(snap_compare: SnapCompare, selling: tuple[Paths, Engine]) -> None:
    assert snap_compare(make_app(*selling), terminal_size=SIZE, run_before=keys("f4"))


def test_payment_settings_dialog(snap_compare: SnapCompare, selling: tuple[Paths, Engine]) -> None:
    assert snap_compare(make_app(*selling), terminal_size=SIZE, run_before=keys("f4", "P"))


def test_inbox_with_a_lead_and_the_contact_panel(
    snap_compare: SnapCompare, selling: tuple[Paths, Engine]
) -> None:
    assert snap_compare(make_app(*selling), terminal_size=SIZE, run_before=keys("K"))
