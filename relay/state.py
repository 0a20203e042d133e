"""What the running relay shares with its handlers, made once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from relay.metrics import RelayMetrics
from relay.outbound.sender import Sender
from relay.settings import RelaySettings
from relay.store.dialect import Engines
from relay.writer import LogNotifier, LogWriter


@dataclass(frozen=True)
class RelayState:
    settings: RelaySettings
    engines: Engines
    writer: LogWriter
    notifier: LogNotifier
    app_secrets: tuple[str, ...]  # a delivery signed with any of them is Meta's
    verify_token: str
    sender: Sender
    metrics: RelayMetrics


def relay_state(request: Request) -> RelayState:
    state: RelayState = request.app.state.relay
    return state
