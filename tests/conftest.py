from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relay import simulator as mp
from relay.fake_graph import FakeGraph
from tests.harness import APP_SECRET, RelayProcess

TOKENS = {mp.PAGE_ID: "page-token", mp.IG_ACCOUNT_ID: "ig-token", mp.PHONE_NUMBER_ID: "wa-token"}
TEMPLATES = [
    {
        "name": "order_update",
        "language": "en_US",
        "status": "APPROVED",
        "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."}],
    },
    {"name": "draft_one", "language": "en_US", "status": "REJECTED", "components": []},
]


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def admin_token(relay: RelayProcess) -> str:
    return relay.add_user("admin", admin=True)


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    """Meta's Graph API, played on loopback (the real wire format, the real errors)."""
    fake = FakeGraph(tokens=dict(TOKENS), app_secret=APP_SECRET, templates=TEMPLATES).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def sending_relay(tmp_path: Path, graph: FakeGraph) -> Iterator[RelayProcess]:
    """A relay that can send from the simulator's Page, Instagram account and WhatsApp number."""
    process = RelayProcess(
        tmp_path / "relay",
        INBOOP_GRAPH_API_URL=graph.url,
        INBOOP_PAGE_TOKENS=f"{mp.PAGE_ID}={TOKENS[mp.PAGE_ID]}",
        INBOOP_INSTAGRAM_TOKENS=f"{mp.IG_ACCOUNT_ID}={TOKENS[mp.IG_ACCOUNT_ID]}",
        INBOOP_WHATSAPP_TOKENS=f"{mp.PHONE_NUMBER_ID}={TOKENS[mp.PHONE_NUMBER_ID]}",
        INBOOP_OUTBOUND_CONFIRM_SECONDS="3",
    ).start()
    graph.relay_url = process.url
    try:
        yield process
    finally:
        process.stop()
