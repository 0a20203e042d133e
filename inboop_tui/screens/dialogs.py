"""Small dialogs for the inbox's actions: assign, snooze, tags, note, SLA.

Each is a typed ``ModalScreen`` that returns the person's choice (or ``None`` when cancelled)
and never touches the replica: the inbox hands the choice to the actions object. Everything a
person typed, and every name from the relay, is shown as plain text, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from inboop_tui.domain.timing import TimeError, parse_until

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 64; height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; }}
{name} .title {{ text-style: bold; padding-bottom: 1; }}
{name} .hint {{ color: $text-muted; padding-top: 1; }}
{name} .error {{ color: $error; height: auto; }}
{name} OptionList {{ height: auto; max-height: 14; }}
"""


def _css(name: str) -> str:
    return DIALOG_CSS.format(name=name)


def plain(text: str, style: str = "") -> Text:
    """A person's or a customer's text, shown as it is (``[b]`` stays ``[b]``)."""
    return Text(text, style=style)


@dataclass(frozen=True)
class AssignChoice:
    assignee: str | None  # None: back to the shared queue


class AssignDialog(ModalScreen[AssignChoice | None]):
    """Assign to me, to nobody, or to a teammate."""

    DEFAULT_CSS = _css("AssignDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, me: str, team: Sequence[str], current: str | None, customer: str) -> None:
        super().__init__()
        self._me = me
        self._known = bool(team)
        self._team = [name for name in team if name != me]
        self._current = current
        self._customer = customer

    def on_mount(self) -> None:
        order = [self._me, None, *self._team]
        if self._current in order:
            self.query_one(OptionList).highlighted = order.index(self._current)

    def compose(self) -> ComposeResult:
        def mark(name: str | None) -> str:
            return "• " if name == self._current else "  "

        options = [
            Option(plain(f"{mark(self._me)}Me ({self._me})"), id=f"user:{self._me}"),
            Option(plain(f"{mark(None)}Nobody: the shared queue"), id="none"),
            *[Option(plain(f"{mark(name)}{name}"), id=f"user:{name}") for name in self._team],
        ]
        with Vertical():
            yield Label(plain(f"Assign {self._customer}", "bold"), classes="title")
            yield OptionList(*options, id="choices")
            if not self._known:
                yield Static("No teammates known yet: a sync fetches the team.", classes="hint")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or "none"
        self.dismiss(AssignChoice(None if option_id == "none" else option_id.split(":", 1)[1]))

    def action_cancel(self) -> None:
        self.dismiss(None)


class SnoozeDialog(ModalScreen[datetime | None]):
    """Until when: a preset, or a time as people type it."""

    DEFAULT_CSS = _css("SnoozeDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    PRESETS = (
        ("1h", "An hour"),
        ("3h", "Three hours"),
        ("tomorrow", "Tomorrow 9:00"),
        ("1w", "A week"),
    )

    def __init__(self, customer: str, now: Callable[[], datetime]) -> None:
        super().__init__()
        self._customer = customer
        self._now = now

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(f"Snooze {self._customer} until…", "bold"), classes="title")
            yield OptionList(*[Option(label, id=value) for value, label in self.PRESETS])
            yield Input(
                placeholder="or type: 30m, 2h, 3d, tomorrow, 17:30, 2026-12-01T09:00", id="until"
            )
            yield Static("", classes="error", id="error")
            yield Label(
                "It wakes by itself at that time, or when the customer writes.", classes="hint"
            )

    def on_mount(self) -> None:
        self.query_one("#until", Input).focus()

    @on(OptionList.OptionSelected)
    def _preset(self, event: OptionList.OptionSelected) -> None:
        self._try(event.option.id or "")

    @on(Input.Submitted, "#until")
    def _typed(self, event: Input.Submitted) -> None:
        self._try(event.value)

    def _try(self, text: str) -> None:
        try:
            self.dismiss(parse_until(text, self._now()))
        except TimeError as exc:
            self.query_one("#error", Static).update(plain(str(exc)))

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class TagChange:
    add: tuple[str, ...]
    remove: tuple[str, ...]


class LastWordSuggester(Suggester):
    """Completes the word being typed (after ``+``, ``-``, ``#`` or ``@``) from a list."""

    def __init__(self, words: Sequence[str], prefixes: str = "+-#") -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._words = list(words)
        self._prefixes = prefixes

    async def get_suggestion(self, value: str) -> str | None:
        head, _, word = value.rpartition(" ")
        stem = word.lstrip(self._prefixes)
        if not stem:
            return None
        lead = word[: len(word) - len(stem)]
        for candidate in self._words:
            if candidate.lower().startswith(stem.lower()) and candidate.lower() != stem.lower():
                return f"{head}{' ' if head else ''}{lead}{candidate}"
        return None


