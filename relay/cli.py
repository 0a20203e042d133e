"""``inboop-relay``: the server and its admin commands."""

from __future__ import annotations

import errno
import gc
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import DBAPIError

from relay import __version__
from relay.settings import RelaySettings, SettingsError, load_settings
from relay.store.dialect import (
    DatabaseURLError,
    Engines,
    create_engines,
    driver_url,
    first_line,
    sqlite_path,
)
from relay.store.migrate import DatabaseTooNew, upgrade_to_head

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
        help="A database URL (sqlite:////srv/relay.db, postgresql://…) or a SQLite file's path "
        "(default: INBOOP_RELAY_DATABASE_URL, else relay.db in INBOOP_RELAY_HOME).",
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"inboop-relay: {message}", err=True)
    return typer.Exit(code)


def _settings(database: str | None) -> RelaySettings:
    try:
        if database:
            return load_settings(relay_database_url=database)
        return load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None


def _with_database(
    database: str | None, work: Callable[[Engines], T], *, must_exist: bool = True
) -> T:
    """Run ``work`` on the migrated database; every database problem is one line. Only
    ``must_exist=False`` commands (adding the first user) may create a new SQLite file."""
    settings = _settings(database)
    try:
        engines = create_engines(settings.database_url, must_exist=must_exist)
        try:
            upgrade_to_head(engines.writer)
            return work(engines)
        finally:
            engines.dispose()
    except (DatabaseURLError, DatabaseTooNew) as exc:
        raise fail(str(exc)) from None
    except DBAPIError as exc:
        raise fail(database_problem(exc)) from None


def database_problem(exc: DBAPIError) -> str:
    """A driver's error as one line (the first line of its message), with what to do for the
    ones an operator can act on."""
    said = first_line(exc)
    text = said.lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            f"the relay's database is damaged ({said}): stop the relay and put the last backup "
            "in its place with `inboop-relay restore BACKUP_FILE`"
        )
    if "readonly" in text or "read-only" in text:
        return (
            f"the relay's database is read-only ({said}): give the relay's user write access to "
            "the database and its folder (systemd: ReadWritePaths)"
        )
    if "full" in text or "disk i/o" in text or "no space" in text:
        return f"the relay's disk is full or failing ({said}): free some space and start it again"
    return f"database error: {said}"


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
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Take the client's address and scheme from X-Forwarded-For/-Proto, sent by "
            "a reverse proxy at one of --forwarded-allow-ips (on by default: this machine).",
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(help="The reverse proxies trusted for those headers, comma-separated."),
    ] = "127.0.0.1",
) -> None:
    """Run the relay: webhooks at /webhooks/meta, the API at /v1, /healthz, /readyz and
    /metrics for operators."""
    from relay.app import create_app

    settings = _settings(database)
    try:
        relay_app = create_app(settings)
        driver_url(settings.database_url)  # checks the URL before the server starts
    except (SettingsError, DatabaseURLError) as exc:
        raise fail(str(exc)) from None
    with _serving(settings):
        # Migrate here, before the server starts: a problem is one line, not a failed lifespan.
        _with_database(database, lambda engines: None, must_exist=False)
        listening = _listen(host, port)
        _run(relay_app, listening, host, port, settings, proxy_headers, forwarded_allow_ips)


@contextmanager
def _serving(settings: RelaySettings) -> Iterator[None]:
    """One relay per SQLite file: a second one (or a restore) is refused while this runs."""
    from relay.operate import OperateError, serving_lock

    path = sqlite_path(driver_url(settings.database_url))
    if path is None:
        yield
        return
    with ExitStack() as stack:
        try:
            held = stack.enter_context(serving_lock(path, wait=False))
        except OperateError as exc:
            raise fail(str(exc)) from None
        if not held:
            raise fail(f"another relay is already serving {path}: stop it first")
        yield


