"""Speed and memory of opswap against reading and writing the file, and against its peers.

Every figure is a ratio measured in this one run (these machines are noisy: compare ratios, not
seconds). Each job runs in a fresh process, imports done before its clock starts, so its peak RSS
(VmHWM) is its own. Goals (issue 7): P1 fix <= 2x the floor (onnx.load + onnx.save) in time and
memory; P2 10x the nodes costs <= 11x the time; P3 >= 10x faster than the peers; P4 a model with
external data fixed without reading it; P5 check <= 1.2x onnx.load; P6 --help and targets < 0.5 s.
Issue 16: verification (fix's default) within 1.5x of its floor: building ONNX Runtime sessions of
the original and the fixed model and running each once, one after the other, with the options
verification uses (graph optimizations off).

    python bench/bench_fix.py --nodes 10000 100000 1000000 --peers --external-gb 8 --verify-nodes 20000 100000
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import itertools
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from graphs import chain, external  # noqa: E402
from peers import PEERS  # noqa: E402

# Imports happen before the clock starts (opswap imports onnx; the floor and the peers get the same).
_SETUP = {
    "floor": "import onnx",
    "load": "import onnx",
    # `import opswap` alone imports no onnx (the CLI starts fast): the modules a job uses are imported here.
    "check": "import opswap, opswap.check, opswap.model",
    "fix": "import opswap; from opswap.fix import fix",
    "fix+verify": "import onnxruntime, opswap; from opswap.fix import fix",
    "sessions": "import numpy as np, onnxruntime as ort",
    **{name: f"import peers.{name} as peer" for name in PEERS},
}
_JOBS = {
    "floor": "onnx.save(onnx.load(src), dst)",
    "load": "onnx.load(src)",
    # As the CLI loads: onnx's checker in a forked child beside the work (its peak memory, about the
    # model's protobuf size again, is the child's and not in the figures below).
    "check": "opswap.check(opswap.load(src, background_check=True), opswap.load_target('snpe-2.7'))",
    "fix": (
        "fix(opswap.load(src, background_check=True), opswap.load_target('snpe-2.7'), Path(dst),"
        " run_verify=False, convert=False)"
    ),
    "fix+verify": (
        "fix(opswap.load(src, background_check=True), opswap.load_target('snpe-2.7'), Path(dst), convert=False)"
    ),
    # The floor of verification: src and its fixed model (dst, written before) each built and run once.
    "sessions": (
        "options = ort.SessionOptions()\n"
        "options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL\n"
        "for path in (src, dst):\n"
        "    ort.InferenceSession(path, options, providers=['CPUExecutionProvider']).run(\n"
        "        None, {'x': np.ones([1, 16], np.float32)})"
    ),
    **{name: "peer.run(src, dst)" for name in PEERS},
}


def measure(job: str, src: Path, dst: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one job, in a fresh process."""
    code = (
        f"import sys, time\nfrom pathlib import Path\nsys.path.insert(0, {str(HERE)!r})\n{_SETUP[job]}\n"
        f"src, dst = {str(src)!r}, {str(dst)!r}\n"
        "_t0 = time.perf_counter()\n"
        f"{_JOBS[job]}\n"
        # VmHWM, not ru_maxrss: the latter keeps the parent's high-water mark across fork and exec.
        "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "print(time.perf_counter() - _t0, int(hwm) / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{job} failed: {done.stderr.strip().splitlines()[-1:]}")
    seconds, rss = done.stdout.split()[-2:]
    return float(seconds), float(rss)


def median_of(job: str, src: Path, dst: Path, repeat: int) -> tuple[float, float]:
    runs = [measure(job, src, dst) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def startup(args: list[str]) -> float:
    """Wall seconds of one CLI call, interpreter start included (median of 5)."""
    exe = shutil.which("opswap") or str(Path(sys.executable).with_name("opswap"))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([exe, *args], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_chains(sizes: list[int], peers: list[str], repeat: int, tmp: Path) -> None:
    print(f"\n{'nodes':>9} {'job':<20} {'seconds':>8} {'peak MB':>8} {'time ratio':>10} {'mem ratio':>9}")
    fix_times: dict[int, float] = {}
    speedups: list[str] = []
    for n in sizes:
        src, dst = tmp / f"chain{n}.onnx", tmp / "out.onnx"
        chain(n, src)
        results = {job: median_of(job, src, dst, repeat) for job in ("floor", "load", "check", "fix")}
        for peer in peers:
            results[peer] = measure(peer, src, dst)  # minutes at 1M: once
        fix_times[n] = results["fix"][0]
        for job, (seconds, rss) in results.items():
            base = results["load"] if job == "check" else results["floor"]
            ratio = "" if job in ("floor", "load") else f"{seconds / base[0]:>10.2f} {rss / base[1]:>9.2f}"
            print(f"{n:>9} {job:<20} {seconds:>8.2f} {rss:>8.0f} {ratio}")
        for peer in peers:
            speedups.append(f"{n:>9} fix is {results[peer][0] / results['fix'][0]:.1f}x faster than {peer}")
        src.unlink()
    print("ratios: check vs onnx.load; the rest vs the floor, onnx.load + onnx.save (fix: --no-verify)")
    ordered = sorted(fix_times)
    for small, big in itertools.pairwise(ordered):
        growth = fix_times[big] / fix_times[small]
        print(f"scaling: {big // small}x the nodes ({small} -> {big}) took {growth:.2f}x the time")
    for line in speedups:
        print(line)


def bench_verify(sizes: list[int], repeat: int, tmp: Path) -> None:
    """fix with verification against fix without it plus the floor of building and running both sessions."""
    print(f"\n{'nodes':>9} {'job':<20} {'seconds':>8} {'peak MB':>8}")
    for n in sizes:
        src, fixed, dst = tmp / f"chain{n}.onnx", tmp / "fixed.onnx", tmp / "verified.onnx"
        chain(n, src)
        measure("fix", src, fixed)
        results = {
            "fix": median_of("fix", src, dst, repeat),
            "sessions": median_of("sessions", src, fixed, repeat),
            "fix+verify": median_of("fix+verify", src, dst, repeat),
        }
        for job, (seconds, rss) in results.items():
            print(f"{n:>9} {job:<20} {seconds:>8.2f} {rss:>8.0f}")
        verification = results["fix+verify"][0] - results["fix"][0]
        print(
            f"{n:>9} verification {verification:.2f} s = {verification / results['sessions'][0]:.2f}x its floor "
            f"(sessions built and run once); fix+verify {results['fix+verify'][0] / results['fix'][0]:.1f}x fix"
        )
        src.unlink()


def bench_external(gigabytes: float, tmp: Path) -> None:
    folder = tmp / "weights"
    folder.mkdir()
    src = folder / "model.onnx"
    data = external(gigabytes, src)
    before = data.stat()
    beside, rss_beside = measure("fix", src, folder / "fixed.onnx")
    other = tmp / "elsewhere"
    other.mkdir()
    elsewhere, rss_elsewhere = measure("fix", src, other / "fixed.onnx")
    copied = other / "fixed.onnx.data"  # named for its output
    after = data.stat()
    untouched = (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    size = before.st_size / 2**30
    print(f"\nexternal data: {size:.1f} GiB in {data.name} (sparse), input data untouched: {untouched}")
    print(f"  fix, output beside the input:   {beside:6.2f} s, peak RSS {rss_beside:5.0f} MB (data referenced)")
    print(
        f"  fix, output in another folder: {elsewhere:6.2f} s, peak RSS {rss_elsewhere:5.0f} MB, "
        f"{size / elsewhere:.1f} GiB/s (data copied: {copied.exists()}, holes kept: "
        f"{copied.stat().st_blocks * 512 < copied.stat().st_size})"
    )
    dense = tmp / "dense" / "model.onnx"
    dense.parent.mkdir()
    dense_data = external(1.0, dense)
    with dense_data.open("r+b") as handle:  # fill it: a dense file copies at the disk's speed
        block = os.urandom(2**20)
        for _ in range(dense_data.stat().st_size // len(block)):
            handle.write(block)
    (tmp / "dense2").mkdir()
    seconds, rss = measure("fix", dense, tmp / "dense2" / "fixed.onnx")
    print(f"  dense 1 GiB, another folder:    {seconds:6.2f} s, peak RSS {rss:5.0f} MB, {1 / seconds:.1f} GiB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--peers", action="store_true", help="also time onnx-ir, onnx-graphsurgeon, onnxscript")
    parser.add_argument("--repeat", type=int, default=3, help="runs per opswap/floor job (median)")
    parser.add_argument("--external-gb", type=float, default=0.0, help="size of the external-data model (0: skip)")
    parser.add_argument("--verify-nodes", type=int, nargs="*", default=[], help="chains to fix with verification")
    args = parser.parse_args()

    import onnx

    import opswap

    peers = [p for p, package in PEERS.items() if args.peers and _version(package) != "not installed"]
    print(f"# opswap benchmark, {datetime.date.today().isoformat()}")
    print(
        f"cores={os.cpu_count()} python={platform.python_version()} onnx={onnx.__version__} "
        f"opswap={opswap.__version__} " + " ".join(f"{package}={_version(package)}" for package in PEERS.values())
    )
    help_seconds, targets_seconds = startup(["--help"]), startup(["targets"])
    print(f"opswap --help: {help_seconds:.2f} s, opswap targets: {targets_seconds:.2f} s (process start included)")
    with tempfile.TemporaryDirectory() as tmp:
        if args.nodes:
            bench_chains(args.nodes, peers, args.repeat, Path(tmp))
        if args.verify_nodes:
            bench_verify(args.verify_nodes, args.repeat, Path(tmp))
        if args.external_gb:
            bench_external(args.external_gb, Path(tmp))


if __name__ == "__main__":
    main()
