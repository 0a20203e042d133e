"""``inboop``: the agent's CLI. With no command it opens the app.

Every action in the app is a command here too, working offline the same way (the change is
queued and pushed at the next sync), printing one line, or JSON with ``--json``.
"""

from __future__ import annotations

from inboop_tui.cli import inbox, media, replies, selling, setup  # noqa: F401  (they add their commands)
from inboop_tui.cli.common import app


def main() -> None:
    app()


__all__ = ["app", "main"]
