"""The relay's disk fills up while deliveries arrive (a file-size limit on its process): what it
acknowledged is kept, what it could not store is answered with an error so that Meta retries,
its database stays intact, and once it has room again the retries all land, each once."""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from relay import simulator as meta
from relay.signing import SIGNATURE_HEADER, sign
from tests.harness import APP_SECRET, RelayProcess, free_port


def test_a_full_disk_refuses_what_it_cannot_store_and_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    relay = RelayProcess(tmp_path / "relay").start()  # creates and migrates the database
    token = relay.add_user("admin", admin=True)
    relay.stop()
    database = relay.home / "relay.db"
    room = database.stat().st_size + 400_000

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, resource.RLIM_INFINITY))

    port = free_port()
    errors = (tmp_path / "relay-stderr.txt").open("w+")
    full = subprocess.Popen(
        [sys.executable, "-m", "relay", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=relay.env,
        cwd=relay.home,
        stdout=subprocess.DEVNULL,
        stderr=errors,
        preexec_fn=small_disk,
    )
    bodies = [
        meta.body(
            meta.messenger(
                meta.text_message(meta.PAGE_ID, f"P{i % 7}", f"m_full_{i}", "x" * 400 + str(i))
            )
        )
        for i in range(600)
    ]
    answers: list[int] = []
    retried: list[int] = []
    url = f"http://127.0.0.1:{port}"

    def deliver(client: httpx.Client, body: bytes) -> int:
        headers = {SIGNATURE_HEADER: sign(APP_SECRET, body), "Content-Type": "application/json"}
        return client.post(f"{url}/webhooks/meta", content=body, headers=headers).status_code

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        with httpx.Client(timeout=30) as client:
            answers = [deliver(client, body) for body in bodies]
            refused = [i for i, status in enumerate(answers) if status != 200]
            # Room again, without a restart: Meta retries what was refused.
            unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            resource.prlimit(full.pid, resource.RLIMIT_FSIZE, unlimited)
            retried = [deliver(client, bodies[i]) for i in refused]
    finally:
        full.terminate()
        try:
            full.wait(timeout=20)
        except subprocess.TimeoutExpired:
            full.kill()
            full.wait()
    acknowledged = [i for i, status in enumerate(answers) if status == 200]
    assert acknowledged and refused, answers  # the disk really filled part-way
    assert all(status >= 500 for status in (answers[i] for i in refused)), set(answers)
    assert set(retried) == {200}, retried
    errors.seek(0)
    assert "Traceback" not in errors.read()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    relay.start()
    try:
        for i in acknowledged[:20]:  # repeats of what was kept change nothing
            assert relay.post(bodies[i]).status_code == 200
        logged = [e["event"]["message"]["channel_message_id"] for e in relay.all_events(token)]
    finally:
        relay.stop()
    assert sorted(logged) == sorted(f"m_full_{i}" for i in range(600))
    print(
        f"relay disk full: {len(acknowledged)} acknowledged and kept, {len(refused)} refused "
        "with a 5xx and stored when retried once there was room, 0 lost, 0 twice"
    )
