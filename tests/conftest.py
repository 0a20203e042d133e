from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import RelayProcess


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
