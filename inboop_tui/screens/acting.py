"""What every working screen shares: run an action in a thread worker, open a dialog built from
replica data, and tell the person how it went (then reload what the screen shows).

Actions never run on the UI thread: each writes the outbox and the projections in one
transaction. A refused action is a notification with the reason; nothing was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.message import Message
from textual.screen import Screen

from inboop_tui.store.door import ActionError, Done
from inboop_tui.store.replica import Replica
from inboop_tui.store.replica_file import ReplicaError
from inboop_tui.widgets.failures import ReportsFailedWorkers


class ActingScreen(ReportsFailedWorkers, Screen[None]):
    @dataclass
    class ActionDone(Message):
        done: Done | None
        error: str | None
        note: str | None = None  # what to tell the person when it worked

    def __init__(self, replica: Replica, *, id: str) -> None:
        super().__init__(id=id)
        self._replica = replica

    def refresh_data(self) -> None:
        """Reload what the screen shows (after a change, a sync, another process's write)."""

    def prepare_dialog(self, build: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """Open a dialog built from replica data (read in a worker), then act on the choice."""

        def opened(screen: Any) -> None:
            self.app.push_screen(screen, then)

        self._prepare(build, opened)

    _dialog = prepare_dialog

    @work(thread=True, group="prepare-dialog", description="open a dialog", exit_on_error=False)
    def _prepare(self, build: Callable[[], Any], opened: Callable[[Any], None]) -> None:
        try:
            screen = build()
        except (ActionError, ReplicaError) as exc:
            self.post_message(self.ActionDone(None, str(exc)))
            return
        self.app.call_from_thread(opened, screen)

    @work(thread=True, group="action", description="make a change", exit_on_error=False)
    def act(
        self,
        change: Callable[[Any], Any],
        note: str | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Run one action on the replica (outbox and projections in one transaction); ``then``
        runs on the screen once it is done. A change that returns text says that instead of
        ``note``."""
        try:
            result = change(self._replica.actions)
        except (ActionError, ReplicaError) as exc:
            self.post_message(self.ActionDone(None, str(exc)))
            return
        if then is not None:
            self.app.call_from_thread(then)
        said = result if isinstance(result, str) else note
        self.post_message(self.ActionDone(result if isinstance(result, Done) else None, None, said))

    @on(ActionDone)
    def _action_done(self, event: ActionDone) -> None:
        if event.error is not None:
            self.notify(event.error, severity="error", timeout=8, markup=False)
            return
        if event.note:
            self.notify(event.note, markup=False)
        if event.done is not None:
            for warning in event.done.warnings:
                self.notify(
                    warning, title="Payment settings", severity="warning", timeout=10, markup=False
                )
        self.refresh_data()
