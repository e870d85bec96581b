"""The benchmarks run end to end at tiny sizes, so their code cannot rot between benchmark runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_bench_fix_smoke() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench_fix.py"),
            "--nodes",
            "400",
            "800",
            "--peers",
            "--repeat",
            "1",
            "--external-gb",
            "0.05",
            "--verify-nodes",
            "400",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split() for line in done.stdout.splitlines() if line.strip().startswith("400")]
    rows = [row for row in rows if row[2] != "is"]  # the speed-up lines
    verified = [row for row in rows if row[1] in ("sessions", "fix+verify", "verification")]
    rows = [row for row in rows if row not in verified][:-1]  # and the verification section's own fix
    jobs = [row[1] for row in rows]
    assert jobs[:4] == ["floor", "load", "check", "fix"]
    assert set(jobs[4:]) <= {"onnx_ir_pass", "graphsurgeon", "onnxscript_rewriter"}
    assert float(rows[3][4]) > 0  # fix's time ratio was printed
    assert "scaling: 2x the nodes" in done.stdout
    assert " fix is " in done.stdout and " faster than " in done.stdout
    assert "input data untouched: True" in done.stdout
    assert "opswap --help:" in done.stdout
    assert [row[1] for row in verified] == ["sessions", "fix+verify", "verification"]
    assert "x its floor" in done.stdout


def test_bench_peers_make_the_same_model() -> None:
    """Each peer's rewrite computes what the chain computed (else the speed comparison is moot)."""
    np = pytest.importorskip("numpy")
    sys.path.insert(0, str(BENCH))
    import importlib
    import tempfile

    import onnx

    from conftest import ort_run
    from graphs import chain
    from peers import PEERS

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "chain.onnx"
        chain(64, src)
        x = {"x": np.linspace(-6, 6, 16, dtype=np.float32).reshape(1, 16)}
        (want,) = ort_run(src, x)
        for name, package in PEERS.items():
            pytest.importorskip(package)
            dst = Path(tmp) / f"{name}.onnx"
            importlib.import_module(f"peers.{name}").run(str(src), str(dst))
            model = onnx.load(str(dst))
            assert not {"HardSwish", "HardSigmoid"} & {n.op_type for n in model.graph.node}, name
            (got,) = ort_run(dst, x)
            assert np.array_equal(want, got), name
