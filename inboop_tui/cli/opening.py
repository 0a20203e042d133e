"""``inboop`` with no command: the app on the local replica.

This path imports neither Typer nor the commands, nor SQLAlchemy (the replica's file is opened
and its first screen read on the driver's connections: ``store.replica_file``,
``store.first_screen``): the app's start is what an agent waits for every time. Its two
failures before the app (a config file it cannot read, a replica it cannot open) end with the
same one line and exit code as every command's.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from inboop_tui.store.paths import Paths


def open_app(paths: Paths) -> None:
    from inboop_tui.app import create_app
    from inboop_tui.logs import log_to_file
    from inboop_tui.store.config import ConfigError, load_config
    from inboop_tui.store.replica_file import ReplicaError, open_replica_file
    from inboop_tui.widgets.picture import detect_graphics

    log_to_file(paths)
    try:
        load_config(paths)  # a broken config file is reported here, not inside the app
    except ConfigError as exc:
        _fail(str(exc), 2)
    try:
        replica = open_replica_file(paths.database)
    except ReplicaError as exc:
        _fail(str(exc), 1)
    try:
        create_app(paths, replica, graphics=detect_graphics()).run()
    finally:
        replica.close()


def _fail(message: str, code: int) -> NoReturn:
    print(f"inboop: {message}", file=sys.stderr)
    raise SystemExit(code)
