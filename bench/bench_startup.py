"""Startup: `opswap --help`, a usage error and `opswap targets` against `python -c 'import rich, typer'`.

Prints each command's median wall time over a few runs and its ratio to the baseline, measured in
one run (these machines are noisy; ratios are what to compare). Issue 15 asks for at most 2x.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 7
COMMANDS = {
    "baseline: import rich, typer": [sys.executable, "-c", "import rich, typer"],
    "opswap --help": [sys.executable, "-m", "opswap", "--help"],
    "opswap chekc (usage error)": [sys.executable, "-m", "opswap", "chekc"],
    "opswap targets": [sys.executable, "-m", "opswap", "targets"],
    "opswap rules": [sys.executable, "-m", "opswap", "rules"],
}


def median_seconds(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    results = {name: median_seconds(argv) for name, argv in COMMANDS.items()}
    base = results["baseline: import rich, typer"]
    for name, seconds in results.items():
        print(f"{name:32} {seconds * 1000:7.0f} ms   {seconds / base:5.1f}x")


if __name__ == "__main__":
    main()
