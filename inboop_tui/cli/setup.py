"""Setting up and keeping the replica: ``login``, ``sync``, ``export``, ``doctor``, ``demo``."""

from __future__ import annotations

import dataclasses
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError

from inboop_tui.cli.common import JsonOption, app, emit, fail, load, open_engine
from inboop_tui.logs import log_to_file
from inboop_tui.store.config import ClientConfig, ConfigError, save_config
from inboop_tui.store.db import ReplicaError, explain, search_index_damaged
from inboop_tui.store.export import ExportFilter, ExportFormat, ExportKind
from inboop_tui.store.paths import Paths, resolve_paths
from inboop_tui.store.replica import Diagnostics, Replica
from relay.protocol import Channel, format_time

if TYPE_CHECKING:  # it loads the wire format's models: the commands that sync import it
    from inboop_tui.sync.engine import SyncOutcome


@app.command()
def login(
    relay_url: Annotated[
        str, typer.Argument(help="The relay's address, e.g. https://relay.example.com")
    ],
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="Read your token from this file (- for standard input).",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Your token on the command line (it stays in your shell's history and shows in "
            "`ps`: prefer the prompt or --token-file).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check your token (from `inboop-relay users add`) against a relay and remember both. The
    token is asked for without echoing it, or read from --token-file or piped standard input.
    The config file is private (0600)."""
    from inboop_tui.sync.client import RelayClient, SyncError, normalise_url, talks_privately

    paths = resolve_paths()
    try:
        url = normalise_url(relay_url)
    except SyncError as exc:
        raise fail(f"login failed: {exc}") from None
    if not talks_privately(url):
        typer.echo(
            f"inboop: warning: {url} is plain http, so your token and your customers' messages "
            "would cross the network in clear text; use https:// (or an SSH tunnel to loopback)",
            err=True,
        )
    secret = _read_token(token, token_file)
    try:
        with RelayClient(url, secret) as client:
            me = client.me()
            url = client.base_url
    except SyncError as exc:
        raise fail(f"login failed: {exc}") from None
    role = "ADMIN" if me.get("role") == "ADMIN" else "MEMBER"
    previous = load(paths)
    try:
        save_config(
            paths,
            ClientConfig(
                relay_url=url, token=secret, user_name=me["name"], role=role, bell=previous.bell
            ),
        )
    except ConfigError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"logged in to {url} as {me['name']} ({me.get('role', 'MEMBER')}); run `inboop sync` to pull"
    )


def _read_token(given: str | None, file: Path | None) -> str:
    """The token from the option, the file, a prompt that does not echo it, or piped input."""
    if given is not None and file is not None:
        raise fail("give the token one way: --token or --token-file", 2)
    if given is not None:
        text = given
    elif file is not None:
        try:
            text = sys.stdin.readline() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(
                f"cannot read the token from {file}: {getattr(exc, 'strerror', None) or exc}", 2
            ) from None
    elif sys.stdin.isatty():
        text = typer.prompt("Token", hide_input=True, default="", show_default=False)
    else:
        text = sys.stdin.readline()
    secret = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise fail(
            "no token given: paste it at the prompt, or use --token-file FILE (- for standard input)",
            2,
        )
    return secret


@app.command()
def sync(
    timeout: Annotated[
        float, typer.Option(help="Give up after this many seconds of retrying.")
    ] = 30.0,
    batch_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Events per request and per transaction.")
    ] = 500,
    resync: Annotated[
        bool,
        typer.Option(
            "--resync",
            help="Rebuild the replica from the relay (after the relay was restored from a "
            "backup). Unsynced changes are kept and pushed.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Push your queued changes, then pull new events from the relay into the local replica."""
    from inboop_tui.sync.engine import sync as run_sync

    paths = resolve_paths()
    log_to_file(paths)
    config = load(paths)
    engine = open_engine(paths)
    retrying = _Retrying()
    try:
        with _progress() as progress:
            outcome = run_sync(
                engine,
                config,
                timeout=timeout,
                batch=batch_size,
                progress=progress,
                on_retry=retrying,
                resync=resync,
            )
    finally:
        retrying.done()
        engine.dispose()
    for rejection in outcome.rejected:
        typer.echo(
            f"inboop: the relay rejected a change ({rejection.type}): {rejection.reason}", err=True
        )
    if not outcome.ok:
        if as_json:
            emit(True, _sync_json(outcome), "")
        raise fail(f"sync failed: {outcome.error}")
    emit(
        as_json,
        _sync_json(outcome),
        f"synced {plural(outcome.pulled, 'new event')}"
        + (f", pushed {plural(outcome.pushed, 'change')}" if outcome.pushed else "")
        + f" in {outcome.seconds:.1f}s; replica at {outcome.cursor:,} of {outcome.head:,}",
    )


def _sync_json(outcome: SyncOutcome) -> dict[str, object]:
    return {
        "ok": outcome.ok,
        "pulled": outcome.pulled,
        "pushed": outcome.pushed,
        "rejected": [
            {"id": r.id, "type": r.type, "conversation_id": r.conversation_id, "reason": r.reason}
            for r in outcome.rejected
        ],
        "conflicts": outcome.conflicts,
        "unreadable": outcome.unreadable,
        "cursor": outcome.cursor,
        "head": outcome.head,
        "seconds": round(outcome.seconds, 3),
        "error": outcome.error,
        "error_kind": outcome.error_kind,
    }


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class _Retrying:
    """What a sync that cannot reach the relay is doing, on stderr, as it happens: one line,
    rewritten in place on a terminal (printed once elsewhere)."""

    def __init__(self) -> None:
        self.said = False
        self.tty = sys.stderr.isatty()

    def __call__(self, error: str, remaining: float) -> None:
        line = f"inboop: {error}; retrying for {remaining:.0f}s more…"
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + line)
            sys.stderr.flush()
        elif not self.said:
            typer.echo(line, err=True)
        self.said = True

    def done(self) -> None:
        if self.tty and self.said:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


class _progress:
    """A progress bar on a terminal when there is much to pull; nothing otherwise."""

    THRESHOLD = 2000

    def __enter__(self) -> _progress:
        self._bar: Any = None
        self._task: Any = None
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
    status: Annotated[str | None, typer.Option(help="Leads or orders with this status.")] = None,
    payment: Annotated[str | None, typer.Option(help="Orders: unpaid, paid or refunded.")] = None,
    method: Annotated[str | None, typer.Option(help="Orders: online or cod.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Leads or orders: a teammate.")] = None,
    search: Annotated[str, typer.Option(help="Leads, orders or contacts: as on the screen.")] = "",
    items: Annotated[bool, typer.Option("--items", help="Orders: one row per item.")] = False,
) -> None:
    """Export from the local replica (read-only), with the screens' filters."""
    from inboop_tui.store.export import export as run_export
    from inboop_tui.store.selling_queries import LeadFilter, OrderFilter

    paths = resolve_paths()
    if items:
        if kind is not ExportKind.ORDERS:
            raise fail("--items goes with orders", 2)
        kind = ExportKind.ORDER_ITEMS
    start, end = _time_option(since, "--since"), _time_option(until, "--until")
    upper = {
        k: v.strip().upper() if v else None
        for k, v in (("s", status), ("p", payment), ("m", method))
    }
    f = ExportFilter(
        channel=channel.value if channel else None,
        since=start,
        until=end,
        leads=LeadFilter(
            status=upper["s"], assignee=assignee, created_from=start, created_to=end, search=search
        ),
        orders=OrderFilter(
            status=upper["s"],
            payment=upper["p"],
            method=upper["m"],
            channel=channel.value if channel else None,
            assignee=assignee,
            created_from=start,
            created_to=end,
            search=search,
        ),
        search=search,
    )
    engine = open_engine(paths)
    try:
        with engine.connect() as conn:
            written = run_export(conn, kind, out, fmt=fmt, f=f)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    except ReplicaError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    typer.echo(f"wrote {written:,} {kind.value.replace('-', ' ')} to {out}")


