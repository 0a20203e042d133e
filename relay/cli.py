"""``inboop-relay``: the server and its admin commands."""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType
from typing import Annotated, TypeVar

import typer
from sqlalchemy.exc import DBAPIError

from relay import __version__
from relay.settings import RelaySettings, SettingsError
from relay.store.dialect import DatabaseURLError, Engines, create_engines, driver_url
from relay.store.migrate import upgrade_to_head

app = typer.Typer(
    name="inboop-relay",
    help="The Inboop relay: receives Meta webhooks into one ordered event log and serves it to agents.",
    no_args_is_help=True,
    add_completion=False,
)
users_app = typer.Typer(help="Manage users and their tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")

T = TypeVar("T")

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (default: INBOOP_RELAY_DATABASE_URL or a SQLite file in INBOOP_RELAY_HOME).",
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"inboop-relay: {message}", err=True)
    return typer.Exit(code)


def _settings(database: str | None) -> RelaySettings:
    settings = RelaySettings()
    if database:
        settings = settings.model_copy(update={"relay_database_url": database})
    return settings


def _with_database(database: str | None, work: Callable[[Engines], T]) -> T:
    settings = _settings(database)
    try:
        engines = create_engines(settings.database_url)
        try:
            upgrade_to_head(engines.writer)
            return work(engines)
        finally:
            engines.dispose()
    except DatabaseURLError as exc:
        raise fail(str(exc)) from None
    except DBAPIError as exc:
        raise fail(f"database error: {exc.orig}") from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"inboop-relay {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """The Inboop relay."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    database: DatabaseOption = None,
) -> None:
    """Run the relay: webhooks at /webhooks/meta, the API at /v1, health at /healthz."""
    import uvicorn

    from relay.app import create_app
    from relay.logs import configure_logging

    settings = _settings(database)
    try:
        relay_app = create_app(settings)
        driver_url(settings.database_url)  # checks the URL before the server starts
    except (SettingsError, DatabaseURLError) as exc:
        raise fail(str(exc)) from None
    configure_logging(settings.relay_log_level)
    config = uvicorn.Config(
        relay_app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )

    class RelayServer(uvicorn.Server):
        """Uvicorn, plus: on SIGTERM/SIGINT, long-polls answer at once instead of holding the exit."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            state = getattr(relay_app.state, "relay", None)
            if state is not None:
                state.notifier.close()
            super().handle_exit(sig, frame)

    RelayServer(config).run()


@users_app.command("add")
def users_add(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="Give the user the ADMIN role.")] = False,
    database: DatabaseOption = None,
) -> None:
    """Create a user. The token is printed once, alone on the last line."""
    from relay.users import UserError, add_user

    def work(engines: Engines) -> str:
        with engines.writer.begin() as conn:
            return add_user(conn, name, admin=admin)

    try:
        token = _with_database(database, work)
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"created {'ADMIN' if admin else 'MEMBER'} user {name}; their token (shown only now):",
        err=True,
    )
    typer.echo(token)


@users_app.command("list")
def users_list(database: DatabaseOption = None) -> None:
    """List users with their role and state."""
    from relay.users import User, list_users

    def work(engines: Engines) -> list[User]:
        with engines.reader.connect() as conn:
            return list_users(conn)

    found = _with_database(database, work)
    if not found:
        typer.echo("no users yet: add one with `inboop-relay users add NAME`")
        return
    for user in found:
        state = f"revoked {user.revoked_at}" if user.revoked_at else "active"
        typer.echo(f"{user.name}\t{user.role}\t{state}\tcreated {user.created_at}")


@users_app.command("revoke")
def users_revoke(name: str, database: DatabaseOption = None) -> None:
    """Revoke a user's token: the relay answers it with 401 from now on."""
    from relay.users import UserError, revoke_user

    def work(engines: Engines) -> None:
        with engines.writer.begin() as conn:
            revoke_user(conn, name)

    try:
        _with_database(database, work)
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"revoked {name}")


@app.command("reprocess")
def reprocess_command(
    since: Annotated[
        str | None,
        typer.Option(help="Only deliveries received at or after this ISO-8601 UTC time."),
    ] = None,
    failed_only: Annotated[
        bool, typer.Option("--failed-only", help="Only deliveries that had failures.")
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Re-normalise kept deliveries, appending only events the log does not have yet."""
    from relay.reprocess import ReprocessSummary, reprocess

    def work(engines: Engines) -> ReprocessSummary:
        return reprocess(engines.writer, since=_since(since), only_failed=failed_only)

    summary = _with_database(database, work)
    typer.echo(
        f"reprocessed {summary.deliveries} deliveries: {summary.appended} new events, "
        f"{summary.still_failing} deliveries still with failures"
    )


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    from datetime import datetime

    from relay.protocol import format_time

    try:
        return format_time(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise fail(
            f"--since {value!r} is not an ISO-8601 time, e.g. 2026-11-25T10:00:00Z"
        ) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
