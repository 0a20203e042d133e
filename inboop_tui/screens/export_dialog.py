"""The export dialog: what, which filters, which file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from inboop_tui.domain.timing import parse_time
from inboop_tui.store.export import ExportFilter, ExportFormat, ExportKind
from relay.protocol import format_time


@dataclass(frozen=True)
class ExportRequest:
    kind: ExportKind
    fmt: ExportFormat
    filter: ExportFilter
    path: Path


def default_path(kind: ExportKind, fmt: ExportFormat, today: datetime) -> Path:
    return Path.cwd() / f"inboop-{kind.value}-{today:%Y-%m-%d}.{fmt.value}"


class ExportDialog(ModalScreen[ExportRequest | None]):
    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical { width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    ExportDialog Grid { grid-size: 2; grid-columns: 10 1fr; grid-rows: auto; grid-gutter: 0 1; height: auto; }
    ExportDialog Grid > Label { height: 3; content-align: left middle; }
    ExportDialog #error { color: $error; height: auto; padding: 0; }
    ExportDialog Horizontal { height: auto; align-horizontal: right; padding-top: 1; }
    ExportDialog Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    INBOX_KINDS = (("Messages", ExportKind.MESSAGES), ("Conversations", ExportKind.CONVERSATIONS))

    def __init__(
        self,
        channel: str | None = None,
        kinds: tuple[tuple[str, ExportKind], ...] = INBOX_KINDS,
        base: ExportFilter | None = None,
        describe: str = "",
    ) -> None:
        """``kinds`` the screen offers (the first is chosen); ``base`` the screen's filters,
        which the export keeps (``describe`` says them in words)."""
        super().__init__()
        self._channel = channel
        self._kinds = kinds
        self._base = base or ExportFilter()
        self._describe = describe

    def compose(self) -> ComposeResult:
        today = datetime.now(UTC)
        with Vertical():
            yield Label("[b]Export[/b]  (read-only: nothing in the inbox changes)")
            with Grid():
                yield Label("What")
                yield Select(
                    list(self._kinds), value=self._kinds[0][1], allow_blank=False, id="kind"
                )
                yield Label("Format")
                yield Select(
                    [("CSV", ExportFormat.CSV), ("JSON lines", ExportFormat.JSONL)],
                    value=ExportFormat.CSV,
                    allow_blank=False,
                    id="format",
                )
                yield Label("Channel")
                yield Select(
                    [
                        ("All channels", "ALL"),
                        ("Instagram", "INSTAGRAM"),
                        ("WhatsApp", "WHATSAPP"),
                        ("Messenger", "MESSENGER"),
                    ],
                    value=self._channel or "ALL",
                    allow_blank=False,
                    id="channel",
                )
                yield Label("Since")
                yield Input(placeholder="YYYY-MM-DD (optional, UTC)", id="since")
                yield Label("Until")
                yield Input(placeholder="YYYY-MM-DD (optional, UTC, exclusive)", id="until")
                yield Label("File")
                yield Input(
                    str(default_path(self._kinds[0][1], ExportFormat.CSV, today)), id="path"
                )
            if self._describe:
                yield Label(Text(f"with this screen's filters: {self._describe}"), id="filters")
            yield Label("", id="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Export", variant="primary", id="export")

    @on(Select.Changed, "#kind, #format")
    def _suggest_path(self) -> None:
        path_input = self.query_one("#path", Input)
        current = Path(path_input.value)
        if current.name.startswith("inboop-"):
            kind = ExportKind(str(self.query_one("#kind", Select).value))
            fmt = ExportFormat(str(self.query_one("#format", Select).value))
            path_input.value = str(current.parent / default_path(kind, fmt, datetime.now(UTC)).name)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#export")
    @on(Input.Submitted)
    def _export(self) -> None:
        error = self.query_one("#error", Label)
        try:
            request = self._request()
        except ValueError as exc:
            error.update(Text(str(exc)))  # it quotes what was typed: never markup
            return
        self.dismiss(request)

    def _request(self) -> ExportRequest:
        kind = ExportKind(str(self.query_one("#kind", Select).value))
        fmt = ExportFormat(str(self.query_one("#format", Select).value))
        channel = self.query_one("#channel", Select).value
        since = _date(self.query_one("#since", Input).value, "Since")
        until = _date(self.query_one("#until", Input).value, "Until")
        raw_path = self.query_one("#path", Input).value.strip()
        if not raw_path:
            raise ValueError("Choose a file to write.")
        path = Path(raw_path).expanduser()
        if path.is_dir():
            raise ValueError(f"{path} is a folder: add a file name.")
        chosen = None if channel == "ALL" else str(channel)
        base = self._base
        # The dates bound when leads and orders were created; the channel narrows orders too.
        leads = replace(
            base.leads,
            created_from=since or base.leads.created_from,
            created_to=until or base.leads.created_to,
        )
        orders = replace(
            base.orders,
            channel=chosen or base.orders.channel,
            created_from=since or base.orders.created_from,
            created_to=until or base.orders.created_to,
        )
        f = replace(base, channel=chosen, since=since, until=until, leads=leads, orders=orders)
        return ExportRequest(kind, fmt, f, path)


def _date(value: str, label: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    try:
        return format_time(parse_time(value if "T" in value else value + "T00:00:00Z"))
    except ValueError:
        raise ValueError(f"{label}: {value!r} is not a date like 2026-11-01.") from None
