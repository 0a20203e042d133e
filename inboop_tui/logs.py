"""The client's log file: errors that are bugs go here with their traceback, never to the screen."""

from __future__ import annotations

import logging

from inboop_tui.store.paths import Paths, private_file


def log_to_file(paths: Paths) -> None:
    """Send the process's log to the log file (owner-only: it names customers). Where the file
    cannot be written (a read-only disk), the log goes nowhere rather than stopping the app."""
    try:
        private_file(paths.log_file)
        handler = logging.FileHandler(paths.log_file, encoding="utf-8")
    except OSError:
        logging.getLogger().handlers[:] = [logging.NullHandler()]
        return
    logging.raiseExceptions = False  # a full disk must not print a traceback about the log
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
