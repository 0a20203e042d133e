"""The inbox's actions in the real app under the pilot: with the relay down they work and
queue; with a relay up, the live sync pushes them and brings teammates' changes and mentions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from textual.widgets import Input, Static, TextArea

from inboop_tui.app import InboopApp, create_app
from inboop_tui.screens.dialogs import AssignDialog, NoteDialog, SlaDialog, SnoozeDialog, TagDialog
from inboop_tui.screens.inbox import InboxScreen
from inboop_tui.store.config import ClientConfig, save_config
from inboop_tui.store.db import open_replica, writing
from inboop_tui.store.paths import Paths
from inboop_tui.store.tables import outbox, team
from inboop_tui.widgets.conversation_list import ConversationList
from inboop_tui.widgets.status_bar import StatusBar
from inboop_tui.widgets.thread_body import ThreadBody
from relay import simulator as mp
from tests.app_support import (
    FIXED_NOW,
    demo_bodies,
    demo_replica,
    make_app,
    settle,
    shown,
    use_utc,
    wait_until,
)
from tests.harness import RelayProcess, fill_replica, free_port, inboop, many_messages

MARKUP = "[/] [b]bold?[/b] [bold red]x"


@pytest.fixture(autouse=True)
def utc() -> None:
    use_utc()


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[tuple[Paths, Engine]]:
    """The demo replica of an ADMIN whose relay is down."""
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
        conn.execute(
            insert(team), [{"name": "ana", "role": "ADMIN"}, {"name": "bo", "role": "MEMBER"}]
        )
    yield paths, engine
    engine.dispose()


def listing(app: InboopApp) -> ConversationList:
    return app.screen.query_one(ConversationList)


def header(app: InboopApp) -> str:
    return " ".join(shown(app.screen.query_one("#thread-header", Static), width=200).split())


def thread(app: InboopApp) -> str:
    return shown(app.screen.query_one(ThreadBody), width=200)


def pending(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox.c.type).order_by(outbox.c.position)).scalars())


def notified(app: InboopApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_every_action_works_with_the_relay_down_and_is_queued(
    offline: tuple[Paths, Engine],
) -> None:
    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        first = listing(app).current
        assert first is not None and first.assignee is None

        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AssignDialog)
        await pilot.press("down", "enter")  # from "nobody" (its assignee now) to bo
        await settle(pilot)
        assert "@bo" in header(app)

        await pilot.press("A")  # take it
        await settle(pilot)
        assert "@ana" in header(app)

        await pilot.press("r")
        await settle(pilot)
        assert "resolved" in header(app)
        await pilot.press("r")
        await settle(pilot)
        assert "· open ·" in header(app)
        await pilot.press("P")
        await settle(pilot)
        assert "pending" in header(app)

        await pilot.press("z")
        await settle(pilot)
        assert isinstance(app.screen, SnoozeDialog)
        await pilot.press(*"3h", "enter")
        await settle(pilot)
        assert "snoozed until 15:00" in header(app)

        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TagDialog)
        await pilot.press(*"+VIP +cod", "enter")
        await settle(pilot)
        assert "#cod #vip" in header(app)

        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NoteDialog)
        app.screen.query_one(TextArea).insert("@bo they want it by Friday")
        await pilot.press("ctrl+s")
        await settle(pilot)
        body = thread(app)
        assert "✎ note by ana (internal, never sent) · not synced yet" in body
        assert "@bo they want it by Friday" in body

        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, SlaDialog)
        await pilot.press(*"45", "enter")
        await settle(pilot)

        assert pending(engine) == [
            "conversation.assign",
            "conversation.assign",
            "conversation.status",
            "conversation.status",
            "conversation.status",
            "conversation.status",
            "conversation.tags",
            "conversation.note",
            "workspace.sla",
        ]
        assert "↑ 8 changes not synced yet" in header(app)
        assert "↑ 9 changes to push" in " ".join(
            shown(app.screen.query_one(StatusBar), width=200).split()
        )
        row = listing(app).current
        assert row is not None and row.pending == 8 and row.status == "SNOOZED"

        await pilot.press("R")  # mark all read
        await settle(pilot)
        assert all(
            not (r := listing(app).row(i)) or not r.unread for i in range(listing(app).count)
        )


async def test_filters_combine_and_say_what_they_keep(offline: tuple[Paths, Engine]) -> None:
    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("A", "down", "t")  # take the first one; tag the second
        await settle(pilot)
        await pilot.press(*"vip", "enter")
        await settle(pilot)
        await pilot.press("m")  # mine
        await settle(pilot)
        assert listing(app).count == 1
        await pilot.press("m")  # unassigned
        await settle(pilot)
        assert listing(app).count == 11
        await pilot.press("number_sign")
        await settle(pilot)
        await pilot.press("down", "enter")  # any tag, #vip
        await settle(pilot)
        line = shown(app.screen.query_one("#filter-line", Static), width=200)
        assert "1 conversation · unassigned · open & pending · #vip" in line
        await pilot.press("S")  # open ones
        await settle(pilot)
        line = shown(app.screen.query_one("#filter-line", Static), width=200)
        assert "1 conversation · unassigned · open · #vip" in line
        assert listing(app).count == 1
        await pilot.press("l")  # over SLA: no SLA set, none
        await settle(pilot)
        assert listing(app).count == 0


async def test_markup_typed_anywhere_is_shown_as_typed(
    offline: tuple[Paths, Engine], tmp_path: Path
) -> None:
    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *MARKUP)
        await settle(pilot)
        assert f"matching “{MARKUP}”" in shown(
            app.screen.query_one("#filter-line", Static), width=200
        )
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("z", *MARKUP, "enter")
        await settle(pilot)
        assert MARKUP in shown(app.screen.query_one("#error", Static), width=200)
        await pilot.press("escape", "t", *MARKUP, "enter")
        await settle(pilot)
        assert "#[/] #[b]bold?[/b] #[bold #red]x" in header(app)  # odd tags, kept as typed
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one(TextArea).insert(MARKUP)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert MARKUP in thread(app)
        await pilot.press("L", *MARKUP, "enter")
        await settle(pilot)
        assert MARKUP in shown(app.screen.query_one("#error", Static), width=200)
        await pilot.press("escape", "e")
        await settle(pilot)
        app.screen.query_one("#path", Input).value = str(tmp_path / "[/]" / "x.csv")
        app.screen.query_one("#since", Input).value = MARKUP
        await pilot.click("#export")
        await settle(pilot)
        assert MARKUP in shown(app.screen.query_one("#error", Static), width=200)
        app.screen.query_one("#since", Input).value = ""
        await pilot.click("#export")
        await settle(pilot)
        assert any("[/]" in n for n in notified(app))
    assert (tmp_path / "[/]" / "x.csv").exists()


async def test_tab_moves_between_panes_and_escape_closes_the_keys(
    offline: tuple[Paths, Engine],
) -> None:
    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, ConversationList)
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "thread-scroll"
        await pilot.press("shift+tab")
        assert isinstance(app.focused, ConversationList)
        await pilot.press("question_mark")
        await settle(pilot)
        assert app.screen.query("HelpPanel")
        await pilot.press("escape")
        await settle(pilot)
        assert not app.screen.query("HelpPanel")
        await pilot.press("question_mark")  # ? shows the keys, and ? hides them again
        await settle(pilot)
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        await settle(pilot)
        assert not app.screen.query("HelpPanel")


async def test_the_selection_follows_the_conversation_when_new_messages_arrive(
    offline: tuple[Paths, Engine],
) -> None:
    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("u", "down", "down")  # unread only; read the third one
        await settle(pilot)
        chosen = listing(app).highlighted
        assert chosen is not None
        # A sync brings a message for another conversation, which moves to the top.
        now_ms = int(FIXED_NOW.timestamp() * 1000)
        message = mp.text_message(mp.PAGE_ID, "PSID-NEW", "m_new", "hello?", ts=now_ms)
        fill_replica(engine, [mp.body(mp.messenger(message))])
        app._inbox().refresh_data()
        await settle(pilot)
        # The same conversation stays selected, one row lower: the new one is above it.
        assert listing(app).highlighted == chosen
        assert listing(app).cursor == 3
        assert listing(app).row(0).customer_id == "PSID-NEW"  # type: ignore[union-attr]
        await pilot.pause(InboxScreen.READ_AFTER_SECONDS + 0.3)  # stays on it: now it is read
        await settle(pilot)
        row = listing(app).current
        assert row is not None and row.id == chosen and not row.unread
        app._inbox().refresh_data()
        await settle(pilot)
        assert listing(app).highlighted == chosen  # read, but kept while it is open


async def test_search_finds_emoji_and_reads_plurals(offline: tuple[Paths, Engine]) -> None:
    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.screen.query_one("#search", Input).value = "🙏"  # as a terminal pastes it
        await settle(pilot)
        assert listing(app).count == 2
        assert "2 conversations" in shown(app.screen.query_one("#filter-line", Static), width=200)
        await pilot.press("escape", "slash", *"embroidery")
        await settle(pilot)
        assert "1 conversation ·" in shown(app.screen.query_one("#filter-line", Static), width=200)


async def test_live_sync_pushes_changes_and_brings_news_and_mentions(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    member = relay.add_user("maria")
    relay.add_user("cy")
    for body in demo_bodies(3):
        assert relay.post(body).status_code == 200
    teammate = tmp_path / "maria"
    assert inboop(teammate, "login", relay.url, "--token", member).returncode == 0
    paths = Paths(tmp_path / "admin", tmp_path / "admin")
    save_config(
        paths, ClientConfig(relay_url=relay.url, token=admin_token, user_name="admin", role="ADMIN")
    )
    engine = open_replica(paths.database)
    app = create_app(paths, engine, clock=lambda: FIXED_NOW)
    try:
        async with app.run_test(size=(130, 40)) as pilot:
            await wait_until(pilot, lambda: listing(app).count == 3)
            first = listing(app).current
            assert first is not None
            await pilot.press("A")  # pushed right away by the live sync
            await wait_until(pilot, lambda: relay_has(relay, admin_token, "conversation.assign"))
            await pilot.press("r", "t")
            await settle(pilot)
            await pilot.press(*"+vip", "enter", "n")
            await settle(pilot)
            app.screen.query_one(TextArea).insert("wants two")
            await pilot.press("ctrl+s", "L")
            await settle(pilot)
            await pilot.press(*"30", "enter")
            kinds = (
                "conversation.status",
                "conversation.tags",
                "conversation.note",
                "workspace.sla",
            )
            await wait_until(pilot, lambda: all(relay_has(relay, admin_token, k) for k in kinds))
            await wait_until(pilot, lambda: pending(engine) == [])
            assert "↑" not in header(app) and "resolved" in header(app)

            assert inboop(teammate, "sync").returncode == 0
            shown_to_her = json.loads(inboop(teammate, "show", first.id, "--json").stdout)
            assert (shown_to_her["assignee"], shown_to_her["status"], shown_to_her["tags"]) == (
                "admin",
                "RESOLVED",
                ["vip"],
            )
            assert [n["text"] for n in shown_to_her["notes"]] == ["wants two"]

            # Notifications expire (and leave the list), so they are told apart by what they say.
            assert not any("mentioned" in n for n in notified(app))
            assert inboop(teammate, "note", first.id, "@cy can you check stock?").returncode == 0
            assert inboop(teammate, "note", first.id, "@admin the customer called").returncode == 0
            assert inboop(teammate, "sync").returncode == 0
            await wait_until(pilot, lambda: any("mentioned you" in n for n in notified(app)))
            mentions = [n for n in notified(app) if "mentioned" in n]
            assert mentions == [
                f"maria mentioned you on {first.display_name}: @admin the customer called"
            ]
            assert "@cy can you check stock?" in thread(app)  # shown, but not a mention of me

            # A customer writes: it shows up without a key pressed.
            body = many_messages(1, prefix="live", customer=lambda i: "PSID-LIVE")[0]
            assert relay.post(body).status_code == 200
            await wait_until(pilot, lambda: listing(app).count == 4)
            await wait_until(pilot, lambda: any("PSID-LIVE" in n for n in notified(app)))
    finally:
        engine.dispose()


def relay_has(relay: RelayProcess, token: str, kind: str) -> bool:
    return any(e["type"] == kind for e in relay.all_events(token))


async def test_a_revoked_token_shows_as_signed_out(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    token = relay.add_user("temp")
    paths = Paths(tmp_path / "agent", tmp_path / "agent")
    save_config(paths, ClientConfig(relay_url=relay.url, token=token, user_name="temp"))
    engine = open_replica(paths.database)
    relay.cli("users", "revoke", "temp")
    app = make_app(paths, engine)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            bar = " ".join(shown(app.screen.query_one(StatusBar), width=300).split())
            assert "● signed out · the relay refused your token: run `inboop login`" in bar
            assert "offline" not in bar
    finally:
        engine.dispose()


async def test_diagnostics_lists_what_went_wrong(offline: tuple[Paths, Engine]) -> None:
    paths, engine = offline
    app = make_app(paths, engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("A", "s")
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        text = shown(app.screen.query_one("#diagnostics-body", Static), width=200)
        assert "Waiting to be pushed  1" in text and "assign to ana" in text
        assert "failed: the relay at" in text
        assert "could not ask the relay" in text or "asking the relay" in text
        await pilot.press("escape")
        await settle(pilot)
        assert listing(app).count == 12
