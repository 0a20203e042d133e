"""The line at the top: who you are, sync state (online, offline, signed out), what is waiting
to be pushed, when the last sync succeeded, and what is running now."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from inboop_tui.domain.timing import relative
from inboop_tui.store.rows import SyncStatus
from inboop_tui.widgets.clock import now


def describe(
    status: SyncStatus | None,
    configured: bool,
    activity: str | None,
    now: datetime,
    user: str | None = None,
) -> Text:
    text = Text()
    text.append(" inboop ", style="bold reverse")
    if user:
        text.append(f" {user}", style="bold")
    text.append(" ")
    if activity:  # what is running now comes first: the line is cut at the terminal's width
        text.append(activity, style="bold cyan")
        text.append(" · ")
    if not configured:
        text.append("not connected to a relay: run `inboop login RELAY_URL`", style="yellow")
    elif status is None:
        text.append("…", style="dim")
    else:
        if status.signed_out:
            text.append("● signed out", style="bold red")
            text.append(" · the relay refused your token: run `inboop login`", style="red")
        elif status.offline:
            text.append("● offline", style="bold red")
        else:
            text.append("● online", style="bold green")
        if status.pending:
            noun = "change" if status.pending == 1 else "changes"
            text.append(f" · ↑ {status.pending:,} {noun} to push", style="yellow")
        last_ok = (
            f"last sync {relative(status.last_ok_at, now)} ago"
            if status.last_ok_at
            else "never synced"
        )
        text.append(f" · {last_ok.replace('now ago', 'just now')}", style="dim")
        if status.relay_head > status.cursor:
            behind = status.relay_head - status.cursor
            text.append(f" · {behind:,} event{'' if behind == 1 else 's'} to pull", style="yellow")
        if status.offline and status.last_error:
            text.append(f" · {status.last_error}", style="red")
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
        self._user: str | None = None

    def on_mount(self) -> None:
        self.set_interval(30, self._redraw)

    def show(self, status: SyncStatus | None, configured: bool, user: str | None = None) -> None:
        self._status, self._configured, self._user = status, configured, user
        self._redraw()

    def activity(self, text: str | None) -> None:
        self._activity = text
        self._redraw()

    def _redraw(self) -> None:
        self.update(
            describe(self._status, self._configured, self._activity, now(self.app), self._user)
        )
