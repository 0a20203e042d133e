"""The real relay app in this process (its lifespan, writer and SQLite file), for tests that
drive thousands of requests: Hypothesis examples would spend their time starting processes.

A transport that can lose the response of a request the relay did process plays a network that
drops answers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from relay.app import create_app
from relay.hooks import Subscriber
from relay.settings import RelaySettings
from relay.signing import SIGNATURE_HEADER, sign
from relay.store.dialect import create_engines
from relay.store.migrate import upgrade_to_head
from relay.users import add_user

SECRET = "in-process-secret"


class LossyTransport(httpx.BaseTransport):
    """Forwards every request; the answers to the next ``lose_next`` never arrive."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.lose_next = 0
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.lose_next > 0:
            self.lose_next -= 1
            response.read()
            self.lost += 1
            raise httpx.ReadError(
                "the connection dropped before the answer arrived", request=request
            )
        return response


@dataclass
class InProcessRelay:
    client: TestClient
    home: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def transport(self) -> LossyTransport:
        return LossyTransport(self.client._transport)

    def deliver(self, body: bytes) -> None:
        response = self.client.post(
            "/webhooks/meta",
            content=body,
            headers={SIGNATURE_HEADER: sign(SECRET, body), "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text

    def log(self, user: str = "ana") -> list[dict[str, object]]:
        found: list[dict[str, object]] = []
        after = 0
        while True:
            page = self.client.get(
                "/v1/events",
                params={"after": after, "limit": 1000},
                headers={"Authorization": f"Bearer {self.tokens[user]}"},
            ).json()
            found.extend(page["events"])
            if page["next_after"] == after:
                return found
            after = page["next_after"]


@contextmanager
def relay_in_process(
    users: dict[str, bool], subscribers: Sequence[Subscriber] = (), **settings_: Any
) -> Iterator[InProcessRelay]:
    """A relay with these users (name -> ADMIN?), in a temporary folder; ``subscribers`` follow
    its log (relay.hooks)."""
    with tempfile.TemporaryDirectory(prefix="inboop-relay-") as folder:
        home = Path(folder)
        settings = RelaySettings(
            relay_home=home,
            meta_app_secret=SECRET,
            meta_verify_token="verify",
            _env_file=None,
            # FastAPI's test client is not on loopback: these tests are not about rate limits.
            **{"relay_rate_limit_api": 0, "relay_rate_limit_webhooks": 0, **settings_},
        )
        engines = create_engines(settings.database_url)
        upgrade_to_head(engines.writer)
        tokens = {}
        with engines.writer.begin() as conn:
            for name, admin in users.items():
                tokens[name] = add_user(conn, name, admin=admin)
        engines.dispose()
        app = create_app(settings, subscribers)
        with TestClient(app, base_url="http://relay.test") as client:
            yield InProcessRelay(client, home, tokens)
