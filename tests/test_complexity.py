"""The pipeline's core stays readable: radon grades no function in legalize, fix or check above C (issue 16)."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_rank, cc_visit

SOURCE = Path(__file__).resolve().parent.parent / "src" / "opswap"


def test_no_function_in_the_pipeline_core_is_graded_above_c() -> None:
    graded = []
    for name in ("legalize.py", "fix.py", "check.py"):
        for block in cc_visit((SOURCE / name).read_text(encoding="utf-8")):
            for item in [block, *getattr(block, "methods", [])]:
                if cc_rank(item.complexity) > "C":
                    graded.append(f"{name}:{item.lineno} {item.name} {cc_rank(item.complexity)} ({item.complexity})")
    assert graded == []
