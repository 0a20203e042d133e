"""Diagnostics: what went wrong between this replica, the relay and the channels.

Sync state and recent runs with their errors, changes waiting to be pushed, changes the relay
rejected, conflicts (mutations no longer valid when their turn in the log came), log entries
this version cannot read, and, for ADMINs, the relay's head and integration failures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from inboop_tui.domain.timing import local_stamp
from inboop_tui.store.replica import Diagnostics, Replica
from inboop_tui.widgets.clock import now as clock_now
from inboop_tui.widgets.failures import ReportsFailedWorkers
from inboop_tui.widgets.key_footer import KeyFooter
from inboop_tui.widgets.status_bar import StatusBar


def _section(title: str, count: int | None = None) -> Text:
    heading = Text("\n")
    heading.append(title, style="bold underline")
    if count is not None:
        heading.append(f"  {count:,}", style="bold")
    return heading


def _line(*parts: tuple[str, str]) -> Text:
    line = Text("  ")
    for text, style in parts:
        line.append(text, style=style)
    return line


def render_diagnostics(
    report: Diagnostics,
    relay: dict[str, Any] | None,
    relay_error: str | None,
    is_admin: bool,
    now: datetime,
) -> RenderableType:
    parts: list[RenderableType] = []
    status = report.status
    parts.append(_section("Sync"))
    state = (
        ("signed out: the relay refused the token", "bold red")
        if status.signed_out
        else ("offline", "bold red")
        if status.offline
        else ("online", "bold green")
    )
    parts.append(_line(state))
    parts.append(
        _line((f"log: {status.cursor:,} entries applied, relay head {status.relay_head:,}", ""))
    )
    last_ok = local_stamp(status.last_ok_at, now) if status.last_ok_at else "never"
    parts.append(_line((f"last successful sync: {last_ok}", "dim")))
    if status.last_error:
        parts.append(_line(("last error: ", "red"), (status.last_error, "red")))
    parts.append(_section("Recent syncs", len(report.runs)))
    for run in report.runs:
        result = (
            (f"ok · {run.pulled:,} pulled · {run.pushed:,} pushed", "green")
            if run.ok
            else (f"failed: {run.error}", "red")
        )
        parts.append(
            _line((f"{local_stamp(run.finished_at or run.started_at, now)}  ", "dim"), result)
        )
    parts.append(_section("Waiting to be pushed", len(report.pending)))
    for change in report.pending:
        where = change.conversation_id or "workspace"
        seq = f" · accepted at seq {change.pushed_seq}" if change.pushed_seq else ""
        parts.append(
            _line((f"{change.at}  ", "dim"), (change.summary, "yellow"), (f"  {where}{seq}", "dim"))
        )
    parts.append(_section("Rejected by the relay", len(report.rejected)))
    for change in report.rejected:
        parts.append(
            _line(
                (f"{change.at}  ", "dim"),
                (change.summary, ""),
                (": ", ""),
                (change.reason or "", "red"),
            )
        )
    parts.append(_section("Conflicts", len(report.conflicts)))
    for conflict in report.conflicts:
        parts.append(
            _line(
                (f"seq {conflict.seq}  ", "dim"),
                (f"{conflict.type} by {conflict.author}: ", ""),
                (conflict.reason, "yellow"),
            )
        )
    parts.append(_section("Log entries this version cannot read", len(report.unreadable)))
    for entry in report.unreadable:
        parts.append(
            _line((f"seq {entry.seq}  ", "dim"), (f"{entry.type}: ", ""), (entry.error, "red"))
        )
    if report.unreadable:
        parts.append(
            _line(
                (
                    "They are kept; after an upgrade, `inboop doctor --rebuild` reads them again.",
                    "dim",
                )
            )
        )
    parts.append(_section("Relay"))
    if not is_admin:
        parts.append(_line(("The relay's integration failures are shown to ADMINs.", "dim")))
    elif relay_error:
        parts.append(_line(("could not ask the relay: ", "red"), (relay_error, "red")))
    elif relay is None:
        parts.append(_line(("asking the relay…", "dim")))
    else:
        parts.append(
            _line(
                (f"head {relay.get('head')} · version {relay.get('version')} · ", ""),
                (
                    "writer alive" if relay.get("writer_alive") else "WRITER STOPPED",
                    "green" if relay.get("writer_alive") else "bold red",
                ),
            )
        )
        deliveries = relay.get("deliveries") or {}
        parts.append(
            _line(
                (
                    "deliveries: "
                    + ", ".join(f"{k.lower()} {v:,}" for k, v in sorted(deliveries.items())),
                    "",
                )
            )
        )
        parts.append(
            _line((f"open integration failures: {relay.get('open_integration_failures', 0):,}", ""))
        )
        for failure in relay.get("recent_integration_failures") or []:
            parts.append(
                _line(
                    (f"{local_stamp(str(failure.get('last_at')), now)}  ", "dim"),
                    (f"{failure.get('kind')} x{failure.get('count')}: ", ""),
                    (str(failure.get("detail")), "red"),
                )
            )
    return Group(*parts)


class DiagnosticsScreen(ReportsFailedWorkers, Screen[None]):
    BINDINGS = [
        Binding("escape,i", "app.switch_mode('inbox')", "Inbox"),
        Binding("r", "refresh", "Refresh"),
    ]

    @dataclass
    class Read(Message):
        report: Diagnostics
        is_admin: bool

    @dataclass
    class RelayRead(Message):
        relay: dict[str, Any] | None
        error: str | None

    def __init__(self, replica: Replica, ask_relay: Callable[[], dict[str, Any]] | None) -> None:
        super().__init__(id="diagnostics")
        self._replica = replica
        self._ask_relay = ask_relay  # None: no relay configured
        self._is_admin = False
        self._report: Diagnostics | None = None
        self._relay: dict[str, Any] | None = None
        self._relay_error: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with VerticalScroll(id="diagnostics-scroll"):
            yield Static(Text("Reading…", style="dim"), id="diagnostics-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.read_report()
        if self._ask_relay is not None:
            self.read_relay()

    @work(
        thread=True,
        exclusive=True,
        group="diagnostics",
        description="read diagnostics",
        exit_on_error=False,
    )
    def read_report(self) -> None:
        self.post_message(self.Read(self._replica.diagnostics(), self._replica.is_admin()))

    @work(
        thread=True,
        exclusive=True,
        group="relay-diagnostics",
        description="ask the relay",
        exit_on_error=False,
    )
    def read_relay(self) -> None:
        from inboop_tui.sync.client import SyncError

        assert self._ask_relay is not None
        if not self._replica.is_admin():
            return
        try:
            self.post_message(self.RelayRead(self._ask_relay(), None))
        except SyncError as exc:
            self.post_message(self.RelayRead(None, str(exc)))

    @on(Read)
    def _read(self, event: Read) -> None:
        self._report = event.report
        self._is_admin = event.is_admin
        self._draw()

    @on(RelayRead)
    def _relay_read(self, event: RelayRead) -> None:
        self._relay, self._relay_error = event.relay, event.error
        self._draw()

    def _draw(self) -> None:
        if self._report is None:
            return
        self.query_one("#diagnostics-body", Static).update(
            render_diagnostics(
                self._report,
                self._relay,
                self._relay_error,
                self._is_admin and self._ask_relay is not None,
                clock_now(self.app),
            )
        )
