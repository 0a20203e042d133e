"""``inboop``: the agent's CLI. With no command it opens the app.

Every action in the app is a command here too, working offline the same way (the change is
queued and pushed at the next sync), printing one line, or JSON with ``--json``.
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    # Start-up makes objects that live as long as the process (modules, classes, the first
    # screen), and the cyclic collector would walk them over and over while they are made
    # (~45 ms of the app's start). It stays off until they are made; then they are frozen out
    # of its passes (the app does this once its first screen is drawn).
    gc.disable()
    if len(sys.argv) == 1:
        from inboop_tui.cli.opening import open_app
        from inboop_tui.store.paths import resolve_paths

        open_app(resolve_paths())
        return
    from inboop_tui.cli import inbox, media, replies, selling, setup  # noqa: F401  (they add their commands)
    from inboop_tui.cli.common import app

    gc.freeze()
    gc.enable()
    app()


__all__ = ["main"]
