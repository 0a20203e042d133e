"""The inbox's reply box at work: drafts, sending, files, templates, canned replies, $EDITOR.

Kept apart from the inbox screen because it is one job: what the composer asks for becomes an
action (a reply is a mutation like any other), a dialog, or an external editor. The screen
hands the composer's messages to a :class:`ReplyDesk`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import SuspendNotSupported
from textual.timer import Timer

from inboop_tui.domain.notes import CannedState
from inboop_tui.domain.timing import reply_window
from inboop_tui.screens.reply_dialogs import (
    CannedAction,
    CannedDialog,
    CannedDraft,
    CannedEditDialog,
    FileDialog,
    TemplateChoice,
    TemplateDialog,
)
from inboop_tui.store.replica import Replica, Thread
from inboop_tui.store.rows import ConversationRow
from inboop_tui.widgets.clock import now
from inboop_tui.widgets.composer import HINTS, Composer

if TYPE_CHECKING:
    from inboop_tui.screens.inbox import InboxScreen

DRAFT_SAVE_SECONDS = 0.6
CHANNEL_WORDS = {
    "INSTAGRAM": "Instagram account",
    "MESSENGER": "Page",
    "WHATSAPP": "WhatsApp number",
}


def composer_state(row: ConversationRow, can_send: bool | None, at: Any) -> Text:
    """The line over the reply box: what the channel allows now, and the keys."""
    line = Text()
    if can_send is False:
        line.append(
            f"receive only: the relay has no send token for this {CHANNEL_WORDS.get(row.channel, 'account')}",
            style="red",
        )
        return line
    window = reply_window(row.last_inbound_at, at)
    if not window.open:
        if row.channel == "WHATSAPP":
            line.append(
                "reply window closed: only an approved template now (Ctrl+T)", style="yellow"
            )
        else:
            line.append("reply window closed: the customer must write first", style="yellow")
        return line
    line.append(HINTS, style="dim")
    return line


class ReplyDesk:
    """The reply box's work for the inbox screen, which hands it the composer's messages."""

    def __init__(self, screen: InboxScreen, replica: Replica) -> None:
        self.screen = screen
        self.replica = replica
        self._draft_timer: Timer | None = None

    @property
    def app(self) -> Any:
        return self.screen.app

    @property
    def composer(self) -> Composer:
        return self.screen.query_one(Composer)

    def _thread(self, work: Callable[[], None], description: str, group: str) -> None:
        self.screen.run_worker(
            work, thread=True, group=group, description=description, exit_on_error=False
        )

    def prepare(self, loaded: Thread, canned: list[CannedState]) -> None:
        """A conversation opened: its draft, what its channel allows, the canned replies."""
        row = loaded.conversation
        self.composer.prepare(
            loaded.draft,
            composer_state(row, loaded.can_send, now(self.app)),
            canned,
            lambda c: self.replica.fill(c, row),
        )

    def focus(self) -> None:
        self.composer.area.focus()

    # --- drafts and sending --------------------------------------------------------------

    def edited(self, text: str) -> None:
        conversation_id = self.screen.open_conversation
        if conversation_id is None:
            return
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.screen.set_timer(
            DRAFT_SAVE_SECONDS, lambda: self._save_draft(conversation_id, text)
        )

    def _save_draft(self, conversation_id: str, text: str) -> None:
        self._thread(
            lambda: self.replica.actions.save_draft(conversation_id, text),
            "keep the draft",
            "draft",
        )

    def send(self, row: ConversationRow, change: Callable[[Any], Any]) -> None:
        def sent() -> None:
            if self._draft_timer is not None:
                self._draft_timer.stop()
            self.composer.clear()
            self._save_draft(row.id, "")

        self.screen.act(change, then=sent)

    def send_text(self, row: ConversationRow, text: str) -> None:
        self.send(row, lambda a: a.reply(row.id, text))

    # --- more than text ------------------------------------------------------------------

    def asked(self, row: ConversationRow, what: str) -> None:
        if what == "editor":
            self.edit_outside(self.composer.text)
        elif what == "file":
            caption = self.composer.text

            def chosen(path: Path | None) -> None:
                if path is not None:
                    self.send(row, lambda a: a.reply(row.id, caption or None, file=path))

            self.app.push_screen(FileDialog(row.display_name, caption), chosen)
        elif what == "template":
            self.template(row)

    def template(self, row: ConversationRow) -> None:
        if row.channel != "WHATSAPP":
            self.screen.notify(
                "Templates are for WhatsApp: Instagram and Messenger wait for the customer.",
                severity="warning",
            )
            return
        self._thread(lambda: self._load_templates(row), "list WhatsApp templates", "templates")

    def _load_templates(self, row: ConversationRow) -> None:
        from inboop_tui.sync.client import SyncError
        from inboop_tui.sync.templates import fetch_templates

        try:
            found = fetch_templates(self.app.config, row.account_id)
        except SyncError as exc:
            self.app.call_from_thread(
                self.screen.notify,
                f"Cannot list the templates (they need the relay): {exc}",
                severity="error",
                markup=False,
            )
            return
        first = (row.name or "").split(" ")[0]
        self.app.call_from_thread(
            self.app.push_screen,
            TemplateDialog(row.display_name, found, first),
            lambda choice: self._template_chosen(row, choice),
        )

    def _template_chosen(self, row: ConversationRow, choice: TemplateChoice | None) -> None:
        if choice is None:
            return
        from relay.protocol import TemplateMessage  # a model: loads pydantic on first use

        template = TemplateMessage(
            name=choice.template.name,
            language=choice.template.language,
            parameters=choice.values,
            text=choice.template.filled(list(choice.values)),
        )
        self.screen.act(lambda a: a.reply(row.id, template=template))

    def edit_outside(self, text: str) -> None:
        """Open the draft in $VISUAL / $EDITOR, the way mutt and aerc do."""
        self._thread(lambda: self._edit(text), "edit the reply in $EDITOR", "editor")

    def _edit(self, text: str) -> None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        handle, name = tempfile.mkstemp(prefix="inboop-reply-", suffix=".txt")
        path = Path(name)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            try:
                self.app.call_from_thread(self._run_suspended, [*shlex.split(editor), str(path)])
            except FileNotFoundError:
                self.app.call_from_thread(
                    self.screen.notify,
                    f"No editor {editor!r}: set $VISUAL or $EDITOR.",
                    severity="error",
                    markup=False,
                )
                return
            edited = path.read_text(encoding="utf-8").rstrip("\n")
        finally:
            path.unlink(missing_ok=True)
        self.app.call_from_thread(self._edited, edited)

    def _run_suspended(self, command: list[str]) -> None:
        try:
            with self.app.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:  # no terminal to hand over (a test, a pipe): run it as is
            subprocess.run(command, check=False, stdin=subprocess.DEVNULL, capture_output=True)

    def _edited(self, text: str) -> None:
        self.composer.set_text(text)
        self.composer.area.focus()

    # --- canned replies ------------------------------------------------------------------

    def manage_canned(self) -> None:
        self.screen.prepare_dialog(lambda: CannedDialog(self.replica.canned()), self._canned_chosen)

    def _canned_chosen(self, action: CannedAction | None) -> None:
        if action is None:
            return
        if action.kind == "use" and action.canned is not None:
            row = self.screen.target()
            if row is not None:
                self.composer.set_text(self.replica.fill(action.canned, row))
                self.composer.area.focus()
        elif action.kind in ("add", "edit"):
            self.app.push_screen(CannedEditDialog(action.canned), self._canned_saved)
        elif action.kind == "delete" and action.canned is not None:
            chosen = action.canned
            self.screen.act(
                lambda a: a.delete_canned(chosen.id), note=f"Deleted /{chosen.shortcode}."
            )

    def _canned_saved(self, draft: CannedDraft | None) -> None:
        if draft is not None:
            code = draft.shortcode.strip().lstrip("/").lower()
            self.screen.act(
                lambda a: a.save_canned(draft.shortcode, draft.title, draft.text, draft.canned_id),
                note=f"Saved /{code}.",
            )
