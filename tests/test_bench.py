"""The benchmarks still work: ``python -m bench --quick`` runs every one at a tiny size and
writes its results and table. (Benchmarks are not tests: no time is asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.report import END, START


def test_quick_bench_runs_every_benchmark_and_writes_the_table(tmp_path: Path) -> None:
    out, doc = tmp_path / "latest.json", tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\n{START}\nSTALE TABLE\n{END}\n\nReading them.\n")
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--doc", str(doc)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["ingest"]["ours_per_s"]["median"] > 0
    figures = results["sizes"]["2000"]
    assert figures["sync"]["entries"] >= 2_000
    assert figures["app"]["conversations"] == figures["sync"]["messages"] // 10
    assert figures["export"]["rows"] >= 2_000
    page = doc.read_text()
    assert "STALE TABLE" not in page and "Reading them." in page
    assert "first `inboop sync`, 2,000 messages" in page and "relay ingest, flat out" in page


def test_an_unknown_benchmark_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "ingets"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "no benchmark called ingets: pick from ingest, sync, app, export" in result.stderr
    assert "Traceback" not in result.stderr
