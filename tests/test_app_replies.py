"""The reply box in the real app under the pilot: send, new lines, canned replies, files, the
window, templates (against a relay and Meta's stand-in), drafts and $EDITOR."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from textual.widgets import Input, Static

from inboop_tui.app import InboopApp, create_app
from inboop_tui.screens.reply_dialogs import FileDialog, TemplateDialog
from inboop_tui.store.actions import Identity
from inboop_tui.store.config import ClientConfig, save_config
from inboop_tui.store.db import open_replica, writing
from inboop_tui.store.paths import Paths
from inboop_tui.store.replica import Replica
from inboop_tui.store.tables import outbox, outbox_files, team
from inboop_tui.widgets.composer import Composer
from inboop_tui.widgets.conversation_list import ConversationList
from inboop_tui.widgets.thread_body import ThreadBody
from relay import simulator as mp
from tests.app_support import FIXED_NOW, demo_replica, make_app, settle, shown, use_utc, wait_until
from tests.harness import RelayProcess, fill_replica, free_port, inboop, scenario


@pytest.fixture(autouse=True)
def utc() -> None:
    use_utc()


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    paths, engine = demo_replica(tmp_path / "agent")
    save_config(
        paths,
        ClientConfig(
            relay_url=f"http://127.0.0.1:{free_port()}",
            token="inb_x",
            user_name="ana",
            role="ADMIN",
        ),
    )
    with writing(engine) as conn:
        conn.execute(insert(team), [{"name": "ana", "role": "ADMIN"}])
    yield paths, engine
    engine.dispose()


def composer(app: InboopApp) -> Composer:
    return app.screen.query_one(Composer)


def thread(app: InboopApp) -> str:
    return shown(app.screen.query_one(ThreadBody), width=200)


def state_line(app: InboopApp) -> str:
    return " ".join(shown(app.screen.query_one("#composer-state", Static), width=200).split())


def queued_replies(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.type == "message.reply"))
        return [json.loads(payload)["payload"] for payload in rows.scalars()]


async def test_enter_sends_and_ctrl_j_breaks_the_line(offline: tuple[Paths, Engine]) -> None:
    app = make_app(*offline)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        assert "Enter send · Ctrl+J new line" in state_line(app)
        await pilot.press("i")
        assert app.focused is composer(app).area
        await pilot.press(*"Hello [b]Isha[/b]", "ctrl+j", *"second line", "enter")
        await settle(pilot)
        assert composer(app).text == ""
        body = thread(app)
        assert "→ ana … queued · not synced yet" in body
        lines = [line.strip() for line in body.splitlines()]
        assert lines[lines.index("Hello [b]Isha[/b]") + 1] == "second line"
        (payload,) = queued_replies(offline[1])
        assert payload["text"] == "Hello [b]Isha[/b]\nsecond line"
        assert payload["channel"] == "WHATSAPP"


async def test_canned_replies_complete_from_a_slash(offline: tuple[Paths, Engine]) -> None:
    paths, engine = offline
    Replica(engine, Identity("ana", "ADMIN"), lambda: FIXED_NOW).actions.save_canned(
        "thanks", "Thank you", "Thanks {first_name}! — {agent}"
    )
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i", *"/th")
        await settle(pilot)
        assert "Tab: /thanks Thank you: Thanks Isha! — ana" in state_line(app)
        await pilot.press("tab")
        assert composer(app).text == "Thanks Isha! — ana"
        await pilot.press("enter")
        await settle(pilot)
        assert [p["text"] for p in queued_replies(engine)] == ["Thanks Isha! — ana"]


async def test_a_file_goes_with_its_caption(offline: tuple[Paths, Engine], tmp_path: Path) -> None:
    paths, engine = offline
    price_list = tmp_path / "price list.pdf"
    price_list.write_bytes(b"%PDF-1.4 " + b"x" * 2000)
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i", *"our prices", "ctrl+f")
        await settle(pilot)
        assert isinstance(app.screen, FileDialog)
        await pilot.press(*str(tmp_path / "nothing-here.pdf"), "enter")
        await settle(pilot)
        assert "No file" in shown(app.screen.query_one("#error", Static))
        app.screen.query_one("#path", Input).value = str(price_list)
        await pilot.press("enter")
        await settle(pilot)
        (payload,) = queued_replies(engine)
        assert payload["text"] == "our prices"  # WhatsApp takes a caption
        attachment = payload["attachment"]
        assert isinstance(attachment, dict)
        assert (attachment["type"], attachment["filename"], attachment["mime_type"]) == (
            "FILE",
            "price list.pdf",
            "application/pdf",
        )
        with engine.connect() as conn:
            assert conn.execute(select(outbox_files.c.size)).scalars().all() == [2009]
        assert "[file] price list.pdf" in thread(app)


async def test_outside_the_window_a_reply_is_refused_with_the_reason(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path)
    engine = open_replica(paths.database)
    fill_replica(engine, scenario())  # a year old: every window is closed
    save_config(paths, ClientConfig(relay_url="http://127.0.0.1:9", token="x", user_name="ana"))
    app = make_app(paths, engine)
    try:
        async with app.run_test(size=(130, 40)) as pilot:
            await settle(pilot)
            assert "reply window closed: the customer must write first" in state_line(app)
            await pilot.press("i", *"hi", "enter")
            await settle(pilot)
            assert any("reply window is closed" in n.message for n in app._notifications)
            assert composer(app).text == "hi"  # nothing lost
            assert queued_replies(engine) == []
            await pilot.press("escape", "c", "c")  # the WhatsApp conversation
            await settle(pilot)
            assert "only an approved template now (Ctrl+T)" in state_line(app)
    finally:
        engine.dispose()


async def test_drafts_survive_switching_and_restarting(offline: tuple[Paths, Engine]) -> None:
    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i", *"half a thought")
        await pilot.pause(0.8)  # the draft is kept a moment after typing stops
        await settle(pilot)
        await pilot.press("escape", "down")
        await settle(pilot)
        assert composer(app).text == ""
        await pilot.press("up")
        await settle(pilot)
        assert composer(app).text == "half a thought"
    again = make_app(paths, engine)
    async with again.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        assert composer(again).text == "half a thought"


async def test_the_editor_writes_long_replies(
    offline: tuple[Paths, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Dear Isha,\\n\\nfrom my editor\\n" >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("VISUAL", str(editor))
    app = make_app(*offline)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i", "ctrl+o")
        await settle(pilot)
        assert composer(app).text == "Dear Isha,\n\nfrom my editor"


async def test_receive_only_accounts_say_so_in_the_reply_box(offline: tuple[Paths, Engine]) -> None:
    paths, engine = offline
    with writing(engine) as conn:
        conn.exec_driver_sql("UPDATE sync_state SET last_ok_at = '2026-11-25T11:00:00.000Z'")
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        assert "receive only: the relay has no send token for this WhatsApp number" in state_line(
            app
        )
        await pilot.press("i", *"hi", "enter")
        await settle(pilot)
        assert any("receive only" in n.message for n in app._notifications)


async def test_a_whatsapp_template_outside_the_window(
    sending_relay: RelayProcess, graph: object, tmp_path: Path
) -> None:
    two_days_ago = int(time.time() * 1000) - 2 * 86_400_000
    body = mp.whatsapp(
        mp.wa_value(
            messages=[mp.wa_text("919000000001", "wamid.IN1", two_days_ago // 1000, "namaste")],
            contacts=[mp.wa_contact("919000000001", "Asha Verma")],
        )
    )
    assert sending_relay.post(mp.body(body)).status_code == 200
    token = sending_relay.add_user("admin", admin=True)
    home = tmp_path / "agent"
    assert inboop(home, "login", sending_relay.url, "--token", token).returncode == 0
    paths = Paths(home, home)
    engine = open_replica(paths.database)
    app = create_app(paths, engine)
    try:
        async with app.run_test(size=(130, 40)) as pilot:
            await wait_until(pilot, lambda: app.screen.query_one(ConversationList).count == 1)
            await pilot.press("T")
            await wait_until(pilot, lambda: isinstance(app.screen, TemplateDialog))
            await pilot.press("enter")  # order_update (the rejected one is not offered)
            await settle(pilot)
            first, second = app.screen.query("#parameters Input").results(Input)
            assert first.value == "Asha"  # the customer's first name, to start with
            second.value = "ORD-1007"
            await settle(pilot)
            preview = shown(app.screen.query_one("#preview", Static), width=200)
            assert "Hi Asha, your order ORD-1007 is on its way." in preview
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(graph.sent) == 1)  # type: ignore[attr-defined]
            await wait_until(pilot, lambda: "Hi Asha, your order ORD-1007" in thread(app))
    finally:
        engine.dispose()
    sent = graph.sent[0].body  # type: ignore[attr-defined]
    assert sent["type"] == "template" and sent["template"]["name"] == "order_update"


async def test_the_canned_replies_dialog_adds_edits_uses_and_deletes(
    offline: tuple[Paths, Engine],
) -> None:
    from textual.widgets import TextArea

    from inboop_tui.screens.reply_dialogs import CannedDialog, CannedEditDialog

    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        assert isinstance(app.screen, CannedDialog)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, CannedEditDialog)
        app.screen.query_one("#shortcode", Input).value = "Stock"
        app.screen.query_one("#title", Input).value = "In stock"
        app.screen.query_one("#text", TextArea).insert("Yes {first_name}, it's in stock [b]now[/b]")
        await pilot.press("ctrl+s")
        await settle(pilot)
        replica = Replica(engine, Identity("ana", "ADMIN"), lambda: FIXED_NOW)
        assert [(c.shortcode, c.title) for c in replica.canned()] == [("stock", "In stock")]
        await pilot.press("C")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#title", Input).value = "Available"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert [c.title for c in replica.canned()] == ["Available"]
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, CannedDialog))
        await pilot.press("enter")  # into the reply box, filled in (by a worker: wait for it)
        await wait_until(pilot, lambda: bool(composer(app).text))
        assert composer(app).text == "Yes Isha, it's in stock [b]now[/b]"
        await pilot.press("escape", "C")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert replica.canned() == []