def _run(
    relay_app: Any,
    listening: socket.socket,
    host: str,
    port: int,
    settings: RelaySettings,
    proxy_headers: bool,
    forwarded_allow_ips: str,
) -> None:
    import uvicorn

    from relay.logs import configure_logging

    configure_logging(settings.relay_log_level)
    config = uvicorn.Config(
        relay_app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips if proxy_headers else None,
    )

    class RelayServer(uvicorn.Server):
        """Uvicorn, plus: on SIGTERM/SIGINT, long-polls answer at once instead of holding the exit;
        and what start-up made is kept out of the cyclic collector's passes."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            # The modules, the app and its engines live as long as the relay. Left in the
            # collector's oldest generation, each full pass walked them all (~140k objects,
            # ~75 ms with the event loop stopped: a delivery's answer waited that long).
            gc.collect()
            gc.freeze()

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            state = getattr(relay_app.state, "relay", None)
            if state is not None:
                state.notifier.close()
            super().handle_exit(sig, frame)

    RelayServer(config).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port or a wrong address is one line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise fail(f"--host {host}: not an address of this machine") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise fail(
                f"port {port} on {host} is already in use (another relay?): stop it, "
                "or choose another --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise fail(
                f"not allowed to listen on port {port}: use a port above 1023 behind a "
                "reverse proxy (see docs/self-hosting.md)"
            ) from None
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


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
        token = _with_database(database, work, must_exist=False)
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


@app.command("check")
def check_command(database: DatabaseOption = None) -> None:
    """Check the settings, secrets, database, migrations and data dir; change nothing. Exits
    non-zero when the relay would not start or not work."""
    from relay.operate import check

    report = check(_settings(database))
    for kind, said in report.lines:
        typer.echo(f"{kind:<5} {said}")
    if report.failures:
        raise fail(
            f"{report.failures} problem{'s' if report.failures > 1 else ''}: fix "
            f"{'them' if report.failures > 1 else 'it'} before starting the relay",
            code=1,
        )
    typer.echo("the relay is ready to start")


@app.command("backup")
def backup_command(
    out: Annotated[
        str,
        typer.Option(
            "--out",
            help="The backup file, or a folder (an existing one, or ending in /): a new "
            "relay-<UTC time>.db in it.",
        ),
    ],
    database: DatabaseOption = None,
) -> None:
    """A consistent copy of the relay's database, taken while it runs (SQLite)."""
    from relay.operate import OperateError, backup

    settings = _settings(database)
    try:
        copied = backup(settings, Path(out), folder=out.endswith(("/", os.sep)))
    except (OperateError, DatabaseURLError) as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"backed up the log up to seq {copied.head:,} to {copied.path} ({copied.size:,} bytes)"
    )


@app.command("restore")
def restore_command(
    backup_file: Annotated[Path, typer.Argument(help="A file made by `inboop-relay backup`.")],
    database: DatabaseOption = None,
) -> None:
    """Put a backup in place of the relay's database; the relay must be stopped. The database
    it replaces is kept beside it."""
    from relay.operate import OperateError, restore

    settings = _settings(database)
    try:
        copied, before, kept = restore(settings, backup_file)
    except (OperateError, DatabaseURLError, DatabaseTooNew) as exc:
        raise fail(str(exc)) from None
    except DBAPIError as exc:
        raise fail(database_problem(exc)) from None
    typer.echo(f"restored {backup_file}: the log now ends at seq {copied.head:,}")
    if kept is not None:
        typer.echo(f"the database it replaced (log up to seq {before or 0:,}) is kept as {kept}")
    if before is not None and before > copied.head:
        typer.echo(
            f"agents whose app pulled past seq {copied.head:,} are told to run "
            "`inboop sync --resync`; their unsynced changes are kept"
        )


@app.command("migrate-store")
def migrate_store_command(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The new database's URL, e.g. postgresql://relay@db.internal/relay."
        ),
    ],
    database: DatabaseOption = None,
) -> None:
    """Copy a stopped SQLite relay into PostgreSQL and check the copy (rows per table, the log
    head). Safe to run again; then point INBOOP_RELAY_DATABASE_URL at the new database."""
    from relay.operate import OperateError, migrate_store

    settings = _settings(database)
    try:
        moved = migrate_store(settings, to)
    except (OperateError, DatabaseURLError, DatabaseTooNew) as exc:
        raise fail(str(exc)) from None
    except DBAPIError as exc:
        raise fail(database_problem(exc)) from None
    total = sum(moved.rows.values())
    typer.echo(
        f"copied {total:,} rows in {len(moved.rows)} tables; the log is at seq {moved.head:,} "
        "on both. Set INBOOP_RELAY_DATABASE_URL to the new database and start the relay."
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
