"""Dialogs around replying: send a file, pick a WhatsApp template, manage canned replies.

Like the inbox's other dialogs they return a choice and never touch the replica.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from inboop_tui.domain.notes import CannedState, normalise_shortcode
from inboop_tui.screens.dialogs import _css, plain
from inboop_tui.sync.templates import Template


class FileDialog(ModalScreen[Path | None]):
    """A file to send: the path, checked before anything is queued."""

    DEFAULT_CSS = _css("FileDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, customer: str, caption: str) -> None:
        super().__init__()
        self._customer = customer
        self._caption = caption

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(f"Send a file to {self._customer}", "bold"), classes="title")
            yield Input(placeholder="~/catalogue/kurta-blue.jpg", id="path")
            yield Static("", classes="error", id="error")
            note = (
                f"With it: “{self._caption.strip()[:60]}”"
                if self._caption.strip()
                else "Images, videos, audio, PDFs… up to 25 MiB."
            )
            yield Static(plain(note), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(Input.Submitted, "#path")
    def _submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip():
            self._error("Type the file's path.")
        elif not path.exists():
            self._error(f"No file {path}.")
        elif path.is_dir():
            self._error(f"{path} is a folder: name a file.")
        else:
            self.dismiss(path)

    def _error(self, text: str) -> None:
        self.query_one("#error", Static).update(plain(text))

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class TemplateChoice:
    template: Template
    values: tuple[str, ...]


class TemplateDialog(ModalScreen[TemplateChoice | None]):
    """Outside WhatsApp's 24-hour window: an approved template, its parameters filled in."""

    DEFAULT_CSS = _css("TemplateDialog") + "TemplateDialog #preview { padding: 1 0 0 0; }"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, customer: str, templates: Sequence[Template], first_value: str) -> None:
        super().__init__()
        self._customer = customer
        self._templates = list(templates)
        self._first_value = first_value
        self._chosen: Template | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(f"A WhatsApp template for {self._customer}", "bold"), classes="title")
            if not self._templates:
                yield Static(
                    "This number has no approved templates: create them in WhatsApp Manager.",
                    classes="hint",
                )
            yield OptionList(
                *[
                    Option(
                        plain(f"{t.name} ({t.language}): {' '.join(t.body.split())[:60]}"),
                        id=str(i),
                    )
                    for i, t in enumerate(self._templates)
                ],
                id="templates",
            )
            yield Vertical(id="parameters")
            yield Static("", id="preview")
            yield Static("", classes="error", id="error")

    @on(OptionList.OptionSelected, "#templates")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._chosen = self._templates[int(event.option.id or 0)]
        box = self.query_one("#parameters", Vertical)
        box.remove_children()
        inputs = [
            Input(
                value=self._first_value if n == 1 else "",
                placeholder=f"{{{{{n}}}}}",
                id=f"param-{n}",
            )
            for n in range(1, self._chosen.parameters + 1)
        ]
        if inputs:
            box.mount_all(inputs)
            inputs[0].focus()
        self._preview()
        if not inputs:
            self.query_one("#error", Static).update(plain("Enter sends it."))
            self.query_one("#templates", OptionList).focus()

    @on(Input.Changed)
    def _typed(self) -> None:
        self._preview()

    def _values(self) -> list[str]:
        return [i.value for i in self.query("#parameters Input").results(Input)]

    def _preview(self) -> None:
        if self._chosen is not None:
            preview = Text("The customer reads: ", style="dim")
            preview.append(self._chosen.filled(self._values()))
            self.query_one("#preview", Static).update(preview)

    @on(Input.Submitted)
    def _send(self) -> None:
        if self._chosen is None:
            return
        values = [v.strip() for v in self._values()]
        if any(not v for v in values):
            self.query_one("#error", Static).update(plain("Fill in every parameter."))
            return
        self.dismiss(TemplateChoice(self._chosen, tuple(values)))

    def key_enter(self) -> None:
        if self._chosen is not None and self._chosen.parameters == 0:
            self.dismiss(TemplateChoice(self._chosen, ()))

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class CannedAction:
    kind: str  # use | add | edit | delete
    canned: CannedState | None = None


class CannedDialog(ModalScreen[CannedAction | None]):
    """The team's canned replies: Enter puts one in the reply box; a adds, e edits, d deletes."""

    DEFAULT_CSS = _css("CannedDialog")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self, canned: Sequence[CannedState]) -> None:
        super().__init__()
        self._canned = list(canned)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Canned replies", classes="title")
            yield OptionList(
                *[
                    Option(
                        plain(f"/{c.shortcode}  {c.title}: {' '.join(c.text.split())[:50]}"),
                        id=c.id,
                    )
                    for c in self._canned
                ],
                id="canned",
            )
            if not self._canned:
                yield Static("None yet: a adds one.", classes="hint")
            yield Static(
                "Enter: into the reply box · a add · e edit · d delete · Esc close. "
                "{name}, {first_name}, {agent} are filled in.",
                classes="hint",
            )

    def _highlighted(self) -> CannedState | None:
        options = self.query_one("#canned", OptionList)
        if options.highlighted is None or not self._canned:
            return None
        return self._canned[options.highlighted]

    @on(OptionList.OptionSelected, "#canned")
    def _use(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(CannedAction("use", self._canned[event.option_index]))

    def action_add(self) -> None:
        self.dismiss(CannedAction("add"))

    def action_edit(self) -> None:
        chosen = self._highlighted()
        if chosen is not None:
            self.dismiss(CannedAction("edit", chosen))

    def action_delete(self) -> None:
        chosen = self._highlighted()
        if chosen is not None:
            self.dismiss(CannedAction("delete", chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class CannedDraft:
    shortcode: str
    title: str
    text: str
    canned_id: str | None


class CannedEditDialog(ModalScreen[CannedDraft | None]):
    DEFAULT_CSS = _css("CannedEditDialog") + "CannedEditDialog TextArea { height: 6; }"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, canned: CannedState | None) -> None:
        super().__init__()
        self._canned = canned

    def compose(self) -> ComposeResult:
        c = self._canned
        with Vertical():
            yield Label("Edit the canned reply" if c else "A new canned reply", classes="title")
            yield Input(
                value=c.shortcode if c else "", placeholder="shortcode, e.g. thanks", id="shortcode"
            )
            yield Input(value=c.title if c else "", placeholder="title", id="title")
            yield TextArea(c.text if c else "", id="text", soft_wrap=True)
            yield Static("", classes="error", id="error")
            yield Static(
                "Ctrl+S saves · {name}, {first_name}, {agent} are filled in when used.",
                classes="hint",
            )

    def action_save(self) -> None:
        code = self.query_one("#shortcode", Input).value
        title = self.query_one("#title", Input).value.strip()
        text = self.query_one("#text", TextArea).text.strip()
        if normalise_shortcode(code) is None:
            self._error("The shortcode is letters, digits, - and _ (up to 32).")
        elif not title or not text:
            self._error("It needs a title and some text.")
        else:
            self.dismiss(CannedDraft(code, title, text, self._canned.id if self._canned else None))

    def _error(self, text: str) -> None:
        self.query_one("#error", Static).update(plain(text))

    def action_cancel(self) -> None:
        self.dismiss(None)
