"""The key line at the bottom of every screen: the screen's shown keys and the command palette's,
drawn as one line of text.

Textual's footer mounts a widget per key (fifteen on the inbox) and builds them all again on
every bindings update: each focus change and each screen change, whether or not a key came or
went. Mounting and styling those widgets was ~40 ms of the inbox's first screen. This widget
draws the same line from the same bindings, redraws only when what it shows has changed, and
keeps what the keys did: a click presses the key, a disabled key is dim and rings the bell,
the pointer lights the key under it. Keys that do not fit are left out whole, never cut.

Not kept from Textual's footer, as nothing here uses them: scrolling the line sideways to keys
that do not fit, a key's tooltip, and binding groups drawn under one label.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class ShownKey(NamedTuple):
    """One key on the line, as drawn: ``key`` is what a click presses."""

    key: str
    display: str
    description: str
    enabled: bool


class KeyFooter(Widget, can_focus=False):
    """The screen's shown keys on one line, the command palette's key at the right."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "key-footer--key",
        "key-footer--description",
        "key-footer--disabled",
        "key-footer--hover",
        "key-footer--separator",
    }
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        pointer: pointer;
        color: $footer-foreground;
        background: $footer-background;
        & > .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .key-footer--disabled {
            text-style: dim;
        }
        & > .key-footer--hover {
            background: $block-hover-background;
        }
        & > .key-footer--separator {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keys: tuple[ShownKey, ...] = ()
        self.palette: ShownKey | None = None
        self._hover: ShownKey | None = None
        # Each drawn key's cells on the line, for the pointer: (start, end, key).
        self._spans: list[tuple[int, int, ShownKey]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        # As Textual's footer: with the terminal unfocused the bindings are not the agent's.
        if not self.is_attached or not self.app.app_focus or screen is not self.screen:
            return
        keys, palette = shown_keys(screen)
        if (keys, palette) != (self.keys, self.palette):
            self.keys, self.palette = keys, palette
            self.refresh()

    def render(self) -> Text:
        width = self.size.width
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        # Only what these two add (dim, a background): a key keeps its own colours under them.
        disabled = self.get_component_rich_style("key-footer--disabled", partial=True)
        hover = self.get_component_rich_style("key-footer--hover", partial=True)

        def style(base: Style, shown: ShownKey) -> Style:
            if not shown.enabled:
                base += disabled
            return base + hover if shown == self._hover else base

        right = Text()
        if self.palette is not None:
            right.append("▏", self.get_component_rich_style("key-footer--separator"))
            right.append(self.palette.display, style(key_style, self.palette))
            right.append(f" {self.palette.description} ", style(description_style, self.palette))
        room = width - right.cell_len
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, ShownKey]] = []
        for shown in self.keys:
            key = f" {shown.display} "
            description = f"{shown.description} " if shown.description else ""
            cells = cell_len(key) + cell_len(description)
            # Whole keys only (a key cut in half says nothing); the last may lose its space.
            if line.cell_len + cells - 1 > room:
                break
            spans.append((line.cell_len, min(line.cell_len + cells, room), shown))
            line.append(key, style(key_style, shown))
            line.append(description, style(description_style, shown))
        line.truncate(max(room, 0))
        if self.palette is not None and room >= 0:
            line.append(" " * (room - line.cell_len))
            spans.append((room, width, self.palette))
            line.append_text(right)
        line.stylize_before(self.rich_style)
        self._spans = spans
        return line

    def key_at(self, x: int) -> ShownKey | None:
        """The key drawn at cell ``x`` of the line, if any."""
        for start, end, shown in self._spans:
            if start <= x < end:
                return shown
        return None

    def on_mouse_down(self, event: events.MouseDown) -> None:
        shown = self.key_at(event.x)
        if shown is None:
            return
        if shown.enabled:
            self.app.simulate_key(shown.key)
        else:
            self.app.bell()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self.key_at(event.x))

    def on_leave(self, event: events.Leave) -> None:
        self._set_hover(None)

    def _set_hover(self, shown: ShownKey | None) -> None:
        if shown != self._hover:
            self._hover = shown
            self.refresh()


def shown_keys(screen: Screen[object]) -> tuple[tuple[ShownKey, ...], ShownKey | None]:
    """What the line draws from ``screen``'s bindings: the shown keys, the first of each action
    (as Textual's footer), and the command palette's key."""
    app = screen.app
    keys: dict[str, ShownKey] = {}
    palette = None
    for key, (_, binding, enabled, _tooltip) in screen.active_bindings.items():
        shown = ShownKey(key, app.get_key_display(binding), binding.description, enabled)
        if key == app.COMMAND_PALETTE_BINDING:
            palette = shown if app.ENABLE_COMMAND_PALETTE else None
        elif binding.show:
            keys.setdefault(binding.action, shown)
    return tuple(keys.values()), palette
