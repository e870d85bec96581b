"""ONNX Runtime CPU latency of the fixed MobileNetV3 against the original's (issue 7, P7).

Exports torchvision's MobileNetV3-Large (opset 14, random weights, BatchNorm calibrated), fixes it
for targets without HardSwish (snpe-2.7: nor HardSigmoid; snpe-2.20: HardSigmoid only), and times
each model in ONNX Runtime with its default optimizations: batch 1, 1 and 2 threads, median of 50
runs per block, blocks interleaved three times, the median block reported. Also counts what ORT
made of each graph (layout reorders, activations fused into Conv), which explains the ratios.

    python bench/bench_latency.py            # needs torch (make bench installs it)
"""

from __future__ import annotations

import argparse
import collections
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def opswap(*args: str) -> None:
    exe = shutil.which("opswap") or str(Path(sys.executable).with_name("opswap"))
    subprocess.run([exe, *args], check=True, capture_output=True)


def block(path: Path, threads: int, runs: int) -> float:
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.random.default_rng(0).standard_normal((1, 3, 224, 224), np.float32)}
    for _ in range(10):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def what_ort_made(path: Path, tmp: Path) -> str:
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp / f"{path.stem}.ort.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(options.optimized_model_filepath).graph
    ops = collections.Counter(n.op_type for n in graph.node)
    fused = sum(
        1 for n in graph.node if n.op_type in ("Conv", "FusedConv") and any(a.name == "activation" for a in n.attribute)
    )
    elementwise = sum(ops[o] for o in ("Mul", "Add", "Clip", "Div", "HardSigmoid", "HardSwish"))
    return (
        f"{ops['ReorderInput'] + ops['ReorderOutput']} layout reorders, {fused} activations fused into Conv, "
        f"{elementwise} elementwise nodes left"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        models = {"original": tmp / "mobilenet_v3_large.onnx"}
        opswap("export", "torchvision:mobilenet_v3_large", "-o", str(models["original"]))
        for target in ("snpe-2.7", "snpe-2.20"):
            models[target] = tmp / f"fixed-{target}.onnx"
            opswap("fix", str(models["original"]), "--target", target, "-o", str(models[target]), "--no-convert")
        for label, path in models.items():
            print(f"{label:>10}: {what_ort_made(path, tmp)}")
        for threads in (1, 2):
            timings: dict[str, list[float]] = {label: [] for label in models}
            for _ in range(args.rounds):
                for label, path in models.items():
                    timings[label].append(block(path, threads, args.runs))
            base = statistics.median(timings["original"])
            ratios = "  ".join(
                f"{label} {statistics.median(t) / base:.3f}x" for label, t in timings.items() if label != "original"
            )
            print(f"threads={threads}: original {base * 1e3:.2f} ms; fixed for {ratios}")


if __name__ == "__main__":
    main()