@app.command()
def doctor(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute every projection from the local log.")
    ] = False,
    recover: Annotated[
        bool,
        typer.Option(
            "--recover",
            help="Set a damaged replica aside and start a fresh one, keeping your unsynced "
            "changes and drafts; then `inboop sync` pulls the rest.",
        ),
    ] = False,
    relay: Annotated[
        bool, typer.Option("--relay", help="Also ask the relay for its diagnostics (ADMIN).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Diagnostics: the database's own check, sync state and history, pending and rejected
    changes, conflicts, log entries this version cannot read; with --rebuild, recompute the
    replica from its log; with --recover, replace a damaged one."""
    from inboop_tui.cli.common import identity_of, now
    from inboop_tui.store.rebuild import rebuild as run_rebuild

    paths = resolve_paths()
    config = load(paths)
    if recover:
        _recover(paths, as_json)
        return
    engine = open_engine(paths)
    try:
        replica = Replica(engine, identity_of(config), now)
        # The search index first: the rebuild makes it again, and a newer SQLite's check sees
        # a lost table of it too and would ask for a whole recovery.
        index = _search_index_damage(replica)
        if index and not rebuild:
            raise _search_index_exit(paths, index, as_json)
        rebuilt = run_rebuild(engine) if index else None
        if index and (still := replica.search_index_damage()):
            raise fail(
                f"the search index of {paths.database} is still damaged after the rebuild "
                f"({still[0]}); run `inboop doctor --recover` to set the replica aside and "
                "rebuild it from the relay, keeping your unsynced changes"
            )
        problems = replica.integrity_problems()
        if problems:
            raise _damaged(paths, problems, as_json)
        report = replica.diagnostics()
        role = "ADMIN" if replica.is_admin() else "MEMBER" if config.user_name else None
        relay_report = _relay_diagnostics(config) if relay else None
        if rebuild and rebuilt is None:
            rebuilt = run_rebuild(engine)
    except ReplicaError as exc:
        raise fail(str(exc)) from None
    except (DBAPIError, sqlite3.Error) as exc:  # the rebuild writes through SQLAlchemy
        raise fail(str(explain(exc, paths.database))) from None
    finally:
        engine.dispose()
    data = {
        "replica": str(paths.database),
        "integrity": [],  # what SQLite's quick_check found: nothing
        "relay": config.relay_url,
        "user": config.user_name,
        "role": role,
        **dataclasses.asdict(report),
        "relay_diagnostics": relay_report,
        "rebuild": None
        if rebuilt is None
        else {
            "entries": rebuilt.events,
            "identical": rebuilt.identical,
            "differing": rebuilt.differing,
        },
    }
    if as_json:
        emit(True, data, "")
    else:
        _print_diagnostics(paths, config, role, report, relay_report)
        if rebuilt is not None:
            if rebuilt.identical:
                typer.echo(f"rebuilt from {plural(rebuilt.events, 'event')}: projections identical")
            else:
                typer.echo(
                    f"rebuilt from {plural(rebuilt.events, 'event')}: "
                    f"{', '.join(rebuilt.differing)} differed and were repaired"
                )
    if rebuilt is not None and not rebuilt.identical:
        raise typer.Exit(1)


def _damaged(paths: Paths, problems: list[str], as_json: bool) -> typer.Exit:
    """SQLite's check found damage: say so, and how to recover, instead of reading on."""
    line = (
        f"the local database {paths.database} is damaged (SQLite's check: {problems[0]}); "
        "run `inboop doctor --recover` to set it aside and rebuild it from the relay, keeping "
        "your unsynced changes"
    )
    if as_json:
        emit(True, {"replica": str(paths.database), "integrity": problems, "error": line}, "")
    typer.echo(f"inboop: {line}", err=True)
    return typer.Exit(1)


def _search_index_damage(replica: Replica) -> list[str]:
    try:
        return replica.search_index_damage()
    except ReplicaError as exc:
        if not exc.damaged:
            raise
        return []  # the file itself is damaged: SQLite's check says where, next


def _search_index_exit(paths: Paths, problems: list[str], as_json: bool) -> typer.Exit:
    """The search index lost a table (SQLite's check does not look there): say so, and that
    the rebuild makes it again."""
    line = str(search_index_damaged(paths.database, problems[0]))
    if as_json:
        emit(True, {"replica": str(paths.database), "search_index": problems, "error": line}, "")
    typer.echo(f"inboop: {line}", err=True)
    return typer.Exit(1)


def _recover(paths: Paths, as_json: bool) -> None:
    from inboop_tui.store.db import open_replica
    from inboop_tui.store.diagnostics import integrity_problems
    from inboop_tui.store.recover import recover
    from inboop_tui.store.replica_file import explain, sole_user
    from inboop_tui.sync.client import SyncError
    from inboop_tui.sync.lock import replica_lock

    if not paths.database.exists():
        raise fail(f"there is no local database at {paths.database}: nothing to recover", 2)
    try:
        engine = open_replica(paths.database)
    except ReplicaError as exc:
        if not exc.damaged:  # locked, newer, unwritable: moving it aside would not help
            raise fail(str(exc)) from None
    else:
        try:
            with engine.connect() as conn:
                problems = integrity_problems(conn)
        except (DBAPIError, sqlite3.Error):
            problems = ["unreadable"]
        finally:
            engine.dispose()
        if not problems:
            raise fail(
                f"the local database {paths.database} is not damaged (SQLite's check: ok); "
                "nothing to recover",
                2,
            )
    try:
        with sole_user(paths.database), replica_lock(paths.database, 0):
            done = recover(paths.database)
    except (SyncError, ReplicaError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot set {paths.database} aside: {exc.strerror or exc}") from None
    except (DBAPIError, sqlite3.Error) as exc:
        raise fail(
            f"cannot build a fresh replica beside {paths.database} "
            f"({explain(exc, paths.database)}); nothing was moved: free some space and run it again"
        ) from None
    kept = {name: count for name, count in done.kept.items() if count}
    emit(
        as_json,
        {
            "ok": True,
            "moved_to": str(done.moved_to),
            "kept": done.kept,
            "unreadable": done.unreadable,
        },
        f"moved the damaged database to {done.moved_to}; kept "
        + (
            ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in kept.items())
            or "nothing of your own (there was nothing unsynced)"
        )
        + (f"; could not read: {', '.join(done.unreadable)}" if done.unreadable else "")
        + ". Run `inboop sync` to pull the rest from the relay",
    )


def _relay_diagnostics(config: ClientConfig) -> dict[str, Any]:
    from inboop_tui.sync.client import RelayClient, SyncError

    if not config.is_configured:
        raise fail("no relay configured: run `inboop login RELAY_URL` first")
    assert config.relay_url is not None and config.token is not None
    try:
        with RelayClient(config.relay_url, config.token) as client:
            return client.diagnostics()
    except SyncError as exc:
        raise fail(f"the relay's diagnostics: {exc}") from None


def _print_diagnostics(
    paths: Paths,
    config: ClientConfig,
    role: str | None,
    report: Diagnostics,
    relay: dict[str, Any] | None,
) -> None:
    status = report.status
    typer.echo(f"replica: {paths.database}")
    typer.echo(
        f"relay: {config.relay_url or 'not configured'}; user: {config.user_name or '-'}"
        f" ({role or '-'})"
    )
    typer.echo(f"log: {status.cursor:,} events applied, relay head {status.relay_head:,}")
    typer.echo(f"last successful sync: {status.last_ok_at or 'never'}")
    if status.last_error:
        typer.echo(f"last sync failed: {status.last_error}")
    if report.runs:
        typer.echo("recent syncs:")
    for run in report.runs[:5]:
        result = (
            f"ok, {plural(run.pulled, 'event')} pulled, {plural(run.pushed, 'change')} pushed"
            if run.ok
            else f"failed: {run.error}"
        )
        typer.echo(f"  {run.finished_at or run.started_at}  {result}")
    typer.echo(f"pending changes: {len(report.pending)}")
    for change in report.pending:
        typer.echo(f"  {change.at}  {change.summary}  ({change.conversation_id or 'workspace'})")
    if report.rejected:
        typer.echo(f"rejected changes: {len(report.rejected)}")
    for change in report.rejected:
        typer.echo(f"  {change.at}  {change.summary}: {change.reason}")
    if report.conflicts:
        typer.echo(f"conflicts: {len(report.conflicts)}")
    for conflict in report.conflicts:
        typer.echo(f"  seq {conflict.seq}  {conflict.type} by {conflict.author}: {conflict.reason}")
    if report.unreadable:
        typer.echo(f"log entries this version cannot read: {len(report.unreadable)}")
    for entry in report.unreadable:
        typer.echo(f"  seq {entry.seq}  {entry.type}: {entry.error}")
    if relay is not None:
        typer.echo(
            f"relay: head {relay.get('head')}, deliveries {relay.get('deliveries')}, "
            f"open integration failures {relay.get('open_integration_failures')}"
        )
        failures = relay.get("recent_integration_failures")
        for failure in failures if isinstance(failures, list) else []:
            typer.echo(
                f"  {failure['last_at']}  {failure['kind']} x{failure['count']}: {failure['detail']}"
            )


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
