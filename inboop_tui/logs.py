"""The client's log file: errors that are bugs go here with their traceback, never to the screen."""

from __future__ import annotations

import logging

from inboop_tui.store.paths import Paths


def log_to_file(paths: Paths) -> None:
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(paths.log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
