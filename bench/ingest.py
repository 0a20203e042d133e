"""Relay ingest: unique signed deliveries through the real relay process (durable: WAL,
``synchronous=FULL``, committed before the 200), against the verify-only baseline on the same
server stack (``bench.verify_only``), both loaded by wrk from another process.

Two loads: as fast as the server takes them (throughput, ratio to the baseline), and a steady
1,000 deliveries/s (latency: p99).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import pyload
from bench.common import process_peak_rss_mib, spread
from bench.data import Traffic
from relay.signing import sign
from tests.harness import APP_SECRET, RelayProcess, free_port

LUA = Path(__file__).with_name("deliveries.lua")
CONNECTIONS = 50
# A steady ~1,000 deliveries/s: 100 connections, each waiting 95 ms between its requests.
STEADY = (100, 95)


def write_bodies(path: Path, count: int, prefix: str) -> float:
    """``count`` signed deliveries, one per line; their mean size in bytes."""
    size = 0
    with path.open("w") as out:
        for body in Traffic(count, max(1, count // 10), prefix=prefix).deliveries():
            size += len(body)
            out.write(f"{sign(APP_SECRET, body)}\t{body.decode()}\n")
    return size / count


def wrk(
    url: str, bodies: Path, seconds: int, connections: int = CONNECTIONS, delay_ms: float = 0
) -> dict[str, Any]:
    if shutil.which("wrk") is None:  # slower: the figures are then the generator's limit
        return pyload.run(url, bodies, seconds, connections, delay_ms)
    env = {
        **os.environ,
        "BENCH_BODIES": str(bodies),
        "BENCH_THREADS": "1",
        "BENCH_DELAY_MS": str(delay_ms),
    }
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH "))
    figures = json.loads(line.removeprefix("BENCH "))
    figures["per_s"] = figures["requests"] / figures["seconds"]
    return figures


class VerifyOnly:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.verify_only", str(self.port), APP_SECRET],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the verify-only baseline did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def load(
    relay: RelayProcess, folder: Path, seconds: int, pool: int, tag: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], float]:
    """The verify-only baseline, then ``relay`` flat out and at the steady load, each with
    ``pool`` unique deliveries (more than a run takes); every answer must be a 200 and every
    answered delivery stored. The three loads' figures and the deliveries' mean size."""
    bodies, steady_bodies = folder / f"bodies-{tag}.txt", folder / f"steady-{tag}.txt"
    mean_size = write_bodies(bodies, pool, prefix=f"r{tag}")
    write_bodies(steady_bodies, pool, prefix=f"s{tag}")
    before = _stored(relay)
    baseline = VerifyOnly()
    try:
        base = wrk(baseline.url, bodies, seconds)
    finally:
        baseline.stop()
    ours = wrk(relay.url, bodies, seconds)
    steady = wrk(relay.url, steady_bodies, seconds, *STEADY)
    stored = _stored(relay) - before
    answered = ours["requests"] + steady["requests"]
    sent = ours["sent"] + steady["sent"]
    if ours["non_2xx"] or steady["non_2xx"] or not answered <= stored <= sent:
        raise SystemExit(f"ingest: {ours} / {steady}: {stored} stored of {answered}")
    bodies.unlink()
    steady_bodies.unlink()
    return base, ours, steady, mean_size


def _stored(relay: RelayProcess) -> int:
    return int(relay.rows("SELECT count(*) FROM deliveries")[0][0])


def into(relay: RelayProcess, folder: Path, seconds: int) -> dict[str, Any]:
    """Once, into a running relay that already holds a history (the sync benchmark's relay, at
    each size): how ingest bears the log and its indexes growing. The deliveries come from the
    history's first customers, so at 100k messages and more every one is known already."""
    base, ours, steady, _ = load(relay, folder, seconds, 8_000 * seconds, "held")
    return {
        "ingest_per_s": ours["per_s"],
        "ingest_baseline_per_s": base["per_s"],
        "ingest_ratio": ours["per_s"] / base["per_s"],
        "ingest_steady_per_s": steady["per_s"],
        "ingest_steady_p99_ms": steady["p99_ms"],
    }


def run(quick: bool = False) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): a Python load generator stands in")
    seconds = 2 if quick else 8
    runs = 1 if quick else 3
    pool = 4_000 if quick else 8_000 * seconds  # more than the relay takes in a run: all unique
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours_rates, base_rates, ours_runs, steady_runs = [], [], [], []
        mean_size = 0.0
        for attempt in range(runs + 1):  # the first is the warm-up
            relay = RelayProcess(folder / f"relay-{attempt}", INBOOP_RELAY_LOG_LEVEL="INFO").start()
            try:
                base, ours, steady, mean_size = load(relay, folder, seconds, pool, str(attempt))
                rss = process_peak_rss_mib(relay.proc.pid) if relay.proc else float("nan")
            finally:
                relay.stop()
            if attempt == 0:
                continue
            ours_rates.append(ours["per_s"])
            base_rates.append(base["per_s"])
            ours_runs.append(ours)
            steady_runs.append({**steady, "rss_mib": rss})
    ratios = sorted(o / b for o, b in zip(ours_rates, base_rates, strict=True))
    middle = len(ratios) // 2
    return {
        "generator": "wrk" if shutil.which("wrk") else "python",
        "delivery_bytes": round(mean_size),
        "connections": CONNECTIONS,
        "ours_per_s": spread(ours_rates),
        "baseline_per_s": spread(base_rates),
        "ratio": ratios[middle],
        "ours_p99_ms_flat_out": spread([r["p99_ms"] for r in ours_runs]),
        "steady_per_s": spread([r["per_s"] for r in steady_runs]),
        "steady_p50_ms": spread([r["p50_ms"] for r in steady_runs]),
        "steady_p99_ms": spread([r["p99_ms"] for r in steady_runs]),
        "relay_peak_rss_mib": max(r["rss_mib"] for r in steady_runs),
    }
