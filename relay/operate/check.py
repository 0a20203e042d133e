"""``inboop-relay check``: settings, secrets, database, migrations and data dir, each one line;
it changes nothing (no database made, no migration run, no folder created)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from relay.settings import RelaySettings, SettingsError, id_map, token_map
from relay.store.dialect import (
    DatabaseURLError,
    create_engines,
    driver_url,
    first_line,
    sqlite_path,
)
from relay.store.migrate import DatabaseTooNew, migration_state


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)  # (ok | note | FAIL, text)

    def ok(self, said: str) -> None:
        self.lines.append(("ok", said))

    def note(self, said: str) -> None:
        self.lines.append(("note", said))

    def fail(self, said: str) -> None:
        self.lines.append(("FAIL", said))

    @property
    def failures(self) -> int:
        return sum(1 for kind, _ in self.lines if kind == "FAIL")


def check(settings: RelaySettings) -> Report:
    report = Report()
    _check_secrets(settings, report)
    _check_sending(settings, report)
    _check_limits(settings, report)
    _check_home(settings.relay_home, report)
    _check_database(settings, report)
    return report


def _check_secrets(settings: RelaySettings, report: Report) -> None:
    try:
        settings.require_secrets()
    except SettingsError as exc:
        report.fail(str(exc))
        return
    count = len(settings.app_secrets())
    apps = "1 Meta app" if count == 1 else f"{count} Meta apps"
    report.ok(f"secrets: the app secret ({apps}) and the webhook verify token are set")


def _check_sending(settings: RelaySettings, report: Report) -> None:
    url = urlsplit(settings.graph_api_url)
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    if (url.scheme != "https" and not (url.scheme == "http" and loopback)) or not url.hostname:
        report.fail(
            f"INBOOP_GRAPH_API_URL is {settings.graph_api_url!r}: it must be an https:// URL "
            "such as https://graph.facebook.com/v23.0"
        )
    else:
        report.ok(f"Graph API: {settings.graph_api_url}")
    counts = []
    for name, value, what in (
        ("INBOOP_PAGE_TOKENS", settings.page_tokens, "Facebook Page"),
        ("INBOOP_INSTAGRAM_TOKENS", settings.instagram_tokens, "Instagram account"),
        ("INBOOP_WHATSAPP_TOKENS", settings.whatsapp_tokens, "WhatsApp number"),
    ):
        try:
            found = token_map(value, name)
        except SettingsError as exc:
            report.fail(str(exc))
            continue
        counts.append(f"{len(found)} {what}{'' if len(found) == 1 else 's'}")
    try:
        id_map(settings.whatsapp_business_accounts, "INBOOP_WHATSAPP_BUSINESS_ACCOUNTS")
    except SettingsError as exc:
        report.fail(str(exc))
    if counts:
        report.ok(f"sending from {', '.join(counts)}; other accounts are receive only")


def _check_limits(settings: RelaySettings, report: Report) -> None:
    bad = [
        name
        for name, value in (
            ("INBOOP_RELAY_MAX_BODY_BYTES", settings.relay_max_body_bytes),
            ("INBOOP_RELAY_MAX_API_BODY_BYTES", settings.relay_max_api_body_bytes),
            ("INBOOP_RELAY_MAX_UPLOAD_BYTES", settings.relay_max_upload_bytes),
            ("INBOOP_MEDIA_MAX_BYTES", settings.media_max_bytes),
            ("INBOOP_RELAY_BUSY_TIMEOUT_SECONDS", settings.relay_busy_timeout_seconds),
            ("INBOOP_OUTBOUND_MAX_ATTEMPTS", settings.outbound_max_attempts),
        )
        if value <= 0
    ] + [
        name
        for name, value in (
            ("INBOOP_RELAY_RATE_LIMIT_WEBHOOKS", settings.relay_rate_limit_webhooks),
            ("INBOOP_RELAY_RATE_LIMIT_API", settings.relay_rate_limit_api),
            ("INBOOP_MEDIA_RETENTION_DAYS", settings.media_retention_days),
        )
        if value < 0
    ]
    if bad:
        report.fail(f"{', '.join(bad)}: must be more than 0 (rates and retention: 0 or more)")
    if settings.relay_log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        report.fail(
            f"INBOOP_RELAY_LOG_LEVEL is {settings.relay_log_level!r}: "
            "use DEBUG, INFO, WARNING or ERROR"
        )


def _check_home(home: Path, report: Report) -> None:
    if not home.exists():
        parent = next((p for p in home.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            report.note(f"data dir {home} does not exist yet: the relay creates it (owner-only)")
        else:
            report.fail(f"data dir {home} does not exist and cannot be created here")
        return
    if not home.is_dir():
        report.fail(f"data dir {home} is not a folder")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=home, prefix=".check-"):
            pass
    except OSError as exc:
        report.fail(
            f"data dir {home} is not writable ({exc.strerror}): the relay keeps its files "
            "there; give its user write access (systemd: ReadWritePaths)"
        )
        return
    if home.stat().st_mode & 0o077:
        report.note(f"data dir {home} can be read by other users: `chmod 700 {home}`")
    else:
        report.ok(f"data dir {home}: writable, owner-only")


def _check_database(settings: RelaySettings, report: Report) -> None:
    try:
        url = driver_url(settings.database_url)
    except DatabaseURLError as exc:
        report.fail(str(exc))
        return
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        report.note(f"database {shown}: none yet; `inboop-relay serve` creates it")
        return
    try:
        engines = create_engines(url, busy_seconds=2.0, must_exist=True)
    except DatabaseURLError as exc:
        report.fail(str(exc))
        return
    try:
        with engines.reader.connect() as conn:
            conn.execute(text("SELECT 1"))
            state = migration_state(conn)
    except DatabaseTooNew as exc:
        report.fail(str(exc))
        return
    except DBAPIError as exc:
        report.fail(f"database {shown} cannot be reached: {first_line(exc)}")
        return
    finally:
        engines.dispose()
    if state.is_current:
        report.ok(f"database {shown}: reachable, migrations current ({state.head})")
    else:
        report.note(
            f"database {shown}: reachable; {state.pending} migration(s) run on the next start"
        )
