"""The line above a list that says what it shows: its count, filters and search.

It changes with every key typed in a search and every count. A ``Static``'s update lays out
the whole screen (every widget painted again, 3 to 5 ms at 120x40) in case its height
changed; this line's height changes only when its text needs another number of lines, so
otherwise it repaints itself alone.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class FilterLine(Static):
    _shape: tuple[int, int] | None = None  # the width it was laid out at, and its lines

    def show(self, text: Text) -> None:
        self.update(text, layout=False)
        self.clear_cached_dimensions()
        width = self.content_region.width
        lines = self.get_content_height(self.size, self.app.size, width)
        shape = (width, lines) if width > 0 else None
        if shape is None or shape != self._shape:
            self.refresh(layout=True)
        self._shape = shape
