"""The Textual app. One factory, :func:`create_app`, serves the CLI and the tests.

Modes: the Inbox, Leads, Orders, Payments and Diagnostics (F1 to F4 and D, or the command
palette). With a relay configured, a live sync runs while the app
is open: sync (push, then pull), then a long-poll until the relay has news or the agent changes
something, then sync again; an unreachable relay gets exponential backoff. ``s`` syncs now.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from inboop_tui.screens.acting import ActingScreen
from inboop_tui.screens.inbox import DEFAULT_VIEW, InboxScreen
from inboop_tui.store.config import ClientConfig, ConfigError, load_config, save_config
from inboop_tui.store.door import Done, Identity
from inboop_tui.store.paths import Paths
from inboop_tui.store.replica import Replica
from inboop_tui.store.replica_file import ReplicaError, ReplicaFile
from inboop_tui.widgets.conversation_list import FIRST, ConversationList
from inboop_tui.widgets.failures import WorkerFailed
from inboop_tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from inboop_tui.screens.export_dialog import ExportRequest
    from inboop_tui.store.rows import SyncStatus
    from inboop_tui.sync.engine import SyncOutcome
    from inboop_tui.widgets.picture import Graphics

log = logging.getLogger("inboop.app")

# A manual sync (s) gets longer than a background one: the inbox works offline meanwhile.
SYNC_SECONDS = 12.0
BACKGROUND_SYNC_SECONDS = 5.0
LONG_POLL_SECONDS = 25.0
MAX_BACKOFF_SECONDS = 60.0
HEADLINES = 3
WATCH_SECONDS = 2.0
# What the inbox's start does not load (``warm_up`` loads it behind the first screen).
LATER_MODULES = (
    "inboop_tui.store.queries",  # every other read: SQLAlchemy, the replica's statements
    "inboop_tui.store.diagnostics",
    "inboop_tui.store.actions",  # the wire format's models: pydantic
    "inboop_tui.store.selling_queries",  # the leads', orders' and payments' reads
    "inboop_tui.screens.commands",  # the other screens, their dialogs
    "inboop_tui.screens.diagnostics",
    "inboop_tui.screens.export_dialog",
    "inboop_tui.store.export",
    "inboop_tui.sync.engine",
)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class InboopApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Inboop"
    # The inbox is the app's first screen, made as Textual makes a default screen. Made by
    # `switch_mode` instead, as the other modes' screens are, its first showing parsed the whole
    # stylesheet twice more (~15-30 ms of the start): Textual re-reads it for a mode's new
    # screen in case the styles changed while it was away, and a new screen has seen none.
    DEFAULT_MODE = "inbox"
    BINDINGS = [
        Binding("s", "sync", "Sync"),
        Binding("e", "export", "Export", show=False),
        Binding("f1", "inbox", "Inbox", show=False),
        Binding("f2", "leads", "Leads"),
        Binding("f3", "orders", "Orders"),
        Binding("f4", "payments", "Payments"),
        Binding("D", "diagnostics", "Diagnostics"),
        Binding("question_mark", "toggle_keys", "Keys", show=False),
        Binding("q", "quit", "Quit"),
    ]

    @dataclass
    class SyncFinished(Message):
        outcome: SyncOutcome
        manual: bool
        headlines: list[str] = field(default_factory=list)

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
        replica: ReplicaFile | Engine,
        *,
        live: bool = True,
        clock: Callable[[], datetime] | None = None,
        graphics: Graphics | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        # The terminal's graphics protocol for pictures (asked before the app starts), or None.
        self.graphics = graphics
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.live = live
        config = self.config
        identity = Identity(config.user_name, config.role or "MEMBER") if config.user_name else None
        self.replica = Replica(replica, identity, self.clock, on_change=self._changed_anywhere)
        for mode in ("leads", "orders", "payments", "diagnostics"):
            self.add_mode(mode, partial(self._mode_screen, mode))
        self._last_sync_failed = False
        self._warmed = False
        self._freezing = threading.Lock()  # the warm-up's freeze, against on_unmount's thaw
        self._unmounted = False
        self._wake: asyncio.Event | None = None
        self._main_thread = threading.get_ident()

    def _mode_screen(self, mode: str) -> Screen[Any]:
        """A mode's screen, made when it is first shown (its module loads then, or in the
        warm-up after the start: not before the inbox is on screen)."""
        from inboop_tui.screens.diagnostics import DiagnosticsScreen
        from inboop_tui.screens.leads import LeadsScreen
        from inboop_tui.screens.orders import OrdersScreen
        from inboop_tui.screens.payments import PaymentsScreen

        if mode == "diagnostics":
            return DiagnosticsScreen(self.replica, self._relay_asker())
        screens = {"leads": LeadsScreen, "orders": OrdersScreen, "payments": PaymentsScreen}
        return screens[mode](self.replica)

    @property
    def engine(self) -> Engine:
        """The replica's engine, made (SQLAlchemy loaded) when first used: once the inbox's
        first rows are on their way, by the warm-up or the live sync."""
        return self.replica.engine

    @property
    def config(self) -> ClientConfig:
        try:
            return load_config(self.paths)
        except ConfigError:
            return ClientConfig()

    def get_default_screen(self) -> Screen[Any]:
        return InboxScreen(self.replica)

    def on_mount(self) -> None:
        # The inbox is on screen (`DEFAULT_MODE`): its mode is named now, for `switch_mode` to
        # come back to it. Named before, it would have been made as the other modes' are.
        self.add_mode("inbox", partial(InboxScreen, self.replica))
        self._main_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self.read_status()
        self.set_interval(WATCH_SECONDS, self.watch_replica)
        self.call_after_refresh(self._started)

    def _started(self) -> None:
        """The first screen is drawn. What start-up made (modules, classes, the screens) lives
        as long as the app: it is kept out of the collector's full passes, which otherwise walk
        it all (~65 ms at a time, on the drawing thread, seen while a search at 1M messages read
        its order). `inboop` starts with the collector off (`cli.main`): it is on from here."""
        gc.freeze()
        gc.enable()

    @on(ConversationList.Counted)
    def _inbox_counted(self) -> None:
        if not self._warmed:  # the inbox's first rows are on their way to the screen
            self._warmed = True
            if self.config.is_configured and self.live:
                # The catch-up (its HTTP client's import, SQLAlchemy, the engine) does not hold
                # up what the replica already has.
                self.call_after_refresh(self.live_sync)
            self.call_after_refresh(self.warm_up)

    @work(thread=True, group="warm-up", description="load the rest of the app", exit_on_error=False)
    def warm_up(self) -> None:
        """What the inbox's start leaves out (SQLAlchemy, the replica's statements and its
        engine, the wire format's models, the other screens, the sync, the first search's
        preparation), loaded while the agent reads the inbox: the first action or sync would
        wait ~0.2 s for it, the first other screen would wait on the drawing thread, and the
        first search would take longer than the next. What it makes lives as long as the app,
        so it is frozen out of the collector as start-up's is."""
        try:
            for name in LATER_MODULES:
                importlib.import_module(name)
            if not self._unmounted:  # an app that exits first (tests) reads nothing more
                try:
                    self.replica.prepare_search(DEFAULT_VIEW, FIRST)
                except ReplicaError as exc:  # the first search does it, and says what is wrong
                    log.warning("search not prepared: %s", exc)
        finally:
            with self._freezing:
                if not self._unmounted:  # an app that exits first (tests) leaves nothing frozen
                    gc.freeze()

    def on_unmount(self) -> None:
        with self._freezing:
            self._unmounted = True
            gc.unfreeze()  # an app run inside a longer process (tests) leaves nothing immortal
        self.replica.close()

    @work(
        thread=True,
        exclusive=True,
        group="watch",
        description="watch the replica",
        exit_on_error=False,
    )
    def watch_replica(self) -> None:
        """Another process (`inboop assign`, `inboop sync`) changed the replica: show it."""
        if self.replica.changed_elsewhere():
            self.call_from_thread(self._changed_outside)

    def _changed_outside(self) -> None:
        self._refresh_screens()
        self.read_status()

    # --- live sync -------------------------------------------------------------------------

    @work(group="live", exclusive=True, description="live sync", exit_on_error=False)
    async def live_sync(self) -> None:
        """Sync, then wait for news (or a local change), forever; back off while offline."""
        assert self._wake is not None
        backoff = 1.0
        while True:
            self._wake.clear()
            outcome, headlines = await asyncio.to_thread(self._sync_once, BACKGROUND_SYNC_SECONDS)
            await asyncio.to_thread(self._synced, outcome, False, headlines)
            config = self.config
            if outcome.ok and config.relay_url and config.token:
                backoff = 1.0
                await self._until_news(config.relay_url, config.token, outcome.cursor)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _until_news(self, url: str, token: str, cursor: int) -> None:
        from inboop_tui.sync.client import wait_for_news

        assert self._wake is not None
        news = asyncio.create_task(wait_for_news(url, token, cursor, LONG_POLL_SECONDS))
        poke = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait({news, poke}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (news, poke):
                task.cancel()

    def _sync_once(
        self, budget: float, manual: bool = False, on_retry: Any = None
    ) -> tuple[SyncOutcome, list[str]]:
        from inboop_tui.sync.engine import sync

        outcome = sync(self.engine, self.config, timeout=budget, record=manual, on_retry=on_retry)
        return outcome, self._headlines(outcome)

    def _synced(self, outcome: SyncOutcome, manual: bool, headlines: list[str]) -> None:
        """Say what a sync did; then, with the news on its way to the screen, copy the
        write-ahead log back into the replica (on a worker's thread)."""
        self.post_message(self.SyncFinished(outcome, manual, headlines))
        if outcome.pulled:
            from inboop_tui.store.db import checkpoint

            checkpoint(self.engine)

    def _headlines(self, outcome: SyncOutcome) -> list[str]:
        """The first few news items in words (read here, in the sync's thread)."""
        lines = []
        for item in outcome.news[:HEADLINES]:
            row = self.replica.conversation(item.conversation_id)
            who = row.display_name if row else "a customer"
            text = " ".join(item.text.split())[:80]
            if item.kind == "mention":
                lines.append(f"{item.author} mentioned you on {who}: {text}")
            else:
                lines.append(f"{who}: {text}" if text else f"New message from {who}")
        return lines

    def _changed_anywhere(self, _done: Done) -> None:
        """A local change was made (on any thread): push it now, show the pending count."""
        if threading.get_ident() == self._main_thread:
            self._changed()
        else:
            self.call_from_thread(self._changed)

    def _changed(self) -> None:
        if self._wake is not None:
            self._wake.set()
        self.read_status()

    # --- sync now ----------------------------------------------------------------------------

    def action_sync(self) -> None:
        self.start_sync(manual=True)

    def start_sync(self, manual: bool) -> None:
        if not self.config.is_configured:
            if manual:
                self.notify(
                    "No relay configured: run `inboop login RELAY_URL`.",
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
        outcome, headlines = self._sync_once(budget, manual=True, on_retry=retrying)
        self._synced(outcome, manual, headlines)

    @on(SyncFinished)
    def _sync_finished(self, event: SyncFinished) -> None:
        self._status_bar_activity(None)
        outcome = event.outcome
        if outcome.pulled or outcome.rejected:
            self._refresh_screens()
        for rejection in outcome.rejected:
            self.notify(
                f"The relay rejected a change ({rejection.type}): {rejection.reason}",
                severity="error",
                timeout=12,
                markup=False,
            )
        self._tell_news(event.headlines, outcome.news_count)
        if outcome.conflicts:
            self.notify(
                f"{_plural(outcome.conflicts, 'change')} could not apply (conflicts): see Diagnostics (D).",
                severity="warning",
                timeout=10,
            )
        if outcome.unreadable:
            self.notify(
                f"{_plural(outcome.unreadable, 'log entry')} this version cannot read: see Diagnostics (D).".replace(
                    "entrys", "entries"
                ),
                severity="warning",
                timeout=10,
            )
        if outcome.ok:
            if event.manual:
                self.notify(
                    f"Synced: {_plural(outcome.pulled, 'new event')}."
                    if outcome.pulled
                    else "Up to date."
                )
        elif event.manual or not self._last_sync_failed:
            self.notify(
                f"Sync failed: {outcome.error}. Working offline on the local copy."
                if outcome.error_kind != "auth"
                else f"Signed out: {outcome.error}.",
                severity="warning",
                timeout=10,
                markup=False,
            )
        self._last_sync_failed = not outcome.ok
        self.read_status()

    def _tell_news(self, headlines: list[str], count: int) -> None:
        if not count:
            return
        for line in headlines:
            self.notify(line, title="Inboop", markup=False, timeout=8)
        if count > len(headlines):
            self.notify(f"…and {_plural(count - len(headlines), 'more update')}.", timeout=8)
        if self.config.bell:
            self.bell()

    def _refresh_screens(self) -> None:
        from inboop_tui.screens.diagnostics import DiagnosticsScreen

        for screen in self.screen_stack:
            if isinstance(screen, ActingScreen):
                screen.refresh_data()
            elif isinstance(screen, DiagnosticsScreen):
                screen.action_refresh()

    @work(thread=True, group="status", description="read sync status", exit_on_error=False)
    def read_status(self) -> None:
        self.post_message(self.StatusRead(self.replica.status()))

    @on(StatusRead)
    def _status_read(self, event: StatusRead) -> None:
        for bar in self.screen.query(StatusBar):
            bar.show(event.status, self.config.is_configured, self.replica.me)

    def _status_bar_activity(self, text: str | None) -> None:
        for bar in self.screen.query(StatusBar):
            bar.activity(text)

    def _inbox(self) -> InboxScreen:
        """The inbox mode's screen (dialogs may be on top of it)."""
        for candidate in self.screen_stack:
            if isinstance(candidate, InboxScreen):
                return candidate
        raise LookupError("the inbox screen is not running")

    # --- modes ---------------------------------------------------------------------------

    def action_diagnostics(self) -> None:
        self.switch_mode("diagnostics")
        self.read_status()

    def action_inbox(self) -> None:
        self.switch_mode("inbox")
        self.read_status()

    def action_leads(self) -> None:
        self.switch_mode("leads")
        self.read_status()

    def action_orders(self) -> None:
        self.switch_mode("orders")
        self.read_status()

    def action_payments(self) -> None:
        self.switch_mode("payments")
        self.read_status()

    def show_conversation(self, conversation_id: str) -> None:
        """The inbox, on this conversation (from a lead or an order)."""
        self.action_inbox()
        self._inbox().go_to(conversation_id)

    def _relay_asker(self) -> Callable[[], dict[str, Any]] | None:
        config = self.config
        if not config.is_configured:
            return None
        assert config.relay_url is not None and config.token is not None
        url, token = config.relay_url, config.token

        def ask() -> dict[str, Any]:
            from inboop_tui.sync.client import RelayClient

            with RelayClient(url, token) as client:
                return client.diagnostics()

        return ask

    def action_toggle_keys(self) -> None:
        """``?`` shows the keys of the screen, and hides them again."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_toggle_bell(self) -> None:
        config = self.config
        try:
            save_config(self.paths, replace(config, bell=not config.bell))
        except ConfigError as exc:
            self.notify(str(exc), severity="error", markup=False)  # it names a path
            return
        self.notify(
            "Bell on: notifications ring the terminal bell." if not config.bell else "Bell off."
        )

    # --- export ----------------------------------------------------------------------------

    def action_export(self) -> None:
        """Export what the current screen shows, with its filters."""
        from inboop_tui.screens.commands import describe_export_filter
        from inboop_tui.screens.export_dialog import ExportDialog
        from inboop_tui.screens.leads import LeadsScreen
        from inboop_tui.screens.orders import OrdersScreen
        from inboop_tui.screens.payments import PaymentsScreen
        from inboop_tui.store.export import ExportFilter, ExportKind
        from inboop_tui.store.selling_queries import OrderFilter

        screen = self.screen
        if isinstance(screen, LeadsScreen):
            base = ExportFilter(leads=screen.filter)
            kinds: tuple[tuple[str, ExportKind], ...] = (("Leads", ExportKind.LEADS),)
            dialog = ExportDialog(None, kinds, base, describe_export_filter(screen.filter))
        elif isinstance(screen, OrdersScreen | PaymentsScreen):
            f = screen.filter if isinstance(screen, OrdersScreen) else OrderFilter()
            kinds = (
                ("Orders", ExportKind.ORDERS),
                ("Order items (one row each)", ExportKind.ORDER_ITEMS),
                ("Payments", ExportKind.PAYMENTS),
            )
            if isinstance(screen, PaymentsScreen):
                kinds = (kinds[2], kinds[0], kinds[1])
            dialog = ExportDialog(
                f.channel, kinds, ExportFilter(orders=f), describe_export_filter(f)
            )
        else:
            channel = self._inbox().conversations.filter.channel
            kinds = (*ExportDialog.INBOX_KINDS, ("Contacts", ExportKind.CONTACTS))
            dialog = ExportDialog(channel, kinds)
        self.push_screen(dialog, self._export_chosen)

    def _export_chosen(self, request: ExportRequest | None) -> None:
        if request is not None:
            self._status_bar_activity(f"exporting {request.kind.value}…")
            self.run_export(request)

    @work(thread=True, group="export", description="export", exit_on_error=False)
    def run_export(self, request: ExportRequest) -> None:
        from inboop_tui.store.export import export

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
        except ReplicaError as exc:
            self.post_message(self.ExportFinished(request, 0, str(exc)))
            return
        self.post_message(self.ExportFinished(request, rows, None))

    @on(ExportFinished)
    def _export_finished(self, event: ExportFinished) -> None:
        self._status_bar_activity(None)
        if event.error:
            self.notify(f"Export failed: {event.error}", severity="error", timeout=10, markup=False)
        else:
            self.notify(
                f"Exported {event.rows:,} {event.request.kind.value} to {event.request.path}",
                timeout=10,
                markup=False,
            )

    # --- commands and failures -------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        from inboop_tui.screens.commands import inbox_commands, selling_commands

        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Sync now", "Push your changes and pull new events (s)", self.action_sync
        )
        yield SystemCommand(
            "Export…",
            "Write conversations or messages to CSV or JSON lines (e)",
            self.action_export,
        )
        yield SystemCommand(
            "Diagnostics",
            "Sync runs, pending and rejected changes, conflicts (D)",
            self.action_diagnostics,
        )
        yield SystemCommand("Inbox", "Back to the conversations (F1)", self.action_inbox)
        yield SystemCommand(
            "Leads", "Every buying opportunity, newest first (F2)", self.action_leads
        )
        yield SystemCommand("Orders", "The orders table and board (F3)", self.action_orders)
        yield SystemCommand(
            "Payments", "Totals, cash to collect, unpaid orders (F4)", self.action_payments
        )
        yield SystemCommand(
            "Toggle notification bell",
            "Ring the terminal bell with notifications",
            self.action_toggle_bell,
        )
        if isinstance(screen, InboxScreen):
            yield from inbox_commands(screen)
        yield from selling_commands(screen)

    @on(Worker.StateChanged)
    def _own_worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self._status_bar_activity(None)  # a sync or an export, which the status bar showed
            self._worker_failed(event.worker)

    @on(WorkerFailed)
    def _screen_worker_failed(self, event: WorkerFailed) -> None:
        self._worker_failed(event.worker)

    def _worker_failed(self, worker: Worker[Any]) -> None:
        log.error("%s failed", worker.description, exc_info=worker.error)
        self.notify(
            f"{worker.description} failed: {worker.error}. Details are in {self.paths.log_file}.",
            severity="error",
            timeout=10,
            markup=False,
        )


def create_app(
    paths: Paths,
    replica: ReplicaFile | Engine,
    *,
    live: bool = True,
    clock: Callable[[], datetime] | None = None,
    graphics: Graphics | None = None,
) -> InboopApp:
    """The app on a replica. ``clock`` gives "now" (tests fix it); ``live`` runs the live sync
    while a relay is configured; ``graphics``: how the terminal draws pictures
    (``widgets.picture.detect_graphics``). ``replica``: its file as `inboop` opens it
    (``open_replica_file``: the inbox is read before SQLAlchemy loads), or an engine."""
    return InboopApp(paths, replica, live=live, clock=clock, graphics=graphics)
