"""The Textual app. One factory, :func:`create_app`, serves the CLI and the tests."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import Engine
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from inboop_tui.screens.export_dialog import ExportDialog, ExportRequest
from inboop_tui.screens.inbox import CHANNEL_CYCLE, CHANNEL_LABELS, InboxScreen
from inboop_tui.store.config import ClientConfig, ConfigError, load_config
from inboop_tui.store.export import export
from inboop_tui.store.paths import Paths
from inboop_tui.store.queries import SyncStatus, sync_status
from inboop_tui.sync.engine import SyncOutcome, sync
from inboop_tui.widgets.status_bar import StatusBar

log = logging.getLogger("inboop.app")

AUTO_SYNC_SECONDS = 60.0
# In the app a sync gives up sooner than the CLI's 30 s: the inbox works offline meanwhile.
# Background syncs (on open and every AUTO_SYNC_SECONDS) try again soon anyway.
SYNC_SECONDS = 12.0
BACKGROUND_SYNC_SECONDS = 5.0


class InboopApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Inboop"
    BINDINGS = [
        Binding("s", "sync", "Sync"),
        Binding("e", "export", "Export"),
        Binding("q", "quit", "Quit"),
    ]

    @dataclass
    class SyncFinished(Message):
        outcome: SyncOutcome
        manual: bool

    @dataclass
    class StatusRead(Message):
        status: SyncStatus

    @dataclass
    class ExportFinished(Message):
        request: ExportRequest
        rows: int
        error: str | None

    def __init__(
        self,
        paths: Paths,
        engine: Engine,
        *,
        auto_sync_seconds: float | None = AUTO_SYNC_SECONDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.engine = engine
        self.auto_sync_seconds = auto_sync_seconds
        self.add_mode("inbox", partial(InboxScreen, engine))
        self._last_sync_failed = False

    @property
    def config(self) -> ClientConfig:
        try:
            return load_config(self.paths)
        except ConfigError:
            return ClientConfig()

    def on_mount(self) -> None:
        self.switch_mode("inbox")
        self.read_status()
        if self.config.is_configured and self.auto_sync_seconds:
            self.start_sync(manual=False)  # catch up on open, in the background
            self.set_interval(self.auto_sync_seconds, partial(self.start_sync, manual=False))

    # --- sync ------------------------------------------------------------------------------

    def action_sync(self) -> None:
        self.start_sync(manual=True)

    def start_sync(self, manual: bool) -> None:
        if not self.config.is_configured:
            if manual:
                self.notify(
                    "No relay configured: run `inboop login RELAY_URL --token TOKEN`.",
                    severity="warning",
                )
            return
        if any(w.group == "sync" and w.is_running for w in self.workers):
            return
        self._status_bar_activity("syncing…")
        self.run_sync(manual)

    @work(
        thread=True,
        exclusive=True,
        group="sync",
        description="sync with the relay",
        exit_on_error=False,
    )
    def run_sync(self, manual: bool) -> None:
        def retrying(error: str, remaining: float) -> None:
            self.call_from_thread(
                self._status_bar_activity, f"syncing… retrying for {remaining:.0f}s more ({error})"
            )

        budget = SYNC_SECONDS if manual else BACKGROUND_SYNC_SECONDS
        outcome = sync(self.engine, self.config, timeout=budget, on_retry=retrying)
        self.post_message(self.SyncFinished(outcome, manual))

    @on(SyncFinished)
    def _sync_finished(self, event: SyncFinished) -> None:
        self._status_bar_activity(None)
        outcome = event.outcome
        if outcome.ok:
            if outcome.pulled:
                self._inbox().refresh_data()
            if event.manual:
                self.notify(
                    f"Synced: {outcome.pulled:,} new events." if outcome.pulled else "Up to date."
                )
        elif event.manual or not self._last_sync_failed:
            self.notify(
                f"Sync failed: {outcome.error}. Working offline on the local copy.",
                severity="warning",
                timeout=8,
            )
        self._last_sync_failed = not outcome.ok
        self.read_status()

    @work(thread=True, group="status", description="read sync status", exit_on_error=False)
    def read_status(self) -> None:
        with self.engine.connect() as conn:
            status = sync_status(conn)
        self.post_message(self.StatusRead(status))

    @on(StatusRead)
    def _status_read(self, event: StatusRead) -> None:
        for bar in self.screen.query(StatusBar):
            bar.show(event.status, self.config.is_configured)

    def _status_bar_activity(self, text: str | None) -> None:
        for bar in self.screen.query(StatusBar):
            bar.activity(text)

    def _inbox(self) -> InboxScreen:
        """The inbox mode's screen (dialogs may be on top of it)."""
        for candidate in self.screen_stack:
            if isinstance(candidate, InboxScreen):
                return candidate
        raise LookupError("the inbox screen is not running")

    # --- export ----------------------------------------------------------------------------

    def action_export(self) -> None:
        channel = self._inbox().conversations.filter.channel
        self.push_screen(ExportDialog(channel), self._export_chosen)

    def _export_chosen(self, request: ExportRequest | None) -> None:
        if request is not None:
            self._status_bar_activity(f"exporting {request.kind.value}…")
            self.run_export(request)

    @work(thread=True, group="export", description="export", exit_on_error=False)
    def run_export(self, request: ExportRequest) -> None:
        def progress(rows: int) -> None:
            self.call_from_thread(
                self._status_bar_activity, f"exporting {request.kind.value}… {rows:,} rows"
            )

        try:
            with self.engine.connect() as conn:
                rows = export(
                    conn,
                    request.kind,
                    request.path,
                    fmt=request.fmt,
                    f=request.filter,
                    progress=progress,
                )
        except OSError as exc:
            self.post_message(
                self.ExportFinished(
                    request, 0, f"cannot write {request.path}: {exc.strerror or exc}"
                )
            )
            return
        self.post_message(self.ExportFinished(request, rows, None))

    @on(ExportFinished)
    def _export_finished(self, event: ExportFinished) -> None:
        self._status_bar_activity(None)
        if event.error:
            self.notify(f"Export failed: {event.error}", severity="error", timeout=10)
        else:
            self.notify(
                f"Exported {event.rows:,} {event.request.kind.value} to {event.request.path}",
                timeout=10,
            )

    # --- commands and failures -------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Sync now", "Push and pull with the relay", self.action_sync)
        yield SystemCommand(
            "Export…", "Write conversations or messages to CSV or JSON lines", self.action_export
        )
        if isinstance(screen, InboxScreen):
            yield SystemCommand(
                "Search conversations", "Names, handles and message text", screen.action_search
            )
            yield SystemCommand(
                "Load older messages",
                "Another page of the open thread's history",
                screen.action_older_messages,
            )
            yield SystemCommand(
                "Toggle unread only",
                "Show only conversations with unread messages",
                screen.action_toggle_unread,
            )
            for channel in CHANNEL_CYCLE:
                label = CHANNEL_LABELS[channel]
                yield SystemCommand(
                    f"Show {label}",
                    f"Filter the inbox: {label}",
                    partial(screen.set_channel, channel),
                )

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            log.error("%s failed", event.worker.description, exc_info=error)
            self._status_bar_activity(None)
            self.notify(
                f"{event.worker.description} failed: {error}. Details are in {self.paths.log_file}.",
                severity="error",
                timeout=10,
            )


def create_app(
    paths: Paths,
    engine: Engine,
    *,
    auto_sync_seconds: float | None = AUTO_SYNC_SECONDS,
    clock: Callable[[], datetime] | None = None,
) -> InboopApp:
    """The app on a replica. ``clock`` gives "now" (tests fix it; relative times use it)."""
    return InboopApp(paths, engine, auto_sync_seconds=auto_sync_seconds, clock=clock)
