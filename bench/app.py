"""The app on a replica: cold start against a minimal Textual app started the same way, and the
timings ``bench.app_child`` takes inside the running app; peak RSS of the app's process."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import spread
from bench.peak import peak_mib

RUNS = 3


def start(mode: str, home: Path | None = None) -> tuple[float, float, float, dict[str, Any]]:
    """Seconds from spawning to READY and to SETTLED, peak RSS (MiB), and the child's
    results."""
    child = [sys.executable, "-m", "bench.app_child", mode, *([str(home)] if home else [])]
    args = [sys.executable, "-m", "bench.peak", *child]
    begin = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ}
    )
    assert proc.stdout is not None and proc.stderr is not None
    ready = settled = None
    results: dict[str, Any] = {}
    for line in proc.stdout:
        if line.startswith("READY") and ready is None:
            ready = time.perf_counter() - begin
        elif line.startswith("SETTLED") and settled is None:
            settled = time.perf_counter() - begin
        elif line.startswith("{"):
            results = json.loads(line)
    errors = proc.stderr.read()
    if proc.wait() != 0 or ready is None or settled is None:
        raise SystemExit(f"bench.app_child {mode} failed: {errors.strip()[-800:]}")
    return ready, settled, peak_mib(errors), results


def run(home: Path) -> dict[str, Any]:
    start("minimal")  # warm-up: the interpreter's files in the page cache
    start("app", home)
    minimal, app, settled, rss = [], [], [], []
    inside: dict[str, Any] = {}
    for _ in range(RUNS):
        minimal.append(start("minimal")[0])
        seconds, idle, peak, inside = start("app", home)
        app.append(seconds)
        settled.append(idle)
        rss.append(peak)
    return {
        "conversations": inside["conversations"],
        "cold_start_s": spread(app),
        "settled_s": spread(settled),
        "minimal_start_s": spread(minimal),
        "cold_start_ratio": statistics.median(app) / statistics.median(minimal),
        "jump_ms": spread(inside["jump_ms"]),
        "open_10k_ms": spread(inside["open_ms"]),
        "search_ms": spread(inside["search_ms"]),
        "peak_rss_mib": max(rss),
    }
