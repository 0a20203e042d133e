"""The relay killed (SIGKILL) again and again while eight senders deliver webhooks with repeats,
in shuffled order, as Meta retries them.

Afterwards: every delivery that was answered 200 is in the log, no event is in it twice, the
log's seq runs 1..head without a gap, the head never went backwards across restarts, SQLite's
integrity check is ok, and a replica synced from the crashed relay equals one built from the
same deliveries applied once, in order.

The default suite runs a few kills; ``make stress`` runs 200.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from inboop_tui.store.db import open_replica
from inboop_tui.store.rebuild import digest
from relay import simulator as meta
from relay.signing import SIGNATURE_HEADER, sign
from tests.harness import APP_SECRET, RelayProcess, fill_replica, inboop

SENDERS = 8
REPEAT = 0.3  # the share of acknowledged deliveries sent again, as Meta does after a timeout
RESTART_SECONDS = 1.2  # about what a kill and a restart take here: the traffic spans them


@dataclass
class Delivery:
    body: bytes
    message_ids: list[str]


def deliveries(count: int, rng: random.Random) -> list[Delivery]:
    """``count`` Messenger and Instagram deliveries of one to three messages (and now and then
    an agent's echo) from forty customers, one second apart."""
    made: list[Delivery] = []
    n = 0
    for d in range(count):
        items, ids = [], []
        instagram = d % 3 == 0
        account = meta.IG_ACCOUNT_ID if instagram else meta.PAGE_ID
        for _ in range(rng.randint(1, 3)):
            n += 1
            customer, mid = f"C{rng.randrange(40)}", f"m_crash_{n}"
            ts = meta.T0_MS + n * 1000
            if rng.random() < 0.15:
                items.append(meta.echo(account, customer, mid, f"reply {n}", ts=ts))
            else:
                items.append(meta.text_message(account, customer, mid, f"message {n}", ts=ts))
            ids.append(mid)
        payload = meta.instagram(*items) if instagram else meta.messenger(*items)
        made.append(Delivery(meta.body(payload), ids))
    return made


@dataclass
class Run:
    acked: set[int] = field(default_factory=set)
    sent: int = 0
    refused: int = 0  # connection errors and non-200 answers while the relay was down
    kills: int = 0
    heads: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def send(
    relay: RelayProcess,
    queue: deque[int],
    items: list[Delivery],
    run: Run,
    seed: int,
    gap: float,
    killing: threading.Event,
) -> None:
    """One sender: its deliveries in its own order, about ``gap`` seconds apart, each until it
    is answered 200, some again after that; once they are all in, acknowledged ones again for
    as long as the relay is being killed."""
    rng = random.Random(seed)
    mine = list(queue)
    with httpx.Client(timeout=10) as client:
        while queue or killing.is_set():
            index = queue.popleft() if queue else rng.choice(mine)
            time.sleep(rng.uniform(0, 2 * gap))
            body = items[index].body
            try:
                response = client.post(
                    f"{relay.url}/webhooks/meta",
                    content=body,
                    headers={
                        SIGNATURE_HEADER: sign(APP_SECRET, body),
                        "Content-Type": "application/json",
                    },
                )
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            with run.lock:
                run.sent += 1
                if ok:
                    run.acked.add(index)
                else:
                    run.refused += 1
            if not ok:
                queue.append(index)  # retried later, as Meta retries
                time.sleep(0.02)
            elif rng.random() < REPEAT:
                queue.insert(rng.randrange(len(queue) + 1), index)


def observe_head(relay: RelayProcess, token: str) -> int:
    return int(relay.get("/v1/events", token, after=0, limit=1).json()["head"])


def crash_run(
    tmp_path: Path, relay_database: dict[str, str], *, count: int, kills: int, seed: int
) -> None:
    rng = random.Random(seed)
    items = deliveries(count, rng)
    relay = RelayProcess(tmp_path / "relay", **relay_database).start()
    try:
        token = relay.add_user("admin", admin=True)
        order = list(range(count))
        rng.shuffle(order)
        queues = [deque(order[i::SENDERS]) for i in range(SENDERS)]
        run = Run()
        killing = threading.Event()
        killing.set()
        gap = kills * RESTART_SECONDS * SENDERS / count  # spread over the kills
        senders = [
            threading.Thread(
                target=send, args=(relay, q, items, run, seed + i, gap, killing), daemon=True
            )
            for i, q in enumerate(queues)
        ]
        for thread in senders:
            thread.start()
        for _ in range(kills):
            time.sleep(rng.uniform(0.02, 0.3))  # at a random moment of the traffic
            relay.kill()
            run.kills += 1
            relay.start()
            run.heads.append(observe_head(relay, token))
        killing.clear()
        for thread in senders:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in senders)

        assert run.kills == kills and run.acked == set(range(count))
        assert run.heads == sorted(run.heads), "the log's head went backwards after a restart"
        log = relay.all_events(token)
        assert [entry["seq"] for entry in log] == list(range(1, len(log) + 1))  # no gap
        logged = [entry["event"]["message"]["channel_message_id"] for entry in log]
        assert len(logged) == len(set(logged)), "an event is in the log twice"
        assert set(logged) == {mid for item in items for mid in item.message_ids}
        if not relay_database:  # the relay's own SQLite file
            assert relay.rows("PRAGMA integrity_check") == [("ok",)]

        home = tmp_path / "agent"
        assert inboop(home, "login", relay.url, "--token", token).returncode == 0
        synced = inboop(home, "sync")
        assert synced.returncode == 0, synced.stderr
    finally:
        relay.stop()
    crashed = open_replica(home / "replica.db")
    clean = open_replica(tmp_path / "clean" / "replica.db")
    try:
        fill_replica(clean, [item.body for item in items])  # each once, in order
        with crashed.connect() as a, clean.connect() as b:
            assert digest(a) == digest(b)
    finally:
        crashed.dispose()
        clean.dispose()
    print(
        f"relay crash: {count} deliveries, {run.sent} sent ({run.refused} refused while down), "
        f"{run.kills} kills, {len(run.acked)} acknowledged and kept, 0 duplicates"
    )


def test_the_relay_killed_mid_traffic_keeps_every_acknowledged_delivery_once(
    tmp_path: Path, relay_database: dict[str, str]
) -> None:
    crash_run(tmp_path, relay_database, count=120, kills=5, seed=11)


@pytest.mark.stress
def test_the_relay_killed_200_times_keeps_every_acknowledged_delivery_once(
    tmp_path: Path, relay_database: dict[str, str]
) -> None:
    crash_run(tmp_path, relay_database, count=1500, kills=200, seed=12)
