"""External data at scale: weights are never read, referenced beside the input, streamed elsewhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from conftest import make_model, tensor

DATA_BYTES = 320 * 2**20  # 320 MiB of float32 weights (a sparse file: nothing is written)


def _big_model(folder: Path) -> Path:
    count = DATA_BYTES // 4
    weights = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[count])
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(DATA_BYTES))):
        weights.external_data.add(key=key, value=value)
    with (folder / "weights.bin").open("wb") as data:
        data.truncate(DATA_BYTES)
    model = make_model(
        [
            helper.make_node("HardSwish", ["x"], ["h"], name="hswish"),
            helper.make_node("Add", ["h", "W"], ["y"], name="add"),
        ],
        [tensor("x", [count])],
        [tensor("y", [count])],
        initializers=[weights],
    )
    path = folder / "big.onnx"
    onnx.save(model, str(path))
    return path


def _peak_rss_mb(args: list[str]) -> tuple[int, float]:
    """Run ``python -m opswap ARGS`` in a child and return its exit code and peak RSS in MiB.

    The peak is VmHWM of the child's own address space: ru_maxrss would carry over the high-water
    mark of the (large) pytest process across fork and exec.
    """
    code = (
        "import runpy, sys\n"
        "sys.argv = ['opswap', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('opswap', run_name='__main__')\n"
        "except SystemExit as exit:\n    code = exit.code or 0\nelse:\n    code = 0\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "print(int(status) / 1024)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    return done.returncode, float(done.stdout.strip().splitlines()[-1])


def test_fix_never_reads_the_weights(tmp_path: Path) -> None:
    source = _big_model(tmp_path)
    data = tmp_path / "weights.bin"
    # Output beside the input: the data file is referenced, not copied.
    code, peak = _peak_rss_mb(
        ["fix", str(source), "--target", "snpe-2.7", "-o", str(tmp_path / "fixed.onnx"), "--no-verify"]
    )
    assert code == 0
    assert peak < 0.6 * DATA_BYTES / 2**20, f"peak RSS {peak:.0f} MiB for {DATA_BYTES / 2**20:.0f} MiB of weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "fixed.onnx", "weights.bin"]
    fixed = onnx.load(str(tmp_path / "fixed.onnx"), load_external_data=False)
    assert {e.key: e.value for e in next(t for t in fixed.graph.initializer if t.name == "W").external_data}[
        "location"
    ] == "weights.bin"
    # Output elsewhere: the data is streamed to the new folder, still without being held in memory.
    other = tmp_path / "other"
    other.mkdir()
    code, peak = _peak_rss_mb(
        ["fix", str(source), "--target", "snpe-2.7", "-o", str(other / "fixed.onnx"), "--no-verify"]
    )
    assert code == 0 and peak < 0.6 * DATA_BYTES / 2**20
    assert (other / "fixed.onnx.data").stat().st_size == DATA_BYTES  # named for its output
    assert data.stat().st_size == DATA_BYTES
    print(f"\nexternal data {DATA_BYTES / 2**20:.0f} MiB: fix peak RSS {peak:.0f} MiB (output in another folder)")
