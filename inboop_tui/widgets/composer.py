"""The reply box under the thread: multi-line, Enter sends, Ctrl+J breaks a line.

Typing ``/`` and a shortcode offers the matching canned reply (Tab takes it, filled in for this
customer). The line above the box says what the channel allows now: the 24-hour window, a
receive-only account, WhatsApp's templates outside the window. The widget only reports what the
agent wants (messages up); the inbox screen turns that into actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

from inboop_tui.domain.notes import CannedState

HINTS = (
    "Enter send · Ctrl+J new line · Ctrl+O editor · /code canned · Ctrl+F file · Ctrl+T template"
)


class ReplyArea(TextArea):
    """A TextArea where Enter sends and Ctrl+J (or Shift+Enter) breaks the line."""

    BINDINGS = [
        Binding("ctrl+o", "ask('editor')", "Editor", show=False),
        Binding("ctrl+f", "ask('file')", "File", show=False),
        Binding("ctrl+t", "ask('template')", "Template", show=False),
        Binding("escape", "leave", "Leave", show=False),
    ]

    @dataclass
    class Asked(Message):
        """The agent wants more than text: ``editor``, ``file`` or ``template``."""

        what: str

    def action_ask(self, what: str) -> None:
        self.post_message(self.Asked(what))

    @dataclass
    class Left(Message):
        """Esc: back to where the agent came from."""

    def action_leave(self) -> None:
        self.post_message(self.Left())

    @dataclass
    class Submitted(Message):
        text: str

    @dataclass
    class Completing(Message):
        """Tab while a canned reply is offered."""

    offering: bool = False

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self.text))
            return
        if event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        if event.key == "tab" and self.offering:
            event.stop()
            event.prevent_default()
            self.post_message(self.Completing())
            return
        await super()._on_key(event)


class Composer(Vertical):
    DEFAULT_CSS = """
    Composer { height: auto; border-top: solid $primary-background; }
    Composer > #composer-state { height: auto; padding: 0 1; color: $text-muted; }
    Composer > ReplyArea { height: auto; min-height: 3; max-height: 10; border: none; padding: 0 1; }
    Composer > ReplyArea:focus { background: $boost; }
    """

    @dataclass
    class Send(Message):
        text: str

    @dataclass
    class Edited(Message):
        """The draft changed (kept across conversations and restarts)."""

        text: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._canned: list[CannedState] = []
        self._fill: Callable[[CannedState], str] = lambda c: c.text
        self._state = Text(HINTS, style="dim")
        self._offer: CannedState | None = None
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Static(self._state, id="composer-state")
        yield ReplyArea(id="reply", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")

    @property
    def area(self) -> ReplyArea:
        return self.query_one(ReplyArea)

    @property
    def text(self) -> str:
        return self.area.text

    def prepare(
        self,
        draft: str,
        state: Text,
        canned: list[CannedState],
        fill: Callable[[CannedState], str],
    ) -> None:
        """A conversation opened: its draft, what the channel allows, the canned replies."""
        self._canned = canned
        self._fill = fill
        self._state = state
        if self.area.text != draft:
            self._loading = True
            self.area.load_text(draft)
            self.area.move_cursor(self.area.document.end)
        self._show_state()

    def clear(self) -> None:
        self._loading = True
        self.area.load_text("")
        self._offer = None
        self._show_state()

    def set_text(self, text: str) -> None:
        self._loading = True
        self.area.load_text(text)
        self.area.move_cursor(self.area.document.end)
        self._offer = None
        self._show_state()
        self.post_message(self.Edited(text))

    @on(TextArea.Changed, "#reply")
    def _changed(self, event: TextArea.Changed) -> None:
        event.stop()
        text = event.text_area.text
        self._offer = self._offer_for(text)
        self.area.offering = self._offer is not None
        self._show_state()
        if self._loading:
            self._loading = False
            return
        self.post_message(self.Edited(text))

    @on(ReplyArea.Submitted)
    def _submitted(self, event: ReplyArea.Submitted) -> None:
        event.stop()
        if self._offer is not None and event.text.strip() == "/" + self._offer.shortcode:
            self._take_offer()
            return
        if event.text.strip():
            self.post_message(self.Send(event.text))

    @on(ReplyArea.Completing)
    def _completing(self, event: ReplyArea.Completing) -> None:
        event.stop()
        self._take_offer()

    def _take_offer(self) -> None:
        if self._offer is not None:
            self.set_text(self._fill(self._offer))

    def _offer_for(self, text: str) -> CannedState | None:
        if not text.startswith("/") or any(c.isspace() for c in text):
            return None
        typed = text[1:].lower()
        for canned in self._canned:
            if canned.shortcode.startswith(typed):
                return canned
        return None

    def _show_state(self) -> None:
        line = Text()
        if self._offer is not None:
            line.append("Tab: ", style="bold")
            line.append(f"/{self._offer.shortcode}", style="bold cyan")
            line.append(f" {self._offer.title}: ")
            preview = " ".join(self._fill(self._offer).split())
            line.append(preview[:80] + ("…" if len(preview) > 80 else ""), style="dim")
        else:
            line.append_text(self._state)
        self.query_one("#composer-state", Static).update(line)
