"""The benchmarks still work: ``python -m bench --quick`` runs every one at a tiny size and
writes its results and table. (Benchmarks are not tests: no time is asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.report import END, START, load_results, table


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
    assert results["ingest"]["run"] == figures["sync"]["run"] == figures["export"]["run"]
    assert figures["sync"]["entries"] >= 2_000
    assert figures["sync"]["ingest_per_s"] > 0 and figures["sync"]["ingest_steady_p99_ms"] > 0
    assert figures["app"]["conversations"] == figures["sync"]["messages"] // 10
    assert figures["export"]["rows"] >= 2_000
    page = doc.read_text()
    assert "STALE TABLE" not in page and "Reading them." in page
    assert "first `inboop sync`, 2,000 messages" in page and "relay ingest, flat out (" in page
    assert "relay ingest, flat out, into a relay holding 2,000 messages" in page
    assert f"| ≥ 0.5 | {figures['sync']['run'][:10]} |" in page


def _sync(rate: float, run: str) -> dict[str, object]:
    return {
        "serving_per_s": 1.0,
        "entries": 10,
        "first_sync_per_s": rate,
        "raw_per_s": 2 * rate,
        "ratio": 0.5,
        "sync_peak_rss_mib": 1.0,
        "relay_peak_rss_mib": 1.0,
        "incremental_1k_s": 0.1,
        "incremental_1k_cli_s": 0.1,
        "run": run,
        "machine": {"python": "3.11.7", "cpus": 2},
    }


MORNING, EVENING, DAY_BEFORE = (
    "2026-12-07T05:00:00+00:00",
    "2026-12-07T18:00:00+00:00",
    "2026-12-06T20:00:00+00:00",
)


def test_each_row_says_the_day_it_was_measured_and_a_curve_needs_one_run() -> None:
    # A later run of the sync benchmark at 10k only: its rows say so, the 1M rows keep their
    # day, and no curve compares the two runs.
    sizes = {
        "10000": {"sync": _sync(6000.0, MORNING)},
        "1000000": {"sync": _sync(3000.0, DAY_BEFORE)},
    }
    page = table({"sizes": sizes})
    assert "first `inboop sync`, 10,000 messages (10 entries) | 6,000/s" in page
    assert "| ≥ 0.5 | 2026-12-07 |" in page and "| ≥ 0.5 | 2026-12-06 |" in page
    assert "Python 3.11.7, 2 cores." in page
    assert "Run of 20" not in page and "| curve:" not in page
    # The same day, two runs: still not one run.
    sizes["1000000"]["sync"] = _sync(3000.0, EVENING)
    assert "| curve:" not in table({"sizes": sizes})
    # The widest pair of sizes one run measured.
    sizes["100000"] = {"sync": _sync(4500.0, MORNING)}
    curve = (
        "| curve: first sync rate, 100,000 over 10,000 | 0.75x |  |  | within 20 % | 2026-12-07 |"
    )
    assert curve in table({"sizes": sizes})
    sizes["1000000"]["sync"] = _sync(3000.0, MORNING)
    curve = (
        "| curve: first sync rate, 1,000,000 over 10,000 | 0.50x |  |  | within 20 % | 2026-12-07 |"
    )
    assert curve in table({"sizes": sizes})


def test_results_dated_once_give_each_benchmark_that_run(tmp_path: Path) -> None:
    machine = {"python": "3.11.7", "cpus": 2}
    old = {
        "date": "2026-12-06",
        "machine": machine,
        "ingest": {"ratio": 0.1},
        "sizes": {"10000": {"sync": {"ratio": 0.2}, "app": {"run": MORNING}}},
    }
    (tmp_path / "latest.json").write_text(json.dumps(old))
    loaded = load_results(tmp_path / "latest.json")
    assert "date" not in loaded and "machine" not in loaded
    for group in (loaded["ingest"], loaded["sizes"]["10000"]["sync"]):
        assert group["run"] == "2026-12-06" and group["machine"] == machine
    assert loaded["sizes"]["10000"]["app"] == {"run": MORNING}  # already its own
    (tmp_path / "odd.json").write_text(json.dumps({"date": "2026-12-06", "sizes": [1]}))
    assert load_results(tmp_path / "odd.json") == {"sizes": [1]}


def test_an_unknown_benchmark_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "ingets"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "no benchmark called ingets: pick from ingest, sync, app, export" in result.stderr
    assert "Traceback" not in result.stderr
