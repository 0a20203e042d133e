"""Looking at a picture a customer sent without leaving the terminal (``v`` in the inbox).

The file comes from the relay's store in a worker; the picture is drawn where the terminal can
(``widgets.picture``), described in words elsewhere. ``s`` saves it and ``o`` opens it with the
system's viewer, from the bytes already fetched.
"""

from __future__ import annotations

import logging

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from inboop_tui.screens.dialogs import plain
from inboop_tui.store.config import ClientConfig
from inboop_tui.store.rows import AttachmentRef
from inboop_tui.sync.media import (
    MediaError,
    Picture,
    downloads_folder,
    fetch_attachment,
    keep_file,
    read_picture,
)
from inboop_tui.widgets.failures import ReportsFailedWorkers
from inboop_tui.widgets.picture import Graphics, describe, picture_widget, words_instead

log = logging.getLogger("inboop.picture")


class PicturePreview(ReportsFailedWorkers, ModalScreen[None]):
    """One picture, as large as the screen allows."""

    DEFAULT_CSS = """
    PicturePreview { align: center middle; }
    PicturePreview > Vertical {
        width: 90%; height: 90%; border: thick $primary; background: $surface; padding: 0 1;
    }
    PicturePreview .title { text-style: bold; }
    PicturePreview #what { color: $text-muted; }
    PicturePreview #picture { height: 1fr; align: center middle; }
    PicturePreview #state, PicturePreview #words { width: 1fr; height: auto; padding: 0 4; }
    PicturePreview .drawn { width: auto; height: auto; max-height: 100%; }
    PicturePreview .hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,q,v", "close", "Close"),
        Binding("s", "save", "Save"),
        Binding("o", "open", "Open"),
    ]

    def __init__(
        self,
        ref: AttachmentRef,
        customer: str,
        config: ClientConfig,
        graphics: Graphics | None,
    ) -> None:
        super().__init__()
        self.ref = ref
        self._customer = customer
        self._config = config
        self._graphics = graphics
        self._fetched: tuple[bytes, str] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(f"A picture from {self._customer}"), classes="title")
            yield Static(describe(self.ref, None, self.ref.size), id="what")
            with Vertical(id="picture"):
                yield Static("fetching it from the relay …", id="state")
            yield Static("s save · o open with the system's viewer · Esc close", classes="hint")

    def on_mount(self) -> None:
        self.fetch()

    @work(
        thread=True,
        exclusive=True,
        group="picture",
        description="fetch a picture",
        exit_on_error=False,
    )
    def fetch(self) -> None:
        try:
            fetched = fetch_attachment(self._config, self.ref)
            picture = read_picture(fetched[0])
        except MediaError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # a picture Pillow chokes on: said here, never a hang
            log.exception("could not show a picture")
            self.app.call_from_thread(self._failed, f"cannot show it: {type(exc).__name__}")
            return
        self.app.call_from_thread(self._show, fetched, picture)

    def _failed(self, why: str) -> None:
        self.query_one("#state", Static).update(plain(why, "red"))

    def _show(self, fetched: tuple[bytes, str], picture: Picture) -> None:
        self._fetched = fetched
        size = len(fetched[0])
        self.query_one("#what", Static).update(describe(self.ref, picture, size))
        place = self.query_one("#picture")
        place.remove_children()
        if self._graphics is None:
            place.mount(Static(words_instead(self.ref, downloads_folder()), id="words"))
        else:
            place.mount(picture_widget(self._graphics, picture.image).add_class("drawn"))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        self._keep(open_it=False)

    def action_open(self) -> None:
        self._keep(open_it=True)

    @work(thread=True, group="picture-save", description="save a picture", exit_on_error=False)
    def _keep(self, open_it: bool) -> None:
        try:
            said = keep_file(self._config, self.ref, open_it=open_it, fetched=self._fetched)
        except MediaError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, said, markup=False)
