"""Operating a relay: ``check`` (is everything in place?), ``backup`` and ``restore``
(``copies``), and ``migrate-store`` (``move``: from SQLite to PostgreSQL).

Each finding or refusal is one line in plain words (``OperateError``).
"""

from __future__ import annotations


class OperateError(Exception):
    """The operation cannot be done; the message says why and what to do, in one line."""


from relay.operate.check import Report, check  # noqa: E402
from relay.operate.copies import Copied, backup, restore, serving_lock  # noqa: E402
from relay.operate.move import Moved, migrate_store  # noqa: E402

__all__ = [
    "Copied",
    "Moved",
    "OperateError",
    "Report",
    "backup",
    "check",
    "migrate_store",
    "restore",
    "serving_lock",
]
