"""`inboop demo`'s setup, without the app: a relay, Meta's stand-in, customers, a synced replica
on which a reply goes out and comes back read."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from inboop_tui.demo import prepare
from tests.harness import inboop


def test_the_demo_starts_everything_and_replies_go_out(tmp_path: Path) -> None:
    relay, graph, paths, traffic, people = prepare(tmp_path, 3)
    try:
        with httpx.Client(timeout=10) as client:  # a customer writes now: the window is open
            relay.deliver(
                client, traffic.message(people[0], "still there?", int(time.time() * 1000))[0]
            )
        assert inboop(paths.config_dir, "sync").returncode == 0
        listed = json.loads(inboop(paths.config_dir, "conversations", "--json").stdout)
        assert len(listed) == len(people) == 3
        team = json.loads(inboop(paths.config_dir, "team", "--json").stdout)
        assert [m["name"] for m in team] == ["demo", "maria"]
        newest = listed[0]
        assert newest["customer"]["id"] == people[0].customer_id
        sent = inboop(paths.config_dir, "reply", newest["id"], "Thanks for writing!")
        assert sent.returncode == 0 and "(sent)" in sent.stdout, sent.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            inboop(paths.config_dir, "sync")
            shown = json.loads(inboop(paths.config_dir, "show", newest["id"], "--json").stdout)
            states = [m["delivery_status"] for m in shown["messages"] if m["reply_id"]]
            if states == ["READ"]:
                break
            time.sleep(0.5)
        assert states == ["READ"]  # sent, delivered, then read by the simulated customer
        assert len(graph.sent) == 1
    finally:
        relay.stop()
        graph.stop()
