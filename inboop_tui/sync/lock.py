"""One sync at a time per replica: a lock file beside the database, held while applying.

The cursor and the entries already stored keep two syncs correct anyway (each page is applied
in one transaction, skipping what is there); the lock only makes the second one wait instead of
fetching the same pages. Where ``fcntl`` does not exist, syncs run without it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from inboop_tui.store.paths import private_folder
from inboop_tui.sync.client import SyncError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".sync-lock")


@contextmanager
def replica_lock(database: Path, timeout: float) -> Iterator[None]:
    if fcntl is None or not database.name:
        yield
        return
    private_folder(database.parent)
    fd = os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncError(
                        "another sync of this replica is still running; try again when it ends",
                        transient=False,
                        kind="local",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
