"""``make demo`` prints exactly what the README shows as its real output (issue 15)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_program

pytestmark = pytest.mark.torch


def readme_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    head = "## The worked example (real output of `make demo`)\n\n```text\n"
    start = text.index(head) + len(head)
    return text[start : text.index("\n```", start)].splitlines()


def test_make_demo_prints_what_the_readme_shows(tmp_path: Path) -> None:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the demo runs `opswap`
    done = run_program(["bash", str(ROOT / "scripts" / "demo.sh")], {"PATH": path, "COLUMNS": "80"}, tmp_path)
    assert done.code == 0, done.stderr[-2000:]
    printed = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout).strip("\n").splitlines()
    assert [line.rstrip() for line in printed] == readme_block()
    assert (tmp_path / "demo-output" / "fixed.onnx").is_file()
