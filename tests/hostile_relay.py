"""A relay that misbehaves, played by a local HTTP server: the sync engine's and the app's
tests point the client at it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

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
