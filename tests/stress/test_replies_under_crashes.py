"""Replies sent while the relay is killed again and again, and Meta (the local fake Graph API)
now and then answers with a server error, a rate limit or a refusal.

Afterwards every reply the agent wrote ends SENT (or further) or FAILED with Meta's reason, none
is lost, and none reaches Meta twice.

Notes and assignments are pushed through the same kills: each is in the log exactly once.

The default suite runs a few kills; ``make stress`` runs 200.
"""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inboop_tui.store.actions import ActionError, Identity
from inboop_tui.store.config import ClientConfig
from inboop_tui.store.db import open_replica
from inboop_tui.store.queries import InboxFilter
from inboop_tui.store.replica import Replica
from inboop_tui.sync.engine import sync
from relay import simulator as mp
from relay.fake_graph import (
    PERSON_UNAVAILABLE,
    RATE_LIMITED_MESSENGER,
    SERVER_ERROR,
    FakeGraph,
)
from relay.protocol import reply_tag
from tests.harness import RelayProcess
from tests.test_replies_e2e import customers_write

DONE = ("SENT", "DELIVERED", "READ", "FAILED")


def states(replica_file: Path) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(replica_file) as db:
        rows = db.execute(
            "select reply_id, delivery_status, delivery_error from messages "
            "where reply_id is not null"
        ).fetchall()
    return {reply: (status, error) for reply, status, error in rows}


def replies_under_crashes(
    relay: RelayProcess, graph: FakeGraph, tmp_path: Path, *, kills: int, seed: int
) -> None:
    rng = random.Random(seed)
    customers_write(relay)
    token = relay.add_user("admin", admin=True)
    config = ClientConfig(relay_url=relay.url, token=token, user_name="admin", role="ADMIN")
    engine = open_replica(tmp_path / "agent" / "replica.db")
    made: list[str] = []
    noted: list[str] = []
    try:
        assert sync(engine, config, timeout=30).ok
        me = Replica(engine, Identity("admin", "ADMIN"), lambda: datetime.now(UTC))
        conversations = [row.id for row in me.window(InboxFilter(), 0, 10)]
        assert len(conversations) == 3
        for round_ in range(kills):
            for _ in range(rng.randint(1, 3)):
                try:
                    done = me.actions.reply(rng.choice(conversations), f"reply {len(made)}")
                except ActionError:
                    continue
                made += [d.mutation_id for d in done]
            target = rng.choice(conversations)  # and the other changes agents push meanwhile
            me.actions.add_note(target, f"note {round_}")
            noted.append(f"note {round_}")
            try:
                me.actions.assign(target, rng.choice(["admin", None]))
            except ActionError:
                pass  # already so
            answers = rng.choice([(), (), (SERVER_ERROR,), (RATE_LIMITED_MESSENGER,)])
            if round_ % 7 == 3:
                answers = (PERSON_UNAVAILABLE,)
            if not graph.scripted(mp.PAGE_ID):  # sends held up in order must not pile them up
                graph.answer_next(mp.PAGE_ID, *answers)
            sync(engine, config, timeout=2)  # the relay may be down: the next round retries
            time.sleep(rng.uniform(0.05, 0.6))  # mid-send, mid-echo, or idle
            relay.kill()
            relay.start()
        # A reply that met several errors in a row waits out its backoff (2, 4, 8 … s), and
        # the later replies of its conversation wait behind it, in order.
        deadline = time.monotonic() + 300
        while True:
            outcome = sync(engine, config, timeout=30)
            found = states(tmp_path / "agent" / "replica.db")
            if outcome.ok and all(found.get(r, ("",))[0] in DONE for r in made):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"replies still not done: {found}")
            time.sleep(0.5)
        time.sleep(4)  # past the relay's confirmation window: nothing may be tried again
    finally:
        engine.dispose()
    assert made
    taken = {r: len(graph.sends_tagged(reply_tag(r))) for r in made}
    assert all(count <= 1 for count in taken.values()), f"sent twice: {taken}"
    for reply in made:
        status, error = found[reply]
        if status == "FAILED":
            assert error, reply  # with Meta's reason
        else:
            assert taken[reply] == 1, (reply, status)
    log = relay.all_events(token)
    notes = [e["event"]["payload"]["text"] for e in log if e["type"] == "conversation.note"]
    assert sorted(notes) == sorted(noted), "a change was lost or applied twice"
    ids = [e["event"]["id"] for e in log if e["origin"] == "mutation"]
    assert len(ids) == len(set(ids)), "a mutation is in the log twice"
    failed = sum(1 for r in made if found[r][0] == "FAILED")
    print(
        f"replies under crashes: {kills} kills, {len(made)} replies, "
        f"{len(made) - failed} sent once, {failed} failed with a reason, 0 sent twice; "
        f"{len(ids)} changes in the log, each once"
    )


def test_replies_sent_while_the_relay_is_killed_go_out_once_or_fail_with_a_reason(
    sending_relay: RelayProcess, graph: FakeGraph, tmp_path: Path
) -> None:
    replies_under_crashes(sending_relay, graph, tmp_path, kills=3, seed=51)


@pytest.mark.stress
def test_replies_through_200_relay_kills_go_out_once_or_fail_with_a_reason(
    sending_relay: RelayProcess, graph: FakeGraph, tmp_path: Path
) -> None:
    replies_under_crashes(sending_relay, graph, tmp_path, kills=200, seed=52)
