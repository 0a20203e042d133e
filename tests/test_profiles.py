"""Instagram and Messenger customers get their names: the relay looks them up through the
Graph API (a local stand-in that answers like Meta, refusals included) in the background, and
every replica learns them from the log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from relay import simulator as mp
from relay.fake_graph import NO_CONSENT, SERVER_ERROR, FakeGraph
from tests.conftest import TOKENS
from tests.harness import RelayProcess, inboop


def wait_for(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds:.0f} s")
        time.sleep(0.2)


def names(home: Path) -> dict[str, str]:
    assert inboop(home, "sync").returncode == 0
    rows = json.loads(inboop(home, "conversations", "--json").stdout)
    return {r["customer"]["id"]: r["customer"]["display_name"] for r in rows}


def write(relay: RelayProcess, *items: tuple[str, str, str]) -> None:
    for channel, customer, mid in items:
        if channel == "ig":
            body = mp.instagram(mp.text_message(mp.IG_ACCOUNT_ID, customer, mid, "hi"))
        else:
            body = mp.messenger(mp.text_message(mp.PAGE_ID, customer, mid, "hi"))
        assert relay.post(mp.body(body)).status_code == 200


def failures(relay: RelayProcess, token: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{relay.url}/v1/integration-failures",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return [f for f in answer.json() if f["kind"] == "profile_refused"]


def test_names_are_looked_up_once_and_refusals_are_not_retried(
    tmp_path: Path, graph: FakeGraph
) -> None:
    graph.profiles.update(
        {
            "PSID1": {"first_name": "Priya", "last_name": "Shah", "profile_pic": "https://x/p.jpg"},
            "IGSID1": {"name": "Arjun K", "username": "arjun.k", "profile_pic": "https://x/a.jpg"},
            "IGSID2": NO_CONSENT,
            "PSID2": [SERVER_ERROR, {"first_name": "Meera", "last_name": ""}],
        }
    )
    relay = RelayProcess(
        tmp_path / "relay",
        INBOOP_GRAPH_API_URL=graph.url,
        INBOOP_PAGE_TOKENS=f"{mp.PAGE_ID}={TOKENS[mp.PAGE_ID]}",
        INBOOP_INSTAGRAM_TOKENS=f"{mp.IG_ACCOUNT_ID}={TOKENS[mp.IG_ACCOUNT_ID]}",
        INBOOP_PROFILE_RETRY_SECONDS="0.2",
    ).start()
    try:
        token = relay.add_user("admin", admin=True)
        home = tmp_path / "agent"
        assert inboop(home, "login", relay.url, "--token", token).returncode == 0
        write(relay, ("fb", "PSID1", "m1"), ("ig", "IGSID1", "i1"), ("ig", "IGSID2", "i2"))
        write(relay, ("fb", "PSID2", "m2"), ("fb", "PSID1", "m3"))  # PSID1 again: no new lookup
        wanted = {"PSID1": "Priya Shah", "IGSID1": "Arjun K", "PSID2": "Meera", "IGSID2": "IGSID2"}
        wait_for(lambda: names(home) == wanted)
        wait_for(lambda: len(failures(relay, token)) == 1)
        (refused,) = failures(relay, token)
        assert "IGSID2" in refused["detail"] and "230" in refused["detail"]
        time.sleep(1.5)  # long past the retry time: a refusal is never asked again
        assert sorted(graph.lookups) == ["IGSID1", "IGSID2", "PSID1", "PSID2", "PSID2"]
        shown = json.loads(inboop(home, "show", "IGSID1", "--json").stdout)
        assert shown["customer"]["handle"] == "arjun.k"
    finally:
        relay.stop()


def test_an_account_without_a_token_is_not_looked_up(tmp_path: Path, graph: FakeGraph) -> None:
    graph.profiles["PSID9"] = {"first_name": "Nobody", "last_name": "Asked"}
    relay = RelayProcess(tmp_path / "relay", INBOOP_GRAPH_API_URL=graph.url).start()
    try:
        token = relay.add_user("admin", admin=True)
        home = tmp_path / "agent"
        assert inboop(home, "login", relay.url, "--token", token).returncode == 0
        write(relay, ("fb", "PSID9", "m9"))
        time.sleep(2.5)  # a round of lookups or two
        assert graph.lookups == []
        assert names(home) == {"PSID9": "PSID9"}
        assert failures(relay, token) == []
    finally:
        relay.stop()
