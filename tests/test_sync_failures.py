"""Sync against relays that misbehave: a local HTTP server plays the broken relay.

Each case goes through the real client and sync engine over loopback into a real replica file,
and must end in a one-line error, a recorded failed run and an unchanged replica.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from inboop_tui.store.config import ClientConfig
from inboop_tui.store.db import open_replica
from inboop_tui.store.diagnostics import recent_sync_runs
from inboop_tui.store.rebuild import digest
from inboop_tui.sync.engine import sync

Handler = Callable[[BaseHTTPRequestHandler], None]


def answer(status: int, body: bytes, content_type: str = "application/json") -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


def cut_short(body: bytes) -> Handler:
    """Promise the whole body, send half of it, and close the connection."""

    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body[: len(body) // 2])
        request.wfile.flush()
        request.close_connection = True

    return handle


def hang(request: BaseHTTPRequestHandler) -> None:
    time.sleep(5)


@pytest.fixture
def broken_relay() -> Iterator[Callable[[Handler], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(handle: Handler) -> str:
        class Broken(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                handle(self)

            def log_message(self, *_args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def page(events: list[dict], next_after: int, head: int) -> bytes:
    return json.dumps({"events": events, "next_after": next_after, "head": head}).encode()


def entry(seq: int) -> dict:
    return {
        "seq": seq,
        "origin": "channel",
        "type": "message.received",
        "recorded_at": "2026-11-25T00:00:00.000Z",
        "event": {
            "type": "message.received",
            "dedup_key": f"msg:MESSENGER:m{seq}",
            "channel": "MESSENGER",
            "account_id": "P",
            "customer_id": "C",
            "occurred_at": "2026-11-25T00:00:00.000Z",
            "message": {
                "channel_message_id": f"m{seq}",
                "direction": "INBOUND",
                "sender_type": "CUSTOMER",
                "content_type": "TEXT",
                "text": "hi",
            },
        },
    }


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
