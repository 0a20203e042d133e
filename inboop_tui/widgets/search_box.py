"""A search box whose typing repaints the box, not the screen.

Textual's ``Input`` sets its virtual size to its text's width on every change, and a widget's
virtual size asks for a layout of the whole screen: every widget painted again (3 to 5 ms at
120x40) for each key typed. A box of fixed height in a pane of fixed width keeps its size
whatever its text; it scrolls the text itself. During a search that layout ran before the
search was asked for, and then beside the search's read, on the interpreter the read needs.

It has no validators either, and is not validated: an ``Input`` validated on every change
marks itself valid, and the first mark (a class added) restyled the box and its parts while
the agent's first search waited (~4 ms).
"""

from __future__ import annotations

from typing import Self

from textual.geometry import Region
from textual.widgets import Input


class SearchBox(Input):
    """An ``Input`` that lays out the screen only when its styles ask for it, not its text."""

    _typing = False

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, validate_on=())

    def _watch_value(self, value: str) -> None:
        self._typing = True
        try:
            super()._watch_value(value)
        finally:
            self._typing = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if self._typing and not self.styles.auto_dimensions:
            layout = False  # the text's width: the box's size does not follow it
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
