"""The real relay as a child process on a free loopback port, for the demo, the tests and the
benchmarks: start, stop, kill, run its admin commands, deliver signed webhooks to it."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from relay import simulator as meta
from relay.signing import SIGNATURE_HEADER, sign


class LocalRelayError(Exception):
    """The local relay did not start, or refused what it was given; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalRelay:
    """The real relay, as a child process on a free loopback port (the demo, tests, benchmarks)."""

    def __init__(
        self, home: Path, *, secret: str | None = None, verify_token: str | None = None, **env: str
    ) -> None:
        self.home = home
        self.secret = secret or secrets.token_hex(16)
        self.verify_token = verify_token or secrets.token_hex(8)
        self.port = 0
        inherited = {k: v for k, v in os.environ.items() if k != "INBOOP_RELAY_DATABASE_URL"}
        self.env = {
            **inherited,
            "INBOOP_RELAY_HOME": str(home),
            "INBOOP_META_APP_SECRET": self.secret,
            "INBOOP_META_VERIFY_TOKEN": self.verify_token,
            **env,  # INBOOP_RELAY_DATABASE_URL for another database than the home's SQLite
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "relay.log"
        self.serve_args: list[str] = []  # more `inboop-relay serve` options (--proxy-headers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalRelay:
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()  # a restart keeps its address, as a real relay does
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "relay",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.serve_args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LocalRelayError(
                    f"the relay stopped at start ({self.proc.returncode}); see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise LocalRelayError(
            f"the relay did not start within {timeout:.0f} s; see {self.log_path}"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``inboop-relay ARGS`` on this relay's data."""
        result = subprocess.run(
            [sys.executable, "-m", "relay", *args],
            env=self.env,
            capture_output=True,
            text=True,
            cwd=self.home,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise LocalRelayError(f"inboop-relay {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def add_user(self, name: str, *, admin: bool = False) -> str:
        """A new user's token (the last line ``users add`` prints)."""
        return (
            self.cli("users", "add", name, *(["--admin"] if admin else []))
            .stdout.strip()
            .splitlines()[-1]
        )

    def deliver(self, client: httpx.Client, payload: dict[str, Any]) -> None:
        body = meta.body(payload)
        response = client.post(
            f"{self.url}/webhooks/meta",
            content=body,
            headers={SIGNATURE_HEADER: sign(self.secret, body), "Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise LocalRelayError(f"the relay refused a delivery ({response.status_code})")
