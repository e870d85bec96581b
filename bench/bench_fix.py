"""Speed and memory of check and fix against the floor of reading and writing the file.

Synthetic chains of cheap elementwise ops, a quarter of them HardSwish/HardSigmoid (illegal for
snpe-2.7). Each measurement runs in its own process so its peak RSS is its own; all ratios come from
one run on one machine (these machines are noisy: compare ratios, not seconds).

    python bench/bench_fix.py --nodes 10000 100000          # a few minutes at 1M
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

PATTERN = ["Add", "HardSwish", "Mul", "Relu", "Sub", "HardSigmoid", "Abs", "Neg"]


def generate(nodes: int, path: Path) -> None:
    """A chain of ``nodes`` ops on a [1, 16] float tensor."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    made = []
    previous = "x"
    for i in range(nodes):
        op = PATTERN[i % len(PATTERN)]
        out = f"v{i}"
        inputs = [previous, "c"] if op in ("Add", "Mul", "Sub") else [previous]
        made.append(helper.make_node(op, inputs, [out], name=f"n{i}"))
        previous = out
    made[-1].output[0] = "y"
    graph = helper.make_graph(
        made,
        "chain",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array(np.full([1, 16], 0.5, dtype=np.float32), "c")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, str(path))


# Imports happen before the clock starts (opswap imports onnx; the floor gets the same courtesy).
_JOBS = {
    "load": "onnx.load(src)",
    "load+save": "onnx.save(onnx.load(src), dst)",
    "check": "opswap.check(opswap.load(src), opswap.load_target('snpe-2.7'))",
    "fix": "m = opswap.load(src); opswap.legalize(m, opswap.load_target('snpe-2.7')); opswap.save(m, dst)",
}


def measure(job: str, src: Path, dst: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one job, in a fresh process."""
    code = (
        "import sys, time\nimport onnx, opswap\n"
        f"src, dst = {str(src)!r}, {str(dst)!r}\n"
        "_t0 = time.perf_counter()\n"
        f"{_JOBS[job]}\n"
        # VmHWM, not ru_maxrss: the latter keeps the parent's high-water mark across fork and exec.
        "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "print(time.perf_counter() - _t0, int(hwm) / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, rss = done.stdout.split()
    return float(seconds), float(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    import onnx

    import opswap

    print(
        f"cores={os.cpu_count()} python={platform.python_version()} onnx={onnx.__version__} opswap={opswap.__version__}"
    )
    header = f"{'nodes':>9} {'job':<10} {'seconds':>8} {'peak MB':>8} {'time ratio':>10} {'mem ratio':>9}"
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.nodes:
            src, dst = Path(tmp) / f"chain{n}.onnx", Path(tmp) / "out.onnx"
            generate(n, src)
            results = {job: measure(job, src, dst) for job in _JOBS}
            floors = {"load": results["load"], "load+save": results["load+save"]}
            for job, (seconds, rss) in results.items():
                base = floors["load"] if job == "check" else floors["load+save"]
                ratio = "" if job in floors else f"{seconds / base[0]:>10.2f} {rss / base[1]:>9.2f}"
                print(f"{n:>9} {job:<10} {seconds:>8.2f} {rss:>8.0f} {ratio}")
    print("ratios: check vs onnx.load; fix (load + legalize + save, no verify) vs onnx.load + onnx.save")


if __name__ == "__main__":
    main()
