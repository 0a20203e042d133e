"""The line at the top: sync state (last success, offline) and what is running."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from inboop_tui.domain.timing import relative
from inboop_tui.store.queries import SyncStatus
from inboop_tui.widgets.clock import now


def describe(
    status: SyncStatus | None, configured: bool, activity: str | None, now: datetime
) -> Text:
    text = Text()
    text.append(" inboop ", style="bold reverse")
    text.append(" ")
    if activity:  # what is running now comes first: the line is cut at the terminal's width
        text.append(activity, style="bold cyan")
        text.append(" · ")
    if not configured:
        text.append(
            "not connected to a relay: run `inboop login RELAY_URL --token TOKEN`", style="yellow"
        )
    elif status is None:
        text.append("…", style="dim")
    else:
        if status.offline:
            text.append("● offline", style="bold red")
            text.append(f" · last sync failed: {status.last_error}", style="red")
        else:
            text.append("● online", style="bold green")
        last_ok = (
            f"last sync {relative(status.last_ok_at, now)} ago"
            if status.last_ok_at
            else "never synced"
        )
        text.append(f" · {last_ok.replace('now ago', 'just now')}", style="dim")
        if status.relay_head > status.cursor:
            text.append(f" · {status.relay_head - status.cursor:,} events to pull", style="yellow")
    return text


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._status: SyncStatus | None = None
        self._configured = False
        self._activity: str | None = None

    def on_mount(self) -> None:
        self.set_interval(30, self._redraw)

    def show(self, status: SyncStatus | None, configured: bool) -> None:
        self._status, self._configured = status, configured
        self._redraw()

    def activity(self, text: str | None) -> None:
        self._activity = text
        self._redraw()

    def _redraw(self) -> None:
        self.update(describe(self._status, self._configured, self._activity, now(self.app)))
