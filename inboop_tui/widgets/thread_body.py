"""The thread's scrolling body, drawn line by line, rendered from the newest message up.

A conversation opens on up to 500 messages. Drawn as one ``Static``, every one of them was
wrapped twice on the UI thread before the first frame (once to measure the height, once to
render it): ~0.2 s for a long conversation. Here each part (a message, a note, a day's heading)
is rendered once, to lines of the body's width, and only as far up as the reader has reached:
a thread opens on the screenfuls at its end, and scrolling towards the top renders the parts
above before they come into view.

The parts not rendered yet are given the rendered ones' average height, so the scrollbar shows
the whole thread from the start. When they are rendered, the lines under the reader are kept
where they were: the view moves by the estimate's error. A scroll Textual asked for before that
(keys it defers until after the next refresh) is moved by as much when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

SCREENS_AHEAD = 2  # rendered beyond what is on screen, so that scrolling finds lines ready


class ThreadBody(ScrollView, can_focus=True):
    DEFAULT_CSS = "ThreadBody { height: 1fr; padding: 0 1; }"

    def __init__(self, parts: Sequence[RenderableType] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._parts = parts
        self._first = len(parts)  # the oldest part rendered: _lines are those of _parts[_first:]
        self._lines: list[Strip] = []
        self._heights: list[int] = []  # lines of each rendered part, oldest first
        self._above = 0  # lines estimated for the parts not rendered, above the rendered ones
        self._moved = 0  # lines the view has been moved by, as parts above were rendered
        self._width = 0  # that the lines were rendered at
        self._following = True  # at the newest line: stay there as lines come and go
        self._revealing = False  # rendering parts above: the scroll moves it makes are ours

    @property
    def content(self) -> RenderableType:
        """Everything the thread holds, rendered or not (what a reader would see, in full)."""
        return Group(*self._parts)

    def show(self, parts: Sequence[RenderableType], *, older: bool = False) -> None:
        """Show these parts, oldest first: at the newest line; or, for the same thread shown
        again while the reader is further up, where they were. With ``older`` (parts added
        above those shown, as a chat loads older messages), the view stays on the lines it
        shows, counted from the end, and the reader scrolls up into the older ones."""
        from_end = self._above + len(self._lines) - int(self.scroll_y)
        keep = None if self._following or older else (self._first, self._line_at_top())
        self._parts = parts
        self._first = len(parts)
        self._lines, self._heights = [], []
        self._width = self._content_width()
        if keep is not None:
            self._render_above(len(parts) - min(keep[0], len(parts)))
        self._render_above(0, lines=self._wanted() + (from_end if older else 0))
        self._sized()
        self._following = keep is None and not older
        if older:
            y = self._above + len(self._lines) - from_end
        else:
            y = self.max_scroll_y if keep is None else self._above + keep[1]
        self._scroll(y)
        self.refresh()

    def clear(self) -> None:
        """Nothing shown; what is shown next opens at its newest line."""
        self._following = True
        self.show(())

    # --- rendering --------------------------------------------------------------------------

    def _content_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _wanted(self) -> int:
        return (SCREENS_AHEAD + 1) * max(self.scrollable_content_region.height, 10)

    def _line_at_top(self) -> int:
        """The rendered line at the top of the view (0 while the view is above them)."""
        return max(0, int(self.scroll_y) - self._above)

    def _render_above(self, parts: int, *, lines: int = 0) -> int:
        """Render ``parts`` more parts above those rendered, and more until ``lines`` lines
        are rendered in all (or none is left); returns the lines added."""
        console = self.app.console
        options = console.options.update_width(self._width)
        added: list[Strip] = []
        heights: list[int] = []
        first = self._first
        while first > 0 and (parts > 0 or len(self._lines) + len(added) < lines):
            first -= 1
            parts -= 1
            rendered = [
                Strip(line, self._width)
                for line in console.render_lines(self._parts[first], options, pad=True)
            ]
            added[:0] = rendered
            heights.insert(0, len(rendered))
        self._first = first
        self._lines[:0] = added
        self._heights[:0] = heights
        return len(added)

    def _sized(self) -> None:
        average = len(self._lines) / len(self._heights) if self._heights else 1.0
        self._above = round(self._first * average)
        self.virtual_size = Size(self._width, self._above + len(self._lines))

    # --- scrolling --------------------------------------------------------------------------

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._revealing:
            return
        height = self.scrollable_content_region.height
        if self._first and new < self._above + height * SCREENS_AHEAD:
            self._reveal_above(int(new))
        self._following = self.scroll_y >= self.max_scroll_y

    def _reveal_above(self, y: int) -> None:
        """Render the parts above that the view at ``y`` is near or in, keeping the view on the
        lines it shows (in the estimated space above: on the part that would be there)."""
        self._revealing = True
        try:
            animator = self.app.animator
            if animator.is_being_animated(self, "scroll_y"):
                # Its end is in the lines' old places: it is taken now, then moved with them.
                animator.force_stop_animation(self, "scroll_y")
                y = int(self.scroll_y)
            before, rendered = self._above, len(self._lines)
            if y < self._above:  # a jump (the scrollbar dragged) into lines not rendered yet
                part = int(y / (self._above / self._first))  # the part the estimate puts there
                self._render_above(self._first - part)
                self._render_above(0, lines=len(self._lines) + self._wanted())
                self._sized()
                to = self._above + self._part_start(part)
            else:
                self._render_above(0, lines=len(self._lines) + self._wanted())
                self._sized()
                to = None
            # Where the lines rendered before now are, against where they were.
            moved = self._above + len(self._lines) - rendered - before
            self._moved += moved
            self._scroll(self.scroll_y + moved if to is None else to)
        finally:
            self._revealing = False

    def _part_start(self, part: int) -> int:
        """The line, among those rendered, where part number ``part`` begins."""
        return sum(self._heights[: part - self._first])

    def scroll_to(
        self,
        x: float | None = None,
        y: float | None = None,
        *,
        immediate: bool = False,
        **options: Any,
    ) -> None:
        """As Textual's, but a scroll deferred until after the next refresh (as keys ask for)
        lands on the lines it was aimed at, even if parts were rendered above meanwhile."""
        if y is None or immediate:
            super().scroll_to(x, y, immediate=immediate, **options)
            return
        moved, scroll_now = self._moved, super().scroll_to

        def scroll() -> None:
            scroll_now(x, y + self._moved - moved, immediate=True, **options)

        self.call_after_refresh(scroll)

    def _scroll(self, y: float) -> None:
        # Forced: a body that had no scrollbar (a short thread) would ignore it until one shows.
        super().scroll_to(y=y, animate=False, immediate=True, force=True)

    def action_scroll_home(self) -> None:
        """Home is the thread's first line: everything above is rendered first."""
        self._revealing = True
        try:
            self._render_above(self._first)
            self._sized()
        finally:
            self._revealing = False
        super().action_scroll_home()

    def on_resize(self, event: Resize) -> None:
        self._fit_width()

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        self._fit_width()  # the scrollbar takes its columns from the lines without a Resize

    def _fit_width(self) -> None:
        """Render again at the body's width, from the line at the top of the view."""
        width = self._content_width()
        if width == self._width:
            if self._following:
                self._scroll(self.max_scroll_y)
            return
        top, line = self._first, self._line_at_top()
        for height in self._heights:
            if line < height:
                break
            line -= height
            top += 1
        following, count = self._following, len(self._parts) - top
        self._width = width
        self._first, self._lines, self._heights = len(self._parts), [], []
        self._render_above(count, lines=self._wanted())
        self._sized()
        if following:
            self._scroll(self.max_scroll_y)
        elif top < len(self._parts):  # as many lines into that part as it still has
            part = top - self._first
            self._scroll(self._above + self._part_start(top) + min(line, self._heights[part] - 1))
        self._following = following

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_y) + y - self._above
        base = self.rich_style
        if not 0 <= index < len(self._lines):
            return Strip.blank(self._content_width(), base)
        return self._lines[index].apply_style(base)
