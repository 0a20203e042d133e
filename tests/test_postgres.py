"""The relay scaled out on PostgreSQL: several relay processes on one database keep one
gap-free log in commit order, wake each other's long-polls, and send each reply once, in order
per conversation. A throwaway PostgreSQL cluster (``tests.postgres``), real relay processes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from relay import simulator as mp
from relay.fake_graph import FakeGraph
from relay.log import append_events, head_seq, read_events
from relay.protocol import Channel, ContactProfile
from relay.store.dialect import create_engines
from relay.store.migrate import upgrade_to_head
from tests.conftest import TOKENS
from tests.harness import RelayProcess, inboop
from tests.postgres import PostgresCluster


def wait_for(check: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds:.0f} s")
        time.sleep(0.1)


def profile(customer: str) -> ContactProfile:
    return ContactProfile(
        dedup_key=f"profile:test:{customer}",
        channel=Channel.MESSENGER,
        account_id=mp.PAGE_ID,
        customer_id=customer,
        occurred_at=datetime.now(UTC),
        name=customer,
    )


def test_seq_stays_gap_free_and_in_commit_order_while_a_writer_holds_its_transaction(
    postgres: PostgresCluster,
) -> None:
    """A plain sequence would let seq 2 commit while seq 1 is still open, and a reader that
    took 2 would never see 1. The head row's lock makes the second writer wait instead."""
    engines = create_engines(postgres.new_database())
    try:
        upgrade_to_head(engines.writer)
        first = engines.reader.connect()  # a writer whose transaction stays open
        first_tx = first.begin()
        append_events(first, [profile("held")])  # takes seq 1, holds the head row
        finished = threading.Event()

        def second_writer() -> None:
            with engines.writer.begin() as conn:
                append_events(conn, [profile("second")])
            finished.set()

        worker = threading.Thread(target=second_writer)
        worker.start()
        for _ in range(20):  # whatever the second writer does meanwhile, readers see no hole
            with engines.reader.connect() as reader:
                assert read_events(reader, 0, 10) == [] and head_seq(reader) == 0
            assert not finished.is_set()  # it waits for the head row
            time.sleep(0.05)
        first_tx.commit()
        first.close()
        worker.join(30)
        assert finished.is_set()
        with engines.reader.connect() as reader:
            stored = read_events(reader, 0, 10)
        assert [e.seq for e in stored] == [1, 2]
        assert [json.loads(e.payload)["customer_id"] for e in stored] == ["held", "second"]
    finally:
        engines.dispose()


@pytest.fixture
def two_relays(postgres: PostgresCluster, tmp_path: Path) -> Iterator[list[RelayProcess]]:
    """Two relay processes on one PostgreSQL database (as behind a load balancer)."""
    url = postgres.new_database()
    relays = [RelayProcess(tmp_path / f"relay-{n}", INBOOP_RELAY_DATABASE_URL=url) for n in (1, 2)]
    try:
        for relay in relays:
            relay.start()
        yield relays
    finally:
        for relay in relays:
            relay.stop()


def test_two_relays_keep_one_log_that_every_client_reads_the_same(
    two_relays: list[RelayProcess], tmp_path: Path
) -> None:
    first, second = two_relays
    token = first.add_user("admin", admin=True)

    def head_of(relay: RelayProcess) -> int:
        return int(relay.get("/healthz").json()["head"])

    # The second relay hears of the first's append (LISTEN/NOTIFY): its own head moves.
    one = mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, "P0", "m_first", "hello")))
    assert first.post(one).status_code == 200
    wait_for(lambda: head_of(second) == 1)

    bodies = [
        mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, f"P{n % 9}", f"m_{n}", f"hi {n}")))
        for n in range(160)
    ]
    answers: list[int] = []

    def deliver(part: list[bytes], relay: RelayProcess) -> None:
        for body in part:
            answers.append(relay.post(body).status_code)
            answers.append(relay.post(body).status_code)  # Meta's retry of the same

    senders = [
        threading.Thread(target=deliver, args=(bodies[n::4], two_relays[n % 2])) for n in range(4)
    ]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    assert answers == [200] * 320

    homes = []
    for n in range(4):  # four agents, each on either relay
        home = tmp_path / f"agent-{n}"
        assert inboop(home, "login", two_relays[n % 2].url, "--token", token).returncode == 0
        synced = inboop(home, "sync")
        assert synced.returncode == 0, synced.stderr
        homes.append(home)
    logs = [relay.all_events(token) for relay in two_relays]
    assert logs[0] == logs[1]
    assert [e["seq"] for e in logs[0]] == list(range(1, 162))
    keys = [e["event"]["dedup_key"] for e in logs[0]]
    assert len(set(keys)) == 161  # each delivery once, whichever relay took it, retries or not
    shown = [json.loads(inboop(home, "conversations", "--json").stdout) for home in homes]
    assert all(s == shown[0] for s in shown) and len(shown[0]) == 9  # P0 … P8


