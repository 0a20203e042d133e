"""The table of ``docs/performance.md``, written from the results between its two markers."""

from __future__ import annotations

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
    dated = [(row, str(figures.get("date", "?"))) for figures, rows in groups for row in rows]
    dated += curve_rows(sizes)
    machine = results.get("machine", {})
    lines = [
        f"Python {machine.get('python', '?')}, {machine.get('cpus', '?')} cores. Medians; min"
        " and max in `bench/results/latest.json`. A run of one benchmark replaces its own rows"
        " only: each row says the day it was measured, and a curve compares two sizes of one run.",
        "",
        "| what | ours | baseline (same run) | ratio | goal | measured |",
        "|---|---|---|---|---|---|",
        *(f"| {' | '.join(row)} | {day} |" for row, day in dated),
    ]
    return "\n".join(lines)


def curve_rows(sizes: dict[str, Any]) -> list[tuple[Row, str]]:
    """The rate at the largest size over the rate at the smallest, where one run measured
    both: flat is 1."""
    measured = sorted((int(k), v) for k, v in sizes.items())
    if len(measured) < 2:
        return []
    (small, first), (large, last) = measured[0], measured[-1]
    label = f"{large:,} over {small:,}"
    figures: list[tuple[str, str, Callable[[dict[str, Any]], float], str]] = [
        ("first sync rate", "sync", lambda r: r["first_sync_per_s"], "within 20 %"),
        ("export rate", "export", lambda r: r["ours_rows_per_s"], "linear"),
        ("jump time", "app", lambda r: _m(r["jump_ms"]), "flat"),
        ("search time", "app", lambda r: _m(r["search_ms"]), "flat"),
    ]
    rows: list[tuple[Row, str]] = []
    for name, benchmark, pick, goal in figures:
        a, b = first.get(benchmark), last.get(benchmark)
        if not a or not b or a.get("run") is None or a.get("run") != b.get("run"):
            continue
        try:
            ratio = pick(b) / pick(a)
        except (KeyError, ZeroDivisionError):
            continue
        rows.append(((f"curve: {name}, {label}", f"{ratio:.2f}x", "", "", goal), b["date"]))
    return rows


def write_table(doc: Path, results: dict[str, Any]) -> None:
    text = doc.read_text()
    if START not in text or END not in text:
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{START}\n{table(results)}\n{END}{tail}")
