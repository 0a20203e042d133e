"""Sync through a bad network: a proxy of our own between the client and the real relay delays
connections, cuts them part-way through a response and resets them. Each sync either completes
or fails in one line and leaves the replica usable; syncing again resumes, and the replica ends
identical to one synced over a good network, with every queued change pushed once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inboop_tui.store.actions import Identity
from inboop_tui.store.config import ClientConfig
from inboop_tui.store.db import open_replica
from inboop_tui.store.rebuild import digest
from inboop_tui.store.replica import Replica
from inboop_tui.sync.engine import sync
from tests.fault_proxy import FAULTS, FaultProxy
from tests.harness import RelayProcess, many_messages


def faulty_sync_run(
    relay: RelayProcess, token: str, tmp_path: Path, *, messages: int, seed: int
) -> None:
    arriving = many_messages(messages, per_delivery=20, customer=lambda i: f"P{i % 300}")
    proxy = FaultProxy(relay.port, seed=seed)
    bad = open_replica(tmp_path / "bad" / "replica.db")
    good = open_replica(tmp_path / "good" / "replica.db")
    through_proxy = ClientConfig(relay_url=proxy.url, token=token, user_name="admin", role="ADMIN")
    direct = ClientConfig(relay_url=relay.url, token=token, user_name="admin", role="ADMIN")
    results: Counter[str] = Counter()
    notes: list[str] = []
    try:
        for attempt in range(1000):
            for body in arriving[:3]:  # customers keep writing between syncs
                assert relay.post(body).status_code == 200
            del arriving[:3]
            with bad.connect() as conn:
                first = conn.exec_driver_sql("select id from conversations limit 1").scalar()
            if first is not None and attempt % 3 == 0:
                me = Replica(bad, Identity("admin", "ADMIN"), lambda: datetime.now(UTC))
                me.actions.add_note(first, f"note {attempt}")
                notes.append(f"note {attempt}")
            outcome = sync(bad, through_proxy, timeout=1.0, batch=100)
            if outcome.ok:
                results["completed"] += 1
                if not arriving and outcome.cursor == outcome.head and len(notes) >= 3:
                    break
            else:
                results[f"failed ({outcome.error_kind})"] += 1
                assert outcome.error and "\n" not in outcome.error
                assert outcome.error_kind in ("network", "protocol"), outcome.error
        else:
            raise AssertionError(f"never finished through the proxy: {dict(results)}")
        final = sync(bad, through_proxy, timeout=60)  # the last notes, whatever the network
        assert final.ok, final.error
        assert sync(good, direct, timeout=60).ok
        with bad.connect() as a, good.connect() as b:
            assert digest(a) == digest(b)
            assert a.exec_driver_sql("select count(*) from outbox").scalar() == 0
    finally:
        proxy.close()
        bad.dispose()
        good.dispose()
    log = relay.all_events(token)
    pushed = [e["event"]["payload"]["text"] for e in log if e["type"] == "conversation.note"]
    assert sorted(pushed) == sorted(notes), "a change was lost or applied twice"
    assert set(proxy.faults) == set(FAULTS), proxy.faults  # every kind of fault happened
    if messages >= 5_000:  # long enough that some syncs must have failed and then resumed
        assert results["completed"] and sum(results.values()) > results["completed"], results
    print(
        f"network faults: {sum(proxy.faults.values())} connections "
        f"({dict(proxy.faults)}); syncs {dict(results)}; {len(notes)} changes pushed once each"
    )


def test_sync_through_a_bad_network_completes_or_fails_cleanly_and_resumes(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    faulty_sync_run(relay, admin_token, tmp_path, messages=1200, seed=31)


@pytest.mark.stress
def test_sync_through_a_bad_network_at_length(
    relay: RelayProcess, admin_token: str, tmp_path: Path
) -> None:
    faulty_sync_run(relay, admin_token, tmp_path, messages=12_000, seed=32)
