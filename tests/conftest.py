from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relay import simulator as mp
from relay.fake_graph import FakeGraph
from tests.harness import APP_SECRET, RelayProcess
from tests.postgres import PostgresCluster, PostgresUnavailable

pytest_plugins = ["tests.hostile_relay"]  # the broken_relay fixture

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


# The relay's own tests (its webhooks, log, API and sync) run on both of its databases; the
# app's tests need a relay too, but not twice.
BOTH_DATABASES = ("test_relay_", "test_sync_")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "relay_backend" in metafunc.fixturenames:
        module = metafunc.module.__name__.rpartition(".")[2]
        only = metafunc.definition.get_closest_marker("sqlite_only")
        both = module.startswith(BOTH_DATABASES) and not only
        metafunc.parametrize("relay_backend", ["sqlite", "postgresql"] if both else ["sqlite"])


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole run (each relay gets its own database)."""
    try:
        cluster = PostgresCluster()
    except PostgresUnavailable as exc:
        pytest.skip(f"NO POSTGRESQL: {exc}; the relay's PostgreSQL tests did not run")
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def relay_database(request: pytest.FixtureRequest, relay_backend: str) -> dict[str, str]:
    """The settings that put a relay on this test's database (SQLite: the default file)."""
    if relay_backend == "sqlite":
        return {}
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return {"INBOOP_RELAY_DATABASE_URL": cluster.new_database()}


@pytest.fixture
def relay(tmp_path: Path, relay_database: dict[str, str]) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay", **relay_database).start()
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
