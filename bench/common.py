"""What the benchmarks share: peak memory of a process, measured child processes."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def spread(values: list[float]) -> dict[str, float]:
    """Several runs of one figure: median, min and max."""
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1]}


def process_peak_rss_mib(pid: int) -> float:
    """A running process's peak resident memory (Linux: VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Seconds, peak RSS (MiB) and output of a child process run to its end (through
    ``bench.peak``, so the peak is the child's own)."""
    from bench.peak import peak_mib

    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.peak", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    proc.wait()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[1:4])} failed: {output.strip()[-500:]}")
    return seconds, peak_mib(output), output
