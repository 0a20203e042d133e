"""What every command shares: the Typer app, one-line failures, the replica and the output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from inboop_tui import __version__
from inboop_tui.store.config import ClientConfig, ConfigError, load_config
from inboop_tui.store.db import ReplicaError, open_replica
from inboop_tui.store.door import ActionError, Identity
from inboop_tui.store.paths import Paths, resolve_paths
from inboop_tui.store.replica import Replica

app = typer.Typer(
    name="inboop",
    help="Inboop: the terminal inbox for Instagram, WhatsApp and Messenger DMs.",
    add_completion=False,
    invoke_without_command=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a line.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """One line on stderr (and, for a command run with --json, the same as JSON on stdout)."""
    typer.echo(f"inboop: {message}", err=True)
    if "--json" in sys.argv[1:]:
        typer.echo(json.dumps({"ok": False, "error": message}, ensure_ascii=False))
    return typer.Exit(code)


def load(paths: Paths) -> ClientConfig:
    try:
        return load_config(paths)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


def open_engine(paths: Paths) -> Engine:
    try:
        return open_replica(paths.database)
    except ReplicaError as exc:
        raise fail(str(exc)) from None


def identity_of(config: ClientConfig) -> Identity | None:
    if config.user_name is None:
        return None
    return Identity(config.user_name, config.role or "MEMBER")


def now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def replica() -> Iterator[Replica]:
    """The local replica as the signed-in user; refused actions and database trouble end
    the command with one line."""
    paths = resolve_paths()
    config = load(paths)
    engine = open_engine(paths)
    try:
        yield Replica(engine, identity_of(config), now)
    except ActionError as exc:
        raise fail(str(exc)) from None
    except ReplicaError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()


def emit(as_json: bool, data: Any, line: str) -> None:
    """One line for people, or JSON for scripts."""
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=None, default=str))
    else:
        typer.echo(line)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"inboop {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """With no command, open the app on the local replica."""
    if ctx.invoked_subcommand is None:
        from inboop_tui.cli.opening import open_app

        open_app(resolve_paths())