def test_two_sending_relays_send_each_reply_once_and_in_order(
    postgres: PostgresCluster, graph: FakeGraph, tmp_path: Path
) -> None:
    url = postgres.new_database()
    tokens = {
        "INBOOP_GRAPH_API_URL": graph.url,
        "INBOOP_PAGE_TOKENS": f"{mp.PAGE_ID}={TOKENS[mp.PAGE_ID]}",
        "INBOOP_RELAY_DATABASE_URL": url,
    }
    relays = [RelayProcess(tmp_path / f"relay-{n}", **tokens) for n in (1, 2)]
    try:
        for relay in relays:
            relay.start()
        graph.relay_url = relays[0].url
        token = relays[0].add_user("admin", admin=True)
        customers = [f"PSID{n}" for n in range(3)]
        for n, customer in enumerate(customers):
            now = int(time.time() * 1000)
            body = mp.messenger(mp.text_message(mp.PAGE_ID, customer, f"m_c{n}", "hello?", ts=now))
            assert relays[n % 2].post(mp.body(body)).status_code == 200
        home = tmp_path / "agent"
        assert inboop(home, "login", relays[1].url, "--token", token).returncode == 0
        assert inboop(home, "sync").returncode == 0
        relays[1].stop()  # written offline, pushed in one go: both senders race for them
        for round_ in range(4):
            for customer in customers:
                queued = inboop(home, "reply", customer, f"{customer} reply {round_}")
                assert queued.returncode == 0, queued.stderr
        relays[1].start()
        assert inboop(home, "sync").returncode == 0
        wait_for(lambda: len(graph.sent) >= 12)
        time.sleep(1)  # a duplicate send, were there one, would land now
        texts = [s.body["message"]["text"] for s in graph.sent]
        assert len(texts) == 12 and len(set(texts)) == 12
        for customer in customers:
            mine = [t for t in texts if t.startswith(customer)]
            assert mine == [f"{customer} reply {r}" for r in range(4)]
    finally:
        for relay in relays:
            relay.stop()


def test_migrate_store_copies_a_sqlite_relay_to_postgresql_and_can_run_again(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    old = RelayProcess(tmp_path / "old")
    engines = create_engines(old.database_url)  # tens of thousands of entries, appended fast
    try:
        upgrade_to_head(engines.writer)
        for start in range(0, 20_000, 2_000):
            with engines.writer.begin() as conn:
                append_events(conn, [profile(f"C{n}") for n in range(start, start + 2_000)])
    finally:
        engines.dispose()
    old.start()
    try:
        token = old.add_user("admin", admin=True)
        member = old.add_user("ana")
        bodies = [
            mp.body(mp.messenger(mp.text_message(mp.PAGE_ID, f"P{n % 50}", f"m_{n}", f"hi {n}")))
            for n in range(300)
        ]
        with httpx.Client(timeout=30) as client:
            for body in bodies:
                old.deliver(client, json.loads(body))
        assert old.post(b"{not json").status_code == 200  # a failure row, copied too
        before = old.all_events(token)
        refused = old.cli("migrate-store", "--to", postgres.url("postgres"), check=False)
        assert refused.returncode != 0 and "a relay is serving" in refused.stderr
    finally:
        old.stop()
    url = postgres.new_database()
    for _ in range(2):  # and once more, over the first copy
        moved = old.cli("migrate-store", "--to", url)
        assert "copied" in moved.stdout and "the log is at seq 20,300 on both" in moved.stdout
    new = RelayProcess(tmp_path / "new", INBOOP_RELAY_DATABASE_URL=url).start()
    try:
        assert new.all_events(token) == before  # the same log, the same tokens
        assert new.get("/v1/me", member).json()["name"] == "ana"
        later = mp.messenger(mp.text_message(mp.PAGE_ID, "P1", "m_new", "after the move"))
        assert new.post(mp.body(later)).status_code == 200
        assert new.all_events(token)[-1]["seq"] == 20_301
        new.add_user("sam")  # the users' id counter continues after the copied rows
    finally:
        new.stop()
    used = old.cli("migrate-store", "--to", url, check=False)  # the new relay has written there
    assert used.returncode != 0 and "not a copy of this one" in used.stderr
