"""Schemathesis over the relay's own OpenAPI schema: every operation, generated and negative
(schema-breaking) requests with an ADMIN's token, every check. The real relay process answers;
the schema is read from it.

The default suite runs a few cases per operation; ``make stress`` runs hundreds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.harness import RelayProcess


@pytest.fixture(scope="module")
def documented_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    home: Path = tmp_path_factory.mktemp("relay")
    relay = RelayProcess(home, INBOOP_RELAY_API_DOCS="true").start()
    try:
        yield relay
    finally:
        relay.stop()


@pytest.fixture(scope="module")
def admin(documented_relay: RelayProcess) -> str:
    return documented_relay.add_user("admin", admin=True)


@pytest.fixture(scope="module")
def api_schema(documented_relay: RelayProcess) -> Any:
    loaded = httpx.get(f"{documented_relay.url}/openapi.json", timeout=30).json()
    return schemathesis.openapi.from_dict(loaded)


schema = schemathesis.pytest.from_fixture("api_schema")


def check(case: Any, relay: RelayProcess, token: str) -> None:
    try:
        wait = float((case.query or {}).get("wait"))
    except (TypeError, ValueError):
        wait = 0
    if 1 < wait <= 60:  # a long poll is no hang: held to a second, each case stays short
        case.query["wait"] = "1"
    case.call_and_validate(
        base_url=relay.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_its_schema_says(
    case: Any, documented_relay: RelayProcess, admin: str
) -> None:
    check(case, documented_relay, admin)


@pytest.mark.stress
@schema.parametrize()
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_operation_at_length(case: Any, documented_relay: RelayProcess, admin: str) -> None:
    check(case, documented_relay, admin)
