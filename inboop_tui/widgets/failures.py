"""A worker that fails is told to the agent, whichever screen or widget runs it.

Textual tells a worker's state only to the node that runs it (the message does not bubble),
so a screen's or a widget's failed read reached the log and nothing on screen. A node that runs
workers mixes in ``ReportsFailedWorkers``; the failure bubbles up to the app as
``WorkerFailed``, and the app says what failed and where the details are.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.worker import Worker, WorkerState


class WorkerFailed(Message):
    """A worker of this node (or one under it) raised."""

    def __init__(self, worker: Worker[Any]) -> None:
        super().__init__()
        self.worker = worker


class ReportsFailedWorkers:
    """Mixin for a screen or widget that runs workers."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            event.worker.node.post_message(WorkerFailed(event.worker))
