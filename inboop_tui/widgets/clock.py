"""The current time for widgets: the app's clock when it has one (tests fix it)."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App


def now(app: App[object]) -> datetime:
    clock = getattr(app, "clock", None)
    return clock() if callable(clock) else datetime.now(UTC)
