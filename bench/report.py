"""The table of ``docs/performance.md``, written from the results between its two markers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

START = "<!-- bench:table -->"
END = "<!-- bench:end -->"


def _m(figure: Any) -> float:
    return float(figure["median"] if isinstance(figure, dict) else figure)


def _rate(x: float) -> str:
    return f"{x:,.0f}/s"


def _ms(x: float) -> str:
    return f"{x:,.1f} ms"


def _s(x: float) -> str:
    return f"{x:,.2f} s"


def _mib(x: float) -> str:
    return f"{x:,.0f} MiB"


Row = tuple[str, str, str, str, str]
"""What, ours, the baseline, the ratio, the goal; the table adds the day it was measured."""


def ingest_rows(r: dict[str, Any]) -> list[Row]:
    size = (
        f"{r['delivery_bytes']:,} B deliveries, {r['connections']} connections, "
        f"load from {r.get('generator', 'wrk')}"
    )
    return [
        (
            f"relay ingest, flat out ({size})",
            _rate(_m(r["ours_per_s"])),
            "verify-only endpoint, same stack: " + _rate(_m(r["baseline_per_s"])),
            f"{r['ratio']:.2f}",
            "≥ 0.8",
        ),
        (
            "relay ingest, steady load: p99",
            _ms(_m(r["steady_p99_ms"])) + f" at {_rate(_m(r['steady_per_s']))}",
            "",
            "",
            "≤ 20 ms at 1,000/s",
        ),
        ("relay peak RSS under ingest", _mib(r["relay_peak_rss_mib"]), "", "", ""),
    ]


def size_rows(size: str, r: dict[str, Any]) -> list[Row]:
    n = f"{int(size):,}"
    rows: list[Row] = []
    sync = r.get("sync")
    if sync:
        rows += [
            (f"`/v1/events` serving, {n}", _rate(sync["serving_per_s"]), "", "", ""),
            (
                f"first `inboop sync`, {n} messages ({sync['entries']:,} entries)",
                _rate(sync["first_sync_per_s"]),
                "raw `sqlite3` of the same rows: " + _rate(sync["raw_per_s"]),
                f"{sync['ratio']:.2f}",
                "≥ 0.5",
            ),
            (
                f"peak RSS of the first sync, {n}",
                f"client {_mib(sync['sync_peak_rss_mib'])}, relay "
                + _mib(sync["relay_peak_rss_mib"]),
                "",
                "",
                "≤ 200 MiB each",
            ),
            (
                f"incremental sync of 1k events, {n}",
                f"{_s(sync['incremental_1k_s'])} in the app"
                + (
                    f" (then a checkpoint, {_s(sync['incremental_1k_checkpoint_s'])})"
                    if "incremental_1k_checkpoint_s" in sync
                    else ""
                )
                + f"; {_s(sync['incremental_1k_cli_s'])} as `inboop sync`",
                "",
                "",
                "≤ 0.5 s",
            ),
        ]
        if "ingest_per_s" in sync:
            rows += [
                (
                    f"relay ingest, flat out, into a relay holding {n} messages",
                    _rate(sync["ingest_per_s"]),
                    "verify-only endpoint: " + _rate(sync["ingest_baseline_per_s"]),
                    f"{sync['ingest_ratio']:.2f}",
                    "≥ 0.8",
                ),
                (
                    f"relay ingest, steady load, into a relay holding {n} messages: p99",
                    _ms(sync["ingest_steady_p99_ms"]) + f" at {_rate(sync['ingest_steady_per_s'])}",
                    "",
                    "",
                    "≤ 20 ms at 1,000/s",
                ),
            ]
    app = r.get("app")
    if app:
        rows += [
            (
                f"app cold start to the inbox, {n}",
                _s(_m(app["cold_start_s"])),
                "minimal Textual app: " + _s(_m(app["minimal_start_s"])),
                f"{app['cold_start_ratio']:.2f}x",
                "≤ 1.5x",
            ),
            *(
                [
                    (
                        f"app start until idle (the rest of the list read), {n}",
                        _s(_m(app["settled_s"])),
                        "",
                        "",
                        "",
                    )
                ]
                if "settled_s" in app
                else []
            ),
            (f"jump in the list and draw, {n}", _ms(_m(app["jump_ms"])), "", "", "≤ 16 ms"),
            (
                f"open the long conversation, {n}",
                _ms(_m(app["open_10k_ms"])),
                "",
                "",
                "≤ 50 ms (10k messages)",
            ),
            (f"search, newest first, {n}", _ms(_m(app["search_ms"])), "", "", "≤ 10 ms"),
            (f"app peak RSS, {n}", _mib(app["peak_rss_mib"]), "", "", "≤ 150 MiB"),
        ]
    export = r.get("export")
    if export:
        rows += [
            (
                f"export of {export['rows']:,} messages to CSV",
                _rate(export["ours_rows_per_s"]),
                "raw `sqlite3` + `csv.writer`: " + _rate(export["raw_rows_per_s"]),
                f"{export['ratio']:.2f}",
                "≥ 0.7",
            ),
            (
                f"export peak RSS, {n}",
                _mib(export["peak_rss_mib"]),
                "raw: " + _mib(export["raw_peak_rss_mib"]),
                "",
                "≤ 100 MiB",
            ),
        ]
    return rows


def table(results: dict[str, Any]) -> str:
    groups: list[tuple[dict[str, Any], list[Row]]] = []
    if "ingest" in results:
        groups.append((results["ingest"], ingest_rows(results["ingest"])))
    sizes: dict[str, Any] = results.get("sizes", {})
    for size in sorted(sizes, key=int):
        for name in ("sync", "app", "export"):
            if name in sizes[size]:
                figures = sizes[size][name]
                groups.append((figures, size_rows(size, {name: figures})))
    dated = [(row, _day(figures)) for figures, rows in groups for row in rows]
    dated += curve_rows(sizes)
    machines = {
        f"Python {m.get('python', '?')}, {m.get('cpus', '?')} cores"
        for m in (figures.get("machine", {}) for figures, _ in groups)
    }
    machine = machines.pop() if len(machines) == 1 else "Machines differ between rows"
    lines = [
        f"{machine}. Medians; min and max in `bench/results/latest.json`. Each row says the day it"
        " was measured.",
        "",
        "| what | ours | baseline (same run) | ratio | goal | measured |",
        "|---|---|---|---|---|---|",
        *(f"| {' | '.join(row)} | {day} |" for row, day in dated),
    ]
    return "\n".join(lines)


def _day(figures: dict[str, Any]) -> str:
    return str(figures.get("run", "?"))[:10]


def curve_rows(sizes: dict[str, Any]) -> list[tuple[Row, str]]:
    """Each figure's rate or time at the largest size over the smallest, of the widest pair of
    sizes one run measured (runs are not compared with each other): flat is 1."""
    figures: list[tuple[str, str, Callable[[dict[str, Any]], float], str]] = [
        ("first sync rate", "sync", lambda r: r["first_sync_per_s"], "within 20 %"),
        ("ingest rate into a relay holding that many", "sync", lambda r: r["ingest_per_s"], "flat"),
        ("export rate", "export", lambda r: r["ours_rows_per_s"], "linear"),
        ("jump time", "app", lambda r: _m(r["jump_ms"]), "flat"),
        ("search time", "app", lambda r: _m(r["search_ms"]), "flat"),
    ]
    rows: list[tuple[Row, str]] = []
    for name, benchmark, pick, goal in figures:
        by_run: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for size, measured in sizes.items():
            group = measured.get(benchmark)
            if group and "run" in group:
                by_run.setdefault(group["run"], []).append((int(size), group))
        spans = [
            (max(found)[0] / min(found)[0], run, min(found), max(found))
            for run, found in by_run.items()
            if len(found) > 1
        ]
        if not spans:
            continue
        _, _, (small, first), (large, last) = max(spans, key=lambda span: span[:2])
        try:
            ratio = pick(last) / pick(first)
        except (KeyError, ZeroDivisionError):
            continue
        label = f"curve: {name}, {large:,} over {small:,}"
        rows.append(((label, f"{ratio:.2f}x", "", "", goal), _day(last)))
    return rows


def load_results(path: Path) -> dict[str, Any]:
    """The results file (empty if missing or unreadable). Results from before each benchmark
    kept its own run were one whole run, dated once: each benchmark gets that date and machine."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(loaded, dict):
        return {}
    whole_run, machine = loaded.pop("date", None), loaded.pop("machine", None)
    sizes = loaded.get("sizes")
    groups = [loaded.get("ingest")]
    if isinstance(sizes, dict):
        groups += [g for size in sizes.values() if isinstance(size, dict) for g in size.values()]
    for group in groups:
        if isinstance(group, dict) and whole_run and "run" not in group:
            group.update(run=whole_run, machine=machine or {})
    return loaded


def write_table(doc: Path, results: dict[str, Any]) -> None:
    text = doc.read_text()
    if START not in text or END not in text:
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{START}\n{table(results)}\n{END}{tail}")
