"""Media customers send, fetched by the relay before the links expire, and saved by an agent:
the real relay process, the CLI, and a Graph API stand-in that serves WhatsApp media and
Instagram/Messenger CDN links like Meta (expired links answer with an HTML page)."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static
from textual_image.widget import TGPImage

from inboop_tui.domain.messages import file_size
from inboop_tui.screens.picture_preview import PicturePreview
from inboop_tui.screens.selling_dialogs import PickDialog
from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths
from inboop_tui.store.queries import thread
from inboop_tui.widgets.thread_view import render_message
from relay import simulator as mp
from relay.fake_graph import FakeGraph
from relay.protocol import conversation_id
from tests.app_support import make_app, settle, use_utc, wait_until
from tests.conftest import TOKENS
from tests.harness import RelayProcess, inboop

JPEG = b"\xff\xd8\xff\xe0" + b"kurta photo " * 300
PDF = b"%PDF-1.4 price list " * 40


def wait_for(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds:.0f} s")
        time.sleep(0.2)


def states(relay: RelayProcess) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(relay.home / "relay.db") as db:
        rows = db.execute("select message_id, state, error from media").fetchall()
    return {mid: (state, error) for mid, state, error in rows}


@pytest.fixture
def media_relay(tmp_path: Path, graph: FakeGraph) -> Iterator[RelayProcess]:
    relay = RelayProcess(
        tmp_path / "relay",
        INBOOP_GRAPH_API_URL=graph.url,
        INBOOP_WHATSAPP_TOKENS=f"{mp.PHONE_NUMBER_ID}={TOKENS[mp.PHONE_NUMBER_ID]}",
        INBOOP_MEDIA_MAX_BYTES="10000",
    ).start()
    try:
        yield relay
    finally:
        relay.stop()


def test_media_is_fetched_before_links_expire_and_saved_by_an_agent(
    media_relay: RelayProcess, graph: FakeGraph, tmp_path: Path
) -> None:
    graph.media["MEDIA1"] = (JPEG, "image/jpeg")
    graph.cdn["price-list.pdf"] = (PDF, "application/pdf")
    graph.cdn["huge.mp4"] = (b"\x00" * 20_000, "video/mp4")
    graph.cdn["error-page"] = (b"<html>sorry</html>", "text/html; charset=utf-8")
    wa = mp.wa_message(
        "919000000001",
        "wamid.IMG",
        1_764_000_000,
        "image",
        {"id": "MEDIA1", "mime_type": "image/jpeg", "caption": "this one"},
    )
    ig = [
        mp.attachment_message(
            mp.IG_ACCOUNT_ID, "IGSID1", f"ig_{name}", kind, {"url": graph.cdn_url(name)}
        )
        for name, kind in (
            ("price-list.pdf", "file"),
            ("huge.mp4", "video"),
            ("error-page", "image"),
            ("gone.jpg", "image"),  # an expired link
        )
    ]
    assert media_relay.post(mp.body(mp.whatsapp(mp.wa_value(messages=[wa])))).status_code == 200
    assert media_relay.post(mp.body(mp.instagram(*ig))).status_code == 200
    wait_for(
        lambda: (
            all(s != "PENDING" for s, _ in states(media_relay).values())
            and len(states(media_relay)) == 5
        )
    )
    found = states(media_relay)
    assert found["wamid.IMG"][0] == found["ig_price-list.pdf"][0] == "STORED"
    assert found["ig_huge.mp4"] == ("FAILED", "too large: 20,000 bytes (at most 10,000)")
    assert found["ig_error-page"] == ("FAILED", "not media: the link answered text/html")
    assert found["ig_gone.jpg"] == ("FAILED", "the link has expired (HTTP 403)")

    home = tmp_path / "agent"
    token = media_relay.add_user("ana")
    assert inboop(home, "login", media_relay.url, "--token", token).returncode == 0
    assert inboop(home, "sync").returncode == 0
    listed = json.loads(inboop(home, "media", "list", "IGSID1", "--json").stdout)
    assert sorted(a["message_id"] for a in listed) == [
        "ig_error-page",
        "ig_gone.jpg",
        "ig_huge.mp4",
        "ig_price-list.pdf",
    ]
    assert [a["number"] for a in listed] == [1, 2, 3, 4]
    # Every replica learns how each fetch ended (attachment.fetched): a size, or why not.
    by_id = {a["message_id"]: a for a in listed}
    assert by_id["ig_price-list.pdf"]["size"] == len(PDF)
    assert by_id["ig_price-list.pdf"]["unavailable"] is None
    assert by_id["ig_gone.jpg"]["size"] is None
    assert by_id["ig_gone.jpg"]["unavailable"] == "the link has expired (HTTP 403)"
    plain = inboop(home, "media", "list", "IGSID1").stdout
    assert "← file      800 B\n" in plain
    assert "← image         —  (not kept by the relay: the link has expired (HTTP 403))" in plain
    shown = json.loads(inboop(home, "show", "919000000001", "--json").stdout)["messages"]
    assert shown[0]["attachments"][0]["size"] == len(JPEG)
    out = tmp_path / "saved"
    out.mkdir()
    saved = inboop(home, "media", "save", "919000000001", "--out", str(out), "--json")
    assert saved.returncode == 0, saved.stderr
    path = Path(json.loads(saved.stdout)["path"])
    assert path.parent == out and path.read_bytes() == JPEG and path.suffix == ".jpg"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a customer's file
    number = next(n for n, a in enumerate(listed, start=1) if a["message_id"] == "ig_gone.jpg")
    refused = inboop(home, "media", "save", "IGSID1", str(number), "--out", str(out))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "the relay could not fetch it: the link has expired (HTTP 403)" in refused.stderr


def test_files_older_than_the_retention_are_removed(tmp_path: Path, graph: FakeGraph) -> None:
    graph.cdn["old.pdf"] = (PDF, "application/pdf")
    relay = RelayProcess(
        tmp_path / "relay", INBOOP_GRAPH_API_URL=graph.url, INBOOP_MEDIA_RETENTION_DAYS="30"
    ).start()
    try:
        item = mp.attachment_message(
            mp.PAGE_ID, "PSID1", "m_old", "file", {"url": graph.cdn_url("old.pdf")}
        )
        assert relay.post(mp.body(mp.messenger(item))).status_code == 200
        wait_for(lambda: states(relay).get("m_old", ("", None))[0] == "STORED")
        stored = list((relay.home / "media").rglob("*"))
        assert any(p.is_file() and p.read_bytes() == PDF for p in stored)
        relay.stop()
        with sqlite3.connect(relay.home / "relay.db") as db:
            db.execute("update media set stored_at = '2020-01-01T00:00:00.000Z'")
        relay.start()
        wait_for(lambda: states(relay)["m_old"][0] == "EXPIRED")
        assert not any(p.is_file() for p in (relay.home / "media").rglob("*"))
        home = tmp_path / "agent"  # replicas learn it is gone
        signed_in(relay, home)
        (listed,) = json.loads(inboop(home, "media", "list", "PSID1", "--json").stdout)
        assert (listed["size"], listed["unavailable"]) == (None, "removed after 30 days")
    finally:
        relay.stop()


async def test_the_app_saves_a_customers_file_from_the_relay(
    media_relay: RelayProcess, graph: FakeGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph.media["MEDIA7"] = (JPEG, "image/jpeg")
    wa = mp.wa_message(
        "919000000007",
        "wamid.IMG7",
        1_764_000_000,
        "image",
        {"id": "MEDIA7", "mime_type": "image/jpeg"},
    )
    assert media_relay.post(mp.body(mp.whatsapp(mp.wa_value(messages=[wa])))).status_code == 200
    wait_for(lambda: states(media_relay).get("wamid.IMG7", ("", None))[0] == "STORED")
    home = tmp_path / "agent"
    token = media_relay.add_user("ana")
    assert inboop(home, "login", media_relay.url, "--token", token).returncode == 0
    assert inboop(home, "sync").returncode == 0
    downloads = tmp_path / "downloads"
    monkeypatch.setenv("INBOOP_DOWNLOADS", str(downloads))
    paths = Paths(home, home)
    engine = open_replica(paths.database)
    try:
        app = make_app(paths, engine)
        async with app.run_test(size=(130, 40)) as pilot:
            await settle(pilot)
            await pilot.press("F")
            await settle(pilot)
            assert isinstance(app.screen, PickDialog)
            await pilot.press("enter")
            await wait_until(pilot, lambda: any(downloads.glob("*.jpg")))
        (saved,) = downloads.glob("*.jpg")
        assert saved.read_bytes() == JPEG
    finally:
        engine.dispose()


def png(width: int = 32, height: int = 20) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


def post_picture(relay: RelayProcess, graph: FakeGraph, data: bytes) -> None:
    """A WhatsApp customer sends a picture with a caption; the relay fetches and keeps it."""
    graph.media["MEDIA8"] = (data, "image/png")
    wa = mp.wa_message(
        "919000000008",
        "wamid.PIC8",
        1_764_000_000,
        "image",
        {"id": "MEDIA8", "mime_type": "image/png", "caption": "[b]this[/b] one"},
    )
    contact = [mp.wa_contact("919000000008", "Meera")]
    value = mp.wa_value(messages=[wa], contacts=contact)
    assert relay.post(mp.body(mp.whatsapp(value))).status_code == 200
    wait_for(lambda: states(relay).get("wamid.PIC8", ("", None))[0] == "STORED")


def signed_in(relay: RelayProcess, home: Path) -> Paths:
    token = relay.add_user("ana")
    assert inboop(home, "login", relay.url, "--token", token).returncode == 0
    assert inboop(home, "sync").returncode == 0
    return Paths(home, home)


def test_the_cli_shows_a_picture_or_describes_it(
    media_relay: RelayProcess, graph: FakeGraph, tmp_path: Path
) -> None:
    post_picture(media_relay, graph, png())
    graph.cdn["list.pdf"] = (PDF, "application/pdf")
    pdf = mp.attachment_message(
        mp.IG_ACCOUNT_ID, "IGSID9", "ig_pdf", "file", {"url": graph.cdn_url("list.pdf")}
    )
    assert media_relay.post(mp.body(mp.instagram(pdf))).status_code == 200
    wait_for(lambda: states(media_relay).get("ig_pdf", ("", None))[0] == "STORED")
    home = tmp_path / "agent"
    signed_in(media_relay, home)
    shown = inboop(home, "media", "show", "Meera", "--json")
    assert shown.returncode == 0, shown.stderr
    facts = json.loads(shown.stdout)
    assert (facts["width"], facts["height"], facts["format"]) == (32, 20, "PNG")
    assert facts["size"] == len(png()) and facts["caption"] == "[b]this[/b] one"
    words = inboop(home, "media", "show", "Meera")  # not a terminal: described in words
    assert words.returncode == 0
    assert f"image · {len(png())} B · 32x20 PNG" in words.stdout
    assert "“[b]this[/b] one”" in words.stdout
    assert "`inboop media save Meera 1` saves it" in words.stdout
    refused = inboop(home, "media", "show", "IGSID9")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "file 1 is a file, not a picture: `inboop media save IGSID9 1` saves it" in (
        refused.stderr
    )


async def test_the_app_draws_a_picture_or_says_what_it_is(
    media_relay: RelayProcess, graph: FakeGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_picture(media_relay, graph, png())
    paths = signed_in(media_relay, tmp_path / "agent")
    downloads = tmp_path / "downloads"
    monkeypatch.setenv("INBOOP_DOWNLOADS", str(downloads))
    engine = open_replica(paths.database)
    with engine.connect() as conn:
        (message,) = thread(conn, conversation_id("WHATSAPP", mp.PHONE_NUMBER_ID, "919000000008"))
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(render_message(message, "Meera"))
    lines = [line.strip() for line in console.export_text().splitlines()]
    assert f"[image] {file_size(len(png()))}" in lines  # the relay keeps it: no expiring link
    try:
        app = make_app(paths, engine)  # a terminal without graphics: words
        async with app.run_test(size=(130, 40)) as pilot:
            await settle(pilot)
            await pilot.press("v")
            await settle(pilot)
            assert isinstance(app.screen, PickDialog)
            await pilot.press("enter")
            await wait_until(pilot, lambda: bool(app.screen.query("#words")))
            assert isinstance(app.screen, PicturePreview)
            said = str(app.screen.query_one("#words", Static).render())
            assert "[b]this[/b] one" in said
            assert "32x20 PNG" in str(app.screen.query_one("#what", Static).render())
            assert "does not draw pictures" in said
            await pilot.press("s")
            await wait_until(pilot, lambda: any(downloads.glob("*.png")))
            await pilot.press("escape")
            await settle(pilot)
            assert not isinstance(app.screen, PicturePreview)

            app.graphics = "kitty"  # a terminal that speaks the Kitty graphics protocol
            await pilot.press("v")
            await settle(pilot)
            await pilot.press("enter")
            await wait_until(pilot, lambda: bool(app.screen.query(TGPImage)))
            assert not app.screen.query("#words")
        (saved,) = downloads.glob("*.png")
        assert saved.read_bytes() == png()
    finally:
        engine.dispose()


def test_snapshot_of_a_picture_described_in_words(
    snap_compare: Callable[..., bool],
    media_relay: RelayProcess,
    graph: FakeGraph,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_utc()
    monkeypatch.setenv("INBOOP_DOWNLOADS", "~/Downloads/inboop")
    post_picture(media_relay, graph, png(640, 480))
    paths = signed_in(media_relay, tmp_path / "agent")
    engine = open_replica(paths.database)

    async def look(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(pilot.app.screen.query("#words")))

    try:
        assert snap_compare(make_app(paths, engine), terminal_size=(120, 34), run_before=look)
    finally:
        engine.dispose()
