"""The benchmark runs end to end at a tiny size, so its code cannot rot between benchmark runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_fix.py"


def test_bench_fix_smoke() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--nodes", "400"], capture_output=True, text=True, check=True)
    rows = [line.split() for line in done.stdout.splitlines() if line.strip().startswith("400")]
    assert [row[1] for row in rows] == ["load", "load+save", "check", "fix"]
    fix_row = rows[-1]
    assert float(fix_row[4]) > 0  # a time ratio was printed
