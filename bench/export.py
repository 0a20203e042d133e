"""Export of every message to CSV, against raw ``sqlite3`` + ``csv.writer`` of the same
columns, each in its own process (its peak RSS is its own)."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import run_child

RUNS = 3


def child(mode: str, replica: Path, out: Path) -> tuple[float, int, float]:
    """Seconds (inside the child), rows and peak RSS (MiB) of one export."""
    args = [sys.executable, "-m", "bench.export_child", mode, str(replica), str(out)]
    _, rss, output = run_child(args)
    figures = json.loads(next(x for x in output.splitlines() if x.startswith("{")))
    return figures["seconds"], figures["rows"], rss


def run(replica: Path) -> dict[str, Any]:
    ours, raw, rss, raw_rss = [], [], [], []
    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "messages.csv"
        child("ours", replica, out)  # warm-up: the replica in the page cache
        for _ in range(RUNS):
            seconds, rows, peak = child("ours", replica, out)
            ours.append(seconds)
            rss.append(peak)
            seconds, raw_rows, peak = child("raw", replica, out)
            raw.append(seconds)
            raw_rss.append(peak)
            if raw_rows != rows:
                raise SystemExit(f"export: {rows} rows, the raw baseline {raw_rows}")
    return {
        "rows": rows,
        "ours_rows_per_s": rows / statistics.median(ours),
        "raw_rows_per_s": rows / statistics.median(raw),
        "ratio": statistics.median(raw) / statistics.median(ours),
        "peak_rss_mib": max(rss),
        "raw_peak_rss_mib": max(raw_rss),
    }
