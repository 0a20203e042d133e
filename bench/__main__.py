"""Benchmarks, each figure next to a baseline measured in the same run.

    python -m bench                       # everything, at 10k, 100k and 1M messages
    python -m bench ingest                # one benchmark (ingest, sync, app, export)
    python -m bench sync app --sizes 10000,100000
    python -m bench --quick               # small and fast: proves the benchmarks still work

- ingest: signed deliveries through the relay (wrk), over a verify-only endpoint on the same
  server stack; and the p99 at a steady ~1,000/s (``bench.ingest``).
- sync: the relay's ``/v1/events`` serving alone; a first ``inboop sync`` into an empty replica
  over raw ``sqlite3`` writes of the same final rows; an incremental sync of 1k events; ingest
  into the relay holding that history (``bench.sync``).
- app: cold start over a minimal Textual app started the same way; a jump in the list, opening
  the 10k-message conversation, a search; peak RSS (``bench.app``).
- export: every message to CSV over raw ``sqlite3`` + ``csv.writer``; peak RSS
  (``bench.export``).

The app and export benchmarks run on the replica the sync benchmark made at the same size.
Results go to ``bench/results/latest.json`` (merged with the figures of benchmarks not run) and
the table in ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import app, export, ingest, sync
from bench.report import load_results, write_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"
DOC = ROOT / "docs" / "performance.md"
NAMES = ("ingest", "sync", "app", "export")
SIZES = (10_000, 100_000, 1_000_000)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(NAMES)}")
    parser.add_argument("--sizes", help="messages, comma-separated (10000,100000,1000000)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the results file")
    parser.add_argument("--doc", type=Path, default=DOC, help="the page with the table")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"no benchmark called {', '.join(unknown)}: pick from {', '.join(NAMES)}")
    names = args.names or list(NAMES)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(SIZES)
    if args.quick:
        sizes = [2_000]
        app.RUNS = export.RUNS = 1
        sync.INGEST_SECONDS = 2

    _compiled()
    _run(args, names, sizes)


def _compiled() -> None:
    """Our modules compiled to bytecode before anything is timed, so that every program a
    benchmark starts (the relay, ``inboop``, the app) starts as an installed one does: pip
    compiles the libraries' modules at install, and ours, installed editable, are compiled at
    their first start and kept. A machine whose environment forbids writing bytecode
    (``PYTHONDONTWRITEBYTECODE``) compiled ours, and only ours, from source at every start:
    ~70 ms of the app's cold start, against a baseline app made of libraries only."""
    for package in ("inboop_tui", "relay", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)


def _run(args: argparse.Namespace, names: list[str], sizes: list[int]) -> None:
    results = load_results(args.out)
    # Each benchmark's figures say when and where they were measured: a run of some replaces
    # theirs only (the app and the export re-run their size's sync), and the table must not
    # put this run's day over the others.
    stamp = {
        "run": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    if "ingest" in names:
        results["ingest"] = _report("ingest", ingest.run(quick=args.quick), stamp)
    per_size = [n for n in names if n != "ingest"]
    for size in sizes if per_size else []:
        figures = results.setdefault("sizes", {}).setdefault(str(size), {})
        with tempfile.TemporaryDirectory() as tmp:
            agent = Path(tmp) / "agent"
            # The app and the export need the replica that only the sync makes.
            figures["sync"] = _report(f"sync {size:,}", sync.run(size, agent), stamp)
            if "app" in names:
                figures["app"] = _report(f"app {size:,}", app.run(agent), stamp)
            if "export" in names:
                measured = export.run(agent / "replica.db")
                figures["export"] = _report(f"export {size:,}", measured, stamp)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.doc.exists():
        write_table(args.doc, results)
    print(f"results: {args.out}")


def _report(name: str, figures: dict[str, Any], stamp: dict[str, Any]) -> dict[str, Any]:
    flat = {k: (v["median"] if isinstance(v, dict) else v) for k, v in figures.items()}
    print(f"{name}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in flat.items()), flush=True)
    return {**figures, **stamp}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


if __name__ == "__main__":
    main()
