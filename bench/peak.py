"""``python -m bench.peak COMMAND...``: run a command and print its peak RSS on stderr.

A child forked by a benchmark that holds hundreds of MiB counts that size in its own peak (the
kernel keeps the high-water mark of the memory it was forked with), so measured children are
started from this small process instead.
"""

from __future__ import annotations

import os
import subprocess
import sys

MARK = "PEAK_RSS_KIB"


def main() -> None:
    proc = subprocess.Popen(sys.argv[1:])
    _, status, usage = os.wait4(proc.pid, 0)
    sys.stderr.write(f"\n{MARK} {usage.ru_maxrss}\n")
    sys.exit(os.waitstatus_to_exitcode(status))


def peak_mib(output: str) -> float:
    """The peak printed by ``main`` in ``output``."""
    for line in reversed(output.splitlines()):
        if line.startswith(MARK):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
