"""``inboop``: the agent's CLI. With no command it opens the app."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from inboop_tui import __version__
from inboop_tui.logs import log_to_file
from inboop_tui.store.config import ClientConfig, ConfigError, load_config, save_config
from inboop_tui.store.db import ReplicaError, open_replica
from inboop_tui.store.export import ExportFilter, ExportFormat, ExportKind
from inboop_tui.store.paths import Paths, resolve_paths
from relay.protocol import Channel, format_time

app = typer.Typer(
    name="inboop",
    help="Inboop: the terminal inbox for Instagram, WhatsApp and Messenger DMs.",
    add_completion=False,
    invoke_without_command=True,
)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"inboop: {message}", err=True)
    return typer.Exit(code)


def _config(paths: Paths) -> ClientConfig:
    try:
        return load_config(paths)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


def _engine(paths: Paths) -> Engine:
    try:
        return open_replica(paths.database)
    except ReplicaError as exc:
        raise fail(str(exc)) from None


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
        open_app(resolve_paths())


def open_app(paths: Paths) -> None:
    from inboop_tui.app import create_app

    log_to_file(paths)
    _config(paths)  # a broken config file is reported here, not inside the app
    engine = _engine(paths)
    try:
        create_app(paths, engine).run()
    finally:
        engine.dispose()


@app.command()
def login(
    relay_url: Annotated[
        str, typer.Argument(help="The relay's address, e.g. https://relay.example.com")
    ],
    token: Annotated[
        str, typer.Option("--token", help="Your personal token from `inboop-relay users add`.")
    ],
) -> None:
    """Check a token against a relay and remember both (the config file is private: 0600)."""
    from inboop_tui.sync.client import RelayClient, SyncError

    paths = resolve_paths()
    try:
        with RelayClient(relay_url, token) as client:
            me = client.me()
            url = client.base_url
    except SyncError as exc:
        raise fail(f"login failed: {exc}") from None
    save_config(paths, ClientConfig(relay_url=url, token=token, user_name=me["name"]))
    typer.echo(
        f"logged in to {url} as {me['name']} ({me.get('role', 'MEMBER')}); run `inboop sync` to pull"
    )


@app.command()
def sync(
    timeout: Annotated[
        float, typer.Option(help="Give up after this many seconds of retrying.")
    ] = 30.0,
    batch_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Events per request and per transaction.")
    ] = 500,
) -> None:
    """Pull new events from the relay into the local replica."""
    from inboop_tui.sync.engine import sync as run_sync

    paths = resolve_paths()
    log_to_file(paths)
    config = _config(paths)
    engine = _engine(paths)
    try:
        with _progress() as progress:
            outcome = run_sync(engine, config, timeout=timeout, batch=batch_size, progress=progress)
    finally:
        engine.dispose()
    if not outcome.ok:
        raise fail(f"sync failed: {outcome.error}")
    typer.echo(
        f"synced {outcome.pulled:,} new events in {outcome.seconds:.1f}s; replica at {outcome.cursor:,} of {outcome.head:,}"
    )


class _progress:
    """A progress bar on a terminal when there is much to pull; nothing otherwise."""

    THRESHOLD = 2000

    def __enter__(self) -> _progress:
        self._bar = None
        self._task = None
        return self

    def __call__(self, cursor: int, head: int) -> None:
        if self._bar is None:
            if not sys.stderr.isatty() or head - cursor < self.THRESHOLD:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._bar = Progress(
                "pulling",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.start()
            self._task = self._bar.add_task("pull", total=head)
        self._bar.update(self._task, completed=cursor, total=head)

    def __exit__(self, *_exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _time_option(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"{name} {value!r} is not a date or time, e.g. 2026-11-01 or 2026-11-01T09:30:00Z", 2
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return format_time(parsed)


@app.command()
def export(
    kind: Annotated[ExportKind, typer.Argument(help="What to export.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or jsonl.")] = ExportFormat.CSV,
    channel: Annotated[
        Channel | None, typer.Option(help="Only this channel.", case_sensitive=False)
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC), inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date/time (UTC).")] = None,
) -> None:
    """Export conversations or messages from the local replica (read-only)."""
    from inboop_tui.store.export import export as run_export

    paths = resolve_paths()
    f = ExportFilter(
        channel=channel.value if channel else None,
        since=_time_option(since, "--since"),
        until=_time_option(until, "--until"),
    )
    engine = _engine(paths)
    try:
        with engine.connect() as conn:
            written = run_export(conn, kind, out, fmt=fmt, f=f)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        engine.dispose()
    typer.echo(f"wrote {written:,} {kind.value} to {out}")


@app.command()
def doctor(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute every projection from the local log.")
    ] = False,
) -> None:
    """Check the local replica; with --rebuild, recompute it from its copy of the log."""
    from inboop_tui.store.queries import recent_sync_runs, sync_status
    from inboop_tui.store.rebuild import rebuild as run_rebuild

    paths = resolve_paths()
    config = _config(paths)
    engine = _engine(paths)
    try:
        with engine.connect() as conn:
            status = sync_status(conn)
        typer.echo(f"replica: {paths.database}")
        typer.echo(
            f"relay: {config.relay_url or 'not configured'}; user: {config.user_name or '-'}"
        )
        typer.echo(f"log: {status.cursor:,} events applied, relay head {status.relay_head:,}")
        typer.echo(f"last successful sync: {status.last_ok_at or 'never'}")
        if status.last_error:
            typer.echo(f"last sync failed: {status.last_error}")
        with engine.connect() as conn:
            runs = recent_sync_runs(conn, limit=5)
        if runs:
            typer.echo("recent syncs:")
        for run in runs:
            result = f"ok, {run.pulled:,} events" if run.ok else f"failed: {run.error}"
            typer.echo(f"  {run.finished_at or run.started_at}  {result}")
        if rebuild:
            report = run_rebuild(engine)
            if report.identical:
                typer.echo(f"rebuilt from {report.events:,} events: projections identical")
            else:
                typer.echo(
                    f"rebuilt from {report.events:,} events: {', '.join(report.differing)} differed and were repaired"
                )
                raise typer.Exit(1)
    finally:
        engine.dispose()


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="How many simulated customers.")] = 24,
    keep: Annotated[bool, typer.Option(help="Keep the demo's files after it ends.")] = False,
) -> None:
    """A local relay, simulated customers on all three channels, and the app: no setup."""
    from inboop_tui.demo import DemoError, run_demo

    try:
        run_demo(customers=customers, keep=keep)
    except DemoError as exc:
        raise fail(str(exc)) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
