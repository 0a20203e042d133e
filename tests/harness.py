"""Real processes for tests: the relay started as `python -m relay serve` on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from inboop_tui.local_relay import LocalRelay
from relay.signing import SIGNATURE_HEADER, sign
from relay.store.dialect import driver_url

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RelayProcess(LocalRelay):
    """The demo's relay process, with what tests need to poke at it."""

    def __init__(self, home: Path, **env: str) -> None:
        super().__init__(
            home,
            secret=APP_SECRET,
            verify_token=VERIFY_TOKEN,
            INBOOP_RELAY_FAILURE_FLUSH_SECONDS="0.2",
            **env,
        )

    def start(self, timeout: float = 30.0) -> RelayProcess:
        super().start(timeout)
        return self

    @property
    def database_url(self) -> str:
        return self.env.get("INBOOP_RELAY_DATABASE_URL") or f"sqlite:///{self.home / 'relay.db'}"

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run SQL on the relay's database, whichever it is (``:name`` parameters); the rows
        it returns, committed."""
        engine = create_engine(driver_url(self.database_url))
        try:
            with engine.begin() as conn:
                result = conn.execute(text(sql), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(
        self, body: bytes, *, signature: str | None = "valid", **headers: str
    ) -> httpx.Response:
        all_headers = {"Content-Type": "application/json", **headers}
        if signature == "valid":
            all_headers[SIGNATURE_HEADER] = sign(APP_SECRET, body)
        elif signature is not None:
            all_headers[SIGNATURE_HEADER] = signature
        return httpx.post(
            f"{self.url}/webhooks/meta", content=body, headers=all_headers, timeout=30
        )

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=90)

    def all_events(self, token: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.get("/v1/events", token, after=after, limit=1000).json()
            found.extend(page["events"])
            if page["next_after"] == after:
                return found
            after = page["next_after"]


def inboop(
    home: Path, *args: str, timeout: float = 120, stdin: str = "", ordinary: bool = False
) -> subprocess.CompletedProcess[str]:
    """The agent's CLI as a user runs it, with its own INBOOP_HOME (and ``stdin`` piped in:
    never the terminal the tests run in); ``ordinary``: bound by file permissions even when
    the tests run as root (see ``as_an_ordinary_user``)."""
    env = {**os.environ, "INBOOP_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "inboop_tui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        preexec_fn=as_an_ordinary_user if ordinary else None,
    )


def as_an_ordinary_user() -> None:
    """For ``preexec_fn``: a process that file permissions bind. Root (CI containers) ignores
    them, so it gives up the capabilities that override them before its program starts; an
    ordinary user is bound already."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def inboop_process(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "INBOOP_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "inboop_tui", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def many_messages(
    count: int,
    per_delivery: int = 100,
    prefix: str = "bulk",
    customer: Callable[[int], str] = lambda i: f"P{i % 13}",
    text: Callable[[int], str] = lambda i: f"message {i}",
) -> list[bytes]:
    """Deliveries carrying ``count`` Messenger messages, one second apart, message i from
    ``customer(i)`` saying ``text(i)``."""
    from relay import simulator as mp

    bodies = []
    for start in range(0, count, per_delivery):
        items = [
            mp.text_message(
                mp.PAGE_ID, customer(i), f"m_{prefix}_{i}", text(i), ts=mp.T0_MS + i * 1000
            )
            for i in range(start, min(count, start + per_delivery))
        ]
        bodies.append(mp.body(mp.messenger(*items)))
    return bodies


def log_entries(events: list[Any], after: int = 0) -> list[dict[str, Any]]:
    """Channel events as the relay's ``/v1/events`` entries, numbered from ``after + 1``."""
    return [
        {
            "seq": seq,
            "origin": "channel",
            "type": e.type,
            "recorded_at": "2026-11-25T00:00:00.000Z",
            "event": e.model_dump(mode="json"),
        }
        for seq, e in enumerate(events, start=after + 1)
    ]


def replica_digest(home: Path) -> dict[str, str]:
    """The projections' digest of the replica in agent home ``home``."""
    from inboop_tui.store.db import open_replica
    from inboop_tui.store.rebuild import digest

    engine = open_replica(home / "replica.db")
    try:
        with engine.connect() as conn:
            return digest(conn)
    finally:
        engine.dispose()


def fill_replica(engine: Any, bodies: list[bytes]) -> int:
    """Normalise deliveries as the relay would and apply them as the next log entries;
    returns the count."""
    from inboop_tui.store.apply import apply_entries, current_cursor
    from inboop_tui.store.db import writing
    from relay.channels import normalise_delivery

    with writing(engine) as conn:
        after = current_cursor(conn)
        events = [event for body in bodies for event in normalise_delivery(body).events]
        entries = log_entries(events, after)
        apply_entries(conn, entries, cursor=after + len(entries), relay_head=after + len(entries))
    return len(entries)


def scenario() -> list[bytes]:
    """A few deliveries with the cases that matter: echoes, watermarks, unsend, statuses, formulas."""
    from relay import simulator as mp

    PAGE, IG, T0 = mp.PAGE_ID, mp.IG_ACCOUNT_ID, mp.T0_MS
    S0 = T0 // 1000
    wa_echo = mp.wa_value()
    wa_echo["message_echoes"] = [
        {
            "from": "1555",
            "to": "9190",
            "id": "wamid.OUT",
            "timestamp": str(S0 + 20),
            "type": "text",
            "text": {"body": "₹1,499 for M"},
        }
    ]
    return [
        mp.body(
            mp.messenger(
                mp.text_message(PAGE, "P1", "m_1", "Is the blue dress in stock?"),
                mp.echo(PAGE, "P1", "m_2", "Yes, size M and L", ts=T0 + 60_000),
            )
        ),
        mp.body(mp.messenger(mp.read_watermark(PAGE, "P1", T0 + 90_000, T0 + 90_001))),
        mp.body(
            mp.messenger(
                mp.text_message(
                    PAGE, "P2", "m_3", '=HYPERLINK("http://evil.example")', ts=T0 + 120_000
                )
            )
        ),
        mp.body(
            mp.instagram(
                mp.attachment_message(
                    IG,
                    "I1",
                    "ig_1",
                    "image",
                    {"url": "https://cdn.example/ig1.jpg"},
                    ts=T0 + 30_000,
                )
            )
        ),
        mp.body(
            mp.instagram(
                mp.text_message(IG, "I1", "ig_2", "oops wrong photo", ts=T0 + 31_000),
                mp.unsend(IG, "I1", "ig_1", T0 + 32_000),
            )
        ),
        mp.body(
            mp.whatsapp(
                mp.wa_value(
                    messages=[mp.wa_text("9190", "wamid.IN", S0 + 10, "Namaste, kurta price?")],
                    contacts=[mp.wa_contact("9190", "Asha Verma")],
                )
            )
        ),
        mp.body(mp.whatsapp(wa_echo, field="smb_message_echoes")),
        mp.body(
            mp.whatsapp(
                mp.wa_value(statuses=[mp.wa_status("wamid.OUT", "delivered", S0 + 21, "9190")])
            )
        ),
    ]
