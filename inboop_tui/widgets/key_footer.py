"""The key line at the bottom of every screen: Textual's footer, rebuilt only when what it
shows has changed.

Textual's footer throws its keys away and builds them again on every bindings update: each
focus change and each screen change, whether or not a key it shows came or went. The inbox's
start made six such updates with the same fifteen keys, ~80 ms of its first screen.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A footer that skips a rebuild when the keys it would show are the ones it shows."""

    _shown: tuple[Hashable, ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = shown_keys(screen)
        if shown == self._shown:
            return
        super().bindings_changed(screen)
        if self.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # the rebuild is on its way


def shown_keys(screen: Screen[object]) -> tuple[Hashable, ...]:
    """What a footer draws from ``screen``'s bindings: each shown key with its label, action
    and state, and the command palette's key."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (key, binding.description, binding.action, enabled, tooltip)
        for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )
