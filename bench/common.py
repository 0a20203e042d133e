"""What every benchmark shares: repeated timing with a warm-up, peak memory, child processes."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Runs:
    """Several measurements of one thing (seconds, or any figure): median, min and max."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def as_dict(self, scale: float = 1.0) -> dict[str, float]:
        return {
            "median": self.median * scale,
            "min": min(self.values) * scale,
            "max": max(self.values) * scale,
            "runs": len(self.values),
        }


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def repeat(work: Callable[[], object], runs: int, warmup: int = 1) -> Runs:
    """``work`` timed ``runs`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        work()
    return Runs(tuple(timed(work) for _ in range(runs)))


def peak_rss_mib() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mib() -> float:
    """The largest peak resident memory of any child process waited for so far."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def ratio(ours: float, baseline: float) -> float:
    return ours / baseline if baseline else float("nan")


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
    """Seconds, peak RSS (MiB) and output of a child process run to its end."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[1:4])} failed: {output.strip()[-500:]}")
    return seconds, usage.ru_maxrss / 1024, output
