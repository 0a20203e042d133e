"""Operating the relay as a team's admin does: its commands' mistakes, `check`, backup and
restore under load, health, readiness and metrics, and what guards every request (rate and
body limits, headers, client addresses behind a proxy). The real relay process throughout."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relay import simulator as mp
from tests.harness import (
    APP_SECRET,
    VERIFY_TOKEN,
    RelayProcess,
    as_an_ordinary_user,
    free_port,
    inboop,
)


def relay_env(home: Path, **env: str) -> dict[str, str]:
    """A clean environment for a relay at ``home`` (no .env, the given settings)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("INBOOP_")}
    environment.update(
        {
            "INBOOP_RELAY_HOME": str(home),
            "INBOOP_META_APP_SECRET": APP_SECRET,
            "INBOOP_META_VERIFY_TOKEN": VERIFY_TOKEN,
            **env,
        }
    )
    return environment


def relay_cli(
    home: Path, *args: str, ordinary: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    """``inboop-relay ARGS`` with a clean environment (no .env, the given settings);
    ``ordinary``: bound by file permissions even as root."""
    home.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        env=relay_env(home, **env),
        capture_output=True,
        text=True,
        cwd=home.parent,
        timeout=60,
        preexec_fn=as_an_ordinary_user if ordinary else None,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """An operator's mistake: a non-zero exit and one line saying what to do."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_operator_mistakes_get_one_clear_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = tmp_path / "missing" / "dir" / "x.db"
    said = one_line(relay_cli(home, "users", "list", "--database", f"sqlite:///{missing}"))
    assert f"there is no relay database at {missing}" in said
    assert not missing.parent.exists()  # nothing made on the way

    plain = tmp_path / "srv" / "relay.db"  # a plain path, as the help invites
    added = relay_cli(home, "users", "add", "ana", "--admin", "--database", str(plain))
    assert added.returncode == 0, added.stderr
    listed = relay_cli(home, "users", "list", "--database", str(plain))
    assert listed.returncode == 0 and listed.stdout.startswith("ana\tADMIN\tactive")
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    assert stat.S_IMODE(plain.parent.stat().st_mode) == 0o700

    said = one_line(relay_cli(home, "users", "list", INBOOP_RELAY_MAX_BODY_BYTES="lots"))
    assert said.startswith("inboop-relay: INBOOP_RELAY_MAX_BODY_BYTES: input should be")

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        said = one_line(relay_cli(home, "serve", "--port", port, "--database", str(plain)))
    assert f"port {port} on 127.0.0.1 is already in use" in said

    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database" * 200)
    for args in (("users", "list"), ("serve", "--port", "1")):
        said = one_line(relay_cli(home, *args, "--database", str(damaged)))
        assert "the relay's database is damaged (file is not a database)" in said
        assert "`inboop-relay restore BACKUP_FILE`" in said

    locked_away = tmp_path / "read-only"
    locked_away.mkdir()
    shutil.copy(plain, locked_away / "relay.db")
    (locked_away / "relay.db").chmod(0o400)
    locked_away.chmod(0o500)
    database = str(locked_away / "relay.db")
    said = one_line(relay_cli(home, "users", "list", "--database", database, ordinary=True))
    assert "the relay's database is read-only (attempt to write a readonly database)" in said
    assert "give the relay's user write access to the database and its folder" in said
    said = one_line(relay_cli(home, "serve", "--port", "1", "--database", database, ordinary=True))
    assert "relay.db.lock (Permission denied): give the relay's user write access to" in said
    locked_away.chmod(0o700)
    (locked_away / "relay.db").chmod(0o600)
    assert relay_cli(home, "users", "list", "--database", database, ordinary=True).returncode == 0

    with sqlite3.connect(plain) as db:
        db.execute("update alembic_version set version_num = '0999'")
    for args in (("users", "list"), ("serve", "--port", "1")):
        said = one_line(relay_cli(home, *args, "--database", str(plain)))
        assert "migrated by a newer inboop-relay (revision 0999" in said


def test_check_names_each_problem_and_exits_non_zero(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fresh = relay_cli(home, "check")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "does not exist yet: the relay creates it" in fresh.stdout
    assert fresh.stdout.strip().endswith("the relay is ready to start")
    assert not home.exists()  # check changes nothing

    relay_cli(home, "users", "add", "ana")
    ready = relay_cli(home, "check")
    assert ready.returncode == 0
    assert f"ok    data dir {home}: writable, owner-only" in ready.stdout
    assert "reachable, migrations current" in ready.stdout

    broken = relay_cli(
        home,
        "check",
        INBOOP_META_VERIFY_TOKEN="",
        INBOOP_WHATSAPP_TOKENS="123=abc,oops",
        INBOOP_GRAPH_API_URL="http://graph.example.com",
        INBOOP_RELAY_MAX_UPLOAD_BYTES="0",
    )
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    fails = [line for line in broken.stdout.splitlines() if line.startswith("FAIL")]
    assert any("INBOOP_META_VERIFY_TOKEN is not set" in line for line in fails)
    assert any("INBOOP_WHATSAPP_TOKENS: item 2 is not ID=TOKEN" in line for line in fails)
    assert any("INBOOP_GRAPH_API_URL is 'http://graph.example.com'" in line for line in fails)
    assert any("INBOOP_RELAY_MAX_UPLOAD_BYTES" in line for line in fails)
    assert "abc" not in broken.stdout  # a token is never echoed
    assert broken.stderr.strip() == "inboop-relay: 4 problems: fix them before starting the relay"

    unreachable = relay_cli(
        home, "check", INBOOP_RELAY_DATABASE_URL="postgresql://relay:secret@127.0.0.1:1/relay"
    )
    assert unreachable.returncode == 1
    assert "FAIL  database postgresql://relay:***@127.0.0.1:1/relay cannot be reached" in (
        unreachable.stdout
    )

    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    wrong = relay_cli(not_a_folder, "check")
    assert (
        wrong.returncode == 1 and f"FAIL  data dir {not_a_folder} is not a folder" in wrong.stdout
    )


def test_check_reports_a_newer_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    relay_cli(home, "users", "add", "ana")
    with sqlite3.connect(home / "relay.db") as db:
        db.execute("update alembic_version set version_num = '0999'")
    newer = relay_cli(home, "check")
    assert newer.returncode == 1
    assert "FAIL  the database was migrated by a newer inboop-relay" in newer.stdout


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RelayProcess]:
    relay = RelayProcess(tmp_path / "relay").start()
    try:
        yield relay
    finally:
        relay.stop()


def test_backup_under_load_restores_a_consistent_log_and_replicas_are_told(
    running: RelayProcess, tmp_path: Path
) -> None:
    token = running.add_user("ana", admin=True)
    home = tmp_path / "agent"
    assert inboop(home, "login", running.url, "--token", token).returncode == 0
    stop = threading.Event()
    sent: list[int] = []

    def ingest() -> None:
        n = 0
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                n += 1
                running.deliver(
                    client,
                    mp.messenger(mp.text_message(mp.PAGE_ID, f"P{n % 7}", f"m_{n}", f"hi {n}")),
                )
                sent.append(n)

    loader = threading.Thread(target=ingest)
    loader.start()
    try:
        backups = tmp_path / "backups"
        copies = []
        for _ in range(3):  # taken while deliveries keep arriving
            made = running.cli("backup", "--out", f"{backups}/")
            assert made.returncode == 0, made.stderr
            copies.append(Path(made.stdout.rsplit(" to ", 1)[1].split(" (")[0]))
        assert len(set(copies)) == 3  # each its own file
        again = running.cli("backup", "--out", str(copies[0]), check=False)
        assert "exists: a backup never overwrites another file" in one_line(again)
    finally:
        stop.set()
        loader.join()
    assert sent, "no deliveries were made during the backups"
    for copy in copies:
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        with sqlite3.connect(copy) as db:
            assert db.execute("pragma integrity_check").fetchone() == ("ok",)
            head = db.execute("select last_seq from log_head").fetchone()[0]
            seqs = [row[0] for row in db.execute("select seq from events order by seq")]
        assert seqs == list(range(1, head + 1))  # gap-free up to its head: a snapshot

    assert inboop(home, "sync").returncode == 0  # this replica is at the newest head
    refused = running.cli("restore", str(copies[0]), check=False)
    assert "a relay is serving" in one_line(refused)
    running.stop()
    restored = running.cli("restore", str(copies[0]))
    assert "restored" in restored.stdout and "inboop sync --resync" in restored.stdout
    kept = list((running.home).glob("relay.db.before-restore-*"))
    assert len([p for p in kept if not p.name.endswith(("-wal", "-shm"))]) == 1
    running.start()
    behind = inboop(home, "sync")
    assert behind.returncode != 0 and "Traceback" not in behind.stderr
    assert "restored from a backup" in behind.stderr and "inboop sync --resync" in behind.stderr


def test_a_second_relay_on_the_same_file_is_refused(running: RelayProcess) -> None:
    other = running.cli("serve", "--port", "0", check=False)
    assert "another relay is already serving" in one_line(other)


def test_health_readiness_and_metrics(running: RelayProcess) -> None:
    assert running.get("/healthz").json()["status"] == "ok"
    assert running.get("/readyz").json()["status"] == "ready"
    body = mp.body(mp.instagram(mp.text_message(mp.IG_ACCOUNT_ID, "I1", "ig_1", "hello")))
    assert running.post(body).status_code == 200
    assert running.post(body, signature="sha256=00").status_code == 401
    text = running.get("/metrics").text  # from this machine: no token needed
    assert 'inboop_deliveries_total{object="instagram",outcome="stored"} 1.0' in text
    assert 'inboop_deliveries_total{object="unknown",outcome="bad_signature"} 1.0' in text
    assert "inboop_log_head 1.0" in text and "inboop_events_appended_total 1.0" in text
    assert 'inboop_request_seconds_count{route="webhook",status="2xx"} 1.0' in text
    assert 'inboop_integration_failures_total{kind="bad_signature"} 1.0' in text


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[RelayProcess]:
    """A relay behind a reverse proxy on this machine that passes on its clients' addresses."""
    relay = RelayProcess(
        tmp_path / "relay",
        INBOOP_RELAY_RATE_LIMIT_API="1",
        INBOOP_RELAY_MAX_API_BODY_BYTES="2000",
    )
    relay.serve_args = ["--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"]
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()


def test_behind_a_proxy_limits_headers_and_metrics_see_the_real_client(
    proxied: RelayProcess,
) -> None:
    admin, member = proxied.add_user("boss", admin=True), proxied.add_user("ana")
    remote = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}

    def get(path: str, token: str | None, **headers: str) -> httpx.Response:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{proxied.url}{path}", headers={**auth, **headers}, timeout=30)

    assert get("/metrics", None, **remote).status_code == 403
    assert get("/metrics", member, **remote).status_code == 403
    assert get("/metrics", admin, **remote).status_code == 200

    answer = get("/v1/me", member, **remote)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in get("/v1/me", member).headers  # plain http

    other = {"X-Forwarded-For": "198.51.100.9"}
    codes = [get("/v1/me", member, **other).status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and 429 in codes[5:]  # a burst of five, then slow down
    limited = next(
        r for r in (get("/v1/me", member, **other) for _ in range(3)) if r.status_code == 429
    )
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["detail"] == "too many requests: slow down"
    assert all(get("/v1/me", member).status_code == 200 for _ in range(12))  # this machine

    push = {"Authorization": f"Bearer {member}", "Content-Type": "application/json"}
    big = json.dumps({"mutations": [], "pad": "x" * 5000})
    declared = httpx.post(f"{proxied.url}/v1/mutations", content=big, headers=push, timeout=30)
    assert declared.status_code == 413 and "over 2,000 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(5):
            yield b"x" * 1000

    streamed = httpx.post(f"{proxied.url}/v1/mutations", content=chunks(), headers=push, timeout=30)
    assert streamed.status_code == 413


# ``inboop-relay serve`` in a process that, once the relay answers, says how many objects its
# collector holds frozen (the relay's own code runs unchanged; only this thread is added).
SERVE_AND_COUNT = """
import gc, os, sys, threading, time, urllib.request

port = sys.argv[1]


def count() -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    print("frozen", gc.get_freeze_count(), flush=True)
    os._exit(0)


threading.Thread(target=count, daemon=True).start()
sys.argv = ["inboop-relay", "serve", "--host", "127.0.0.1", "--port", port]
from relay.cli import main

main()
"""


def test_a_serving_relay_keeps_what_start_up_made_out_of_the_collector(tmp_path: Path) -> None:
    """What start-up made lives as long as the relay; in the collector's oldest generation each
    full pass walked it all with the event loop stopped (~75 ms: a steady load's p99 doubled)."""
    home = tmp_path / "relay"
    home.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_COUNT, str(free_port())],
        env=relay_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    frozen = [line for line in result.stdout.splitlines() if line.startswith("frozen")]
    assert frozen, result.stderr
    assert int(frozen[0].split()[1]) > 50_000
