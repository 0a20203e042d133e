"""Media customers send, fetched by the relay before the links expire, and saved by an agent:
the real relay process, the CLI, and a Graph API stand-in that serves WhatsApp media and
Instagram/Messenger CDN links like Meta (expired links answer with an HTML page)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inboop_tui.screens.selling_dialogs import PickDialog
from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths
from relay import simulator as mp
from relay.fake_graph import FakeGraph
from tests.app_support import make_app, settle, wait_until
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
    out = tmp_path / "saved"
    out.mkdir()
    saved = inboop(home, "media", "save", "919000000001", "--out", str(out), "--json")
    assert saved.returncode == 0, saved.stderr
    path = Path(json.loads(saved.stdout)["path"])
    assert path.parent == out and path.read_bytes() == JPEG and path.suffix == ".jpg"
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
