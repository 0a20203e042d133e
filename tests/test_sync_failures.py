"""Sync against relays that misbehave: a local HTTP server plays the broken relay.

Each case goes through the real client and sync engine over loopback into a real replica file,
and must end in a one-line error, a recorded failed run and an unchanged replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from inboop_tui.store.apply import current_cursor
from inboop_tui.store.config import ClientConfig
from inboop_tui.store.db import open_replica
from inboop_tui.store.diagnostics import recent_sync_runs
from inboop_tui.store.rebuild import digest
from inboop_tui.sync.engine import GROUP_PAGES, sync
from tests.hostile_relay import Handler, answer, cut_short, entry, hang, page


@pytest.mark.parametrize(
    ("handler", "timeout", "expected"),
    [
        (answer(503, b'{"detail": "down"}'), 1.5, "had an error (503)"),
        (hang, 1.0, "did not answer in time"),
        (answer(200, b"<html>captive portal</html>", "text/html"), 5, "did not answer with JSON"),
        (answer(200, b'{"events": "nope"}'), 5, "sent a page that is not the v1 protocol"),
        (
            answer(200, page([entry(2), entry(1)], 1, 2)),
            5,
            "sent a page with a gap or out of order",
        ),
        (answer(200, page([entry(1), entry(3)], 3, 3)), 5, "with a gap or out of order (seq 3"),
        (answer(200, page([entry(2)], 2, 2)), 5, "with a gap or out of order (seq 2 after 0)"),
        (answer(200, page([{"seq": 1}], 1, 1)), 5, "sent an event that is not the v1 protocol"),
        (answer(404, b"{}"), 5, "answered 404"),
        (answer(200, page([entry(1)], 1, 1)[:-9]), 5, "did not answer with JSON"),  # truncated
        (answer(200, b""), 5, "did not answer with JSON"),
        (answer(200, b"[1, 2]"), 5, "did not answer like an Inboop relay"),
        (answer(200, page([entry(1)], 1, 1), "text/plain"), 5, "did not answer with JSON"),
        (answer(200, b'{"events": [], "next_after": -5, "head": "x"}'), 5, "not the v1 protocol"),
        (cut_short(page([entry(1), entry(2)], 2, 2)), 1.5, "lost the connection to"),
    ],
)
def test_broken_relays_fail_cleanly(
    broken_relay: Callable[[Handler], str],
    tmp_path: Path,
    handler: Handler,
    timeout: float,
    expected: str,
) -> None:
    url = broken_relay(handler)
    engine = open_replica(tmp_path / "replica.db")
    try:
        with engine.connect() as conn:
            before = digest(conn)
        outcome = sync(engine, ClientConfig(relay_url=url, token="inb_x"), timeout=timeout)
        assert not outcome.ok
        assert outcome.error is not None and expected in outcome.error
        assert "\n" not in outcome.error
        with engine.connect() as conn:
            assert digest(conn) == before
            (run,) = recent_sync_runs(conn)
        assert (run.ok, run.error) == (False, outcome.error)
    finally:
        engine.dispose()


def test_transient_errors_are_retried_then_succeed(
    broken_relay: Callable[[Handler], str], tmp_path: Path
) -> None:
    calls = {"n": 0}

    def flaky(request: BaseHTTPRequestHandler) -> None:
        if not request.path.startswith("/v1/events"):
            return answer(200, b"[]")(request)  # the team: nobody
        calls["n"] += 1
        if calls["n"] <= 2:
            answer(502, b"{}")(request)
        else:
            answer(200, page([entry(1), entry(2)], 2, 2))(request)

    engine = open_replica(tmp_path / "replica.db")
    try:
        outcome = sync(
            engine, ClientConfig(relay_url=broken_relay(flaky), token="inb_x"), timeout=20
        )
        assert outcome.ok and outcome.pulled == 2 and calls["n"] == 3
    finally:
        engine.dispose()


def test_a_long_pull_retries_a_failure_after_its_first_timeout_seconds(
    broken_relay: Callable[[Handler], str], tmp_path: Path
) -> None:
    """The budget is for a stretch without answers, not for the whole sync: a pull that takes
    longer than ``timeout`` (slow pages) still retries a failure near its end."""
    log_of = a_log(40)
    started = time.monotonic()
    failed: list[float] = []

    def slow(request: BaseHTTPRequestHandler) -> None:
        time.sleep(0.1)
        if request.path.startswith("/v1/events") and not failed:
            if time.monotonic() - started > 1.5:  # past the budget of the whole sync
                failed.append(time.monotonic() - started)
                return answer(502, b"{}")(request)
        log_of(request)

    engine = open_replica(tmp_path / "replica.db")
    try:
        url = broken_relay(slow)
        started = time.monotonic()
        outcome = sync(engine, ClientConfig(relay_url=url, token="inb_x"), batch=2, timeout=1.0)
        assert failed, "the relay never got to fail"
        assert outcome.ok and outcome.pulled == 40, outcome.error
    finally:
        engine.dispose()


def test_tls_to_a_plain_http_port_is_reported_as_tls(
    broken_relay: Callable[[Handler], str], tmp_path: Path
) -> None:
    url = broken_relay(answer(200, b"{}")).replace("http://", "https://")
    engine = open_replica(tmp_path / "replica.db")
    try:
        outcome = sync(engine, ClientConfig(relay_url=url, token="inb_x"), timeout=3)
        assert not outcome.ok and outcome.error is not None
        assert outcome.error.startswith("TLS error talking to https://127.0.0.1")
    finally:
        engine.dispose()


def a_log(count: int, change: Callable[[int, list[dict]], list[dict]] | None = None) -> Handler:
    """A relay whose log is entries 1..count; ``change`` may alter the n-th page it serves."""
    served = {"pages": 0}

    def handle(request: BaseHTTPRequestHandler) -> None:
        if not request.path.startswith("/v1/events"):
            return answer(200, b"[]")(request)  # the team: nobody
        query = parse_qs(urlsplit(request.path).query)
        after, limit = int(query["after"][0]), int(query["limit"][0])
        served["pages"] += 1
        events = [entry(seq) for seq in range(after + 1, min(count, after + limit) + 1)]
        if change is not None:
            events = change(served["pages"], events)
        answer(200, page(events, events[-1]["seq"] if events else after, count))(request)

    return handle


def test_a_replica_far_behind_applies_several_pages_per_transaction(
    broken_relay: Callable[[Handler], str], tmp_path: Path
) -> None:
    url = broken_relay(a_log(35))
    grouped, whole = open_replica(tmp_path / "grouped.db"), open_replica(tmp_path / "whole.db")
    try:
        applied: list[tuple[int, int]] = []
        config = ClientConfig(relay_url=url, token="inb_x")
        outcome = sync(grouped, config, batch=3, progress=lambda c, h: applied.append((c, h)))
        # Pages of 3 asked from one entry back bring 2 new entries each after the first:
        # ten pages (21 entries) in one transaction, then the rest.
        assert outcome.ok and outcome.pulled == 35
        assert applied == [(21, 35), (35, 35)]
        assert sync(whole, config).ok
        with grouped.connect() as a, whole.connect() as b:
            assert digest(a) == digest(b)
    finally:
        grouped.dispose()
        whole.dispose()


def test_the_next_group_is_read_while_one_is_applied(
    broken_relay: Callable[[Handler], str], tmp_path: Path
) -> None:
    served: list[int] = []

    def count(n: int, events: list[dict]) -> list[dict]:
        served.append(n)
        return events

    url = broken_relay(a_log(70, count))
    engine = open_replica(tmp_path / "replica.db")
    read_meanwhile: list[int] = []

    def progress(cursor: int, head: int) -> None:  # a group was applied, the next not taken
        if not read_meanwhile:
            deadline = time.monotonic() + 10
            while len(served) <= 2 * GROUP_PAGES and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)  # room to read further, if nothing held it back
            read_meanwhile.append(len(served))

    try:
        outcome = sync(
            engine, ClientConfig(relay_url=url, token="inb_x"), batch=3, progress=progress
        )
        assert outcome.ok and outcome.pulled == 70
        # The applied group's pages, the next group's waiting, and one more read that waits.
        assert read_meanwhile == [2 * GROUP_PAGES + 1]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("fourth_page", "expected"),
    [
        (  # the relay's log at the page's first entry is not the one read a page before
            lambda events: [{**events[0], "recorded_at": "2026-11-26T00:00:00.000Z"}, *events[1:]],
            "changed under this sync at seq 7",
        ),
        (None, "answered 404"),
    ],
)
def test_pages_read_before_a_failure_in_a_group_are_kept(
    broken_relay: Callable[[Handler], str],
    tmp_path: Path,
    fourth_page: Callable[[list[dict]], list[dict]] | None,
    expected: str,
) -> None:
    def change(n: int, events: list[dict]) -> list[dict]:
        if n == 4:
            if fourth_page is None:
                raise ConnectionAbortedError  # answered below
            return fourth_page(events)
        return events

    log_of = a_log(35, change)

    def handle(request: BaseHTTPRequestHandler) -> None:
        try:
            log_of(request)
        except ConnectionAbortedError:
            answer(404, b"{}")(request)

    engine = open_replica(tmp_path / "replica.db")
    try:
        config = ClientConfig(relay_url=broken_relay(handle), token="inb_x")
        outcome = sync(engine, config, batch=3, timeout=5)
        assert not outcome.ok and outcome.error is not None and expected in outcome.error
        assert "\n" not in outcome.error
        assert outcome.pulled == 7  # three pages, read before the fourth failed: applied
        with engine.connect() as conn:
            assert current_cursor(conn) == 7
    finally:
        engine.dispose()