def parse_tag_change(text: str) -> TagChange:
    """``+vip -waiting big order`` style: ``-x`` removes, ``x`` or ``+x`` adds."""
    add: list[str] = []
    remove: list[str] = []
    for word in text.split():
        if word.startswith("-"):
            remove.append(word[1:])
        else:
            add.append(word.removeprefix("+"))
    return TagChange(tuple(w for w in add if w), tuple(w for w in remove if w))


class TagDialog(ModalScreen[TagChange | None]):
    DEFAULT_CSS = _css("TagDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, customer: str, current: Sequence[str], in_use: Sequence[str]) -> None:
        super().__init__()
        self._customer = customer
        self._current = list(current)
        self._in_use = list(in_use)

    def compose(self) -> ComposeResult:
        now = " ".join(f"#{t}" for t in self._current) or "none"
        with Vertical():
            yield Label(plain(f"Tags of {self._customer}", "bold"), classes="title")
            yield Label(plain(f"now: {now}"))
            yield Input(
                placeholder="+vip -waiting  (→ completes from the tags in use)",
                suggester=LastWordSuggester(self._in_use),
                id="tags",
            )
            yield Static("", classes="error", id="error")

    @on(Input.Submitted, "#tags")
    def _submitted(self, event: Input.Submitted) -> None:
        change = parse_tag_change(event.value)
        if not change.add and not change.remove:
            self.query_one("#error", Static).update(
                plain("Type a tag to add (+tag) or remove (-tag).")
            )
            return
        self.dismiss(change)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class TagChoice:
    tag: str | None  # None: any tag


class TagFilterDialog(ModalScreen[TagChoice | None]):
    """Show only the conversations with one tag (or any)."""

    DEFAULT_CSS = _css("TagFilterDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, in_use: Sequence[str], current: str | None) -> None:
        super().__init__()
        self._in_use = list(in_use)
        self._current = current

    def compose(self) -> ComposeResult:
        options = [Option("Any tag", id="any")]
        options += [Option(plain(f"#{tag}"), id=f"tag:{tag}") for tag in self._in_use]
        with Vertical():
            yield Label("Show conversations tagged…", classes="title")
            yield OptionList(*options, id="tags")
            if not self._in_use:
                yield Static("No conversation has a tag yet: t tags one.", classes="hint")

    def on_mount(self) -> None:
        if self._current in self._in_use:
            self.query_one(OptionList).highlighted = self._in_use.index(self._current) + 1

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or "any"
        self.dismiss(TagChoice(None if option_id == "any" else option_id.split(":", 1)[1]))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteDialog(ModalScreen[str | None]):
    """An internal note: the team sees it in the thread; the customer never does."""

    DEFAULT_CSS = _css("NoteDialog") + "NoteDialog TextArea { height: 8; }"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save note", priority=True),
    ]

    def __init__(self, customer: str, team: Sequence[str]) -> None:
        super().__init__()
        self._customer = customer
        self._team = list(team)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(f"Internal note on {self._customer}", "bold"), classes="title")
            yield TextArea(id="note", soft_wrap=True)
            yield Static("", classes="error", id="error")
            mentions = " ".join(f"@{name}" for name in self._team) or "(no teammates known yet)"
            yield Label(
                plain(f"Ctrl+S saves · Esc cancels · mention to notify: {mentions}"), classes="hint"
            )

    def on_mount(self) -> None:
        self.query_one("#note", TextArea).focus()

    def action_save(self) -> None:
        text = self.query_one("#note", TextArea).text
        if not text.strip():
            self.query_one("#error", Static).update(plain("A note needs some text."))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class SlaChoice:
    minutes: int | None  # None: no SLA


class SlaDialog(ModalScreen[SlaChoice | None]):
    DEFAULT_CSS = _css("SlaDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: int | None) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        now = f"{self._current} minutes" if self._current else "off"
        with Vertical():
            yield Label("Workspace SLA: expected first response", classes="title")
            yield Label(plain(f"now: {now}"))
            yield Input(placeholder="minutes, e.g. 60; or off", id="minutes")
            yield Static("", classes="error", id="error")
            yield Static(
                "A conversation whose customer has waited longer gets a badge; nothing is blocked.",
                classes="hint",
            )

    @on(Input.Submitted, "#minutes")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip().lower()
        if value in ("off", "none", "0"):
            self.dismiss(SlaChoice(None))
        elif value.isdigit():
            self.dismiss(SlaChoice(int(value)))
        else:
            self.query_one("#error", Static).update(
                plain(f"{event.value!r} is not a number of minutes or off.")
            )

    def action_cancel(self) -> None:
        self.dismiss(None)
