"""Converters from the package registries whose runtime is at hand: the converted model runs.

Its outputs are compared with ONNX Runtime's on the original.

- onnx2torch (ONNX -> PyTorch): converts in-process; the module runs in eager mode.
- MNN: its converter is native code that prints its verdict ("Converted Success!", or "These Op Not
  Support: ONNX::Mish") whatever happens, and its runtime can die on a bad model; both run in a child
  process (converters/mnn_worker.py) and its words decide. It is called as ``_tools.mnnconvert``,
  not through its console script, which runs pip and sends telemetry (see the targets facts).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from opswap.model import Model
from opswap.verify import Draw, VerifyReport

_ONNX2TORCH_MISSING = re.compile(r"operation_type='(\w+)'")
_MNN_MISSING = re.compile(r"These Op Not Support: ((?:ONNX::\w+\s*\|?\s*)+)")


@dataclass
class Outcome:
    """One conversion: did it work, what was rejected, and how the result computes."""

    converted: bool
    artifact: Path | None = None
    #: Ops the converter named as unsupported (as it spells them; matched case-insensitively).
    rejected: list[str] = field(default_factory=list)
    message: str = ""
    runtime: VerifyReport | None = None
    #: The unmodified model on the same runtime against ORT's fp32, where the runtime takes it (qnn-htp).
    runtime_original: VerifyReport | None = None
    #: Why the original was not run there.
    original_note: str = ""
    #: Every file written (the artifact first).
    files: list[Path] = field(default_factory=list)


def onnx2torch(fixed: Path, artifact: Path, original: Model, draw: Draw) -> Outcome:
    """Convert with onnx2torch, keep a TorchScript trace as the artifact, compare in eager mode."""
    try:
        import onnx2torch as converter
        import torch
    except ImportError:
        return Outcome(False, message="the onnx2torch target needs onnx2torch and torch: pip install onnx2torch")
    try:
        module = converter.convert(str(fixed))
    except Exception as exc:  # onnx2torch raises NotImplementedError for ops, KeyError and others otherwise
        text = f"{type(exc).__name__}: {exc}"
        return Outcome(False, rejected=_ONNX2TORCH_MISSING.findall(text), message=text.splitlines()[0][:300])
    module.eval()
    input_names = [
        i.name for i in original.proto.graph.input if i.name not in {t.name for t in original.proto.graph.initializer}
    ]

    def run(feed: dict[str, np.ndarray]) -> list[Any]:
        with torch.no_grad():
            out = module(*[torch.from_numpy(np.asarray(feed[n])) for n in input_names])
        return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]

    names = [o.name for o in original.proto.graph.output]
    report = draw.compare(original, run, names)
    return Outcome(True, _trace(module, original, draw, artifact), runtime=report)


def _trace(module: Any, original: Model, draw: Draw, artifact: Path) -> Path | None:
    """A TorchScript file of the converted module (no pickled Python); None if it does not trace."""
    import torch

    feed = draw.feeds(original.proto)[0]
    try:
        traced = torch.jit.trace(module, tuple(torch.from_numpy(v) for v in feed.values()))  # type: ignore[no-untyped-call]
        traced.save(str(artifact))
    except Exception:  # tracing is a convenience; the conversion itself succeeded
        return None
    return artifact


def mnn(fixed: Path, artifact: Path, original: Model, draw: Draw) -> Outcome:
    """Convert with MNN, then run the .mnn model with MNN; both in child processes."""
    failed = mnn_convert(fixed, artifact)
    if failed is not None:
        return failed
    inputs = [
        i.name for i in original.proto.graph.input if i.name not in {t.name for t in original.proto.graph.initializer}
    ]
    outputs = [o.name for o in original.proto.graph.output]

    def run(feed: dict[str, np.ndarray]) -> list[Any]:
        return mnn_run(fixed, artifact, {n: feed[n] for n in inputs}, outputs)

    return Outcome(True, artifact, runtime=draw.compare(original, run, outputs))


class Worker:
    """One worker process serving JSON lines (converters/mnn_worker.py, qnn_worker.py), restarted when it dies."""

    def __init__(self, module: str = "opswap.converters.mnn_worker") -> None:
        self._module = module
        self._process: subprocess.Popen[str] | None = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request; a worker that dies on it answers {"died": True} and is restarted next time."""
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", self._module],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        except BrokenPipeError:
            line = ""
        if line:
            return dict(json.loads(line))
        self._process.wait()
        return {"died": True, "log": f"{self._module} died (exit {self._process.returncode})"}


_WORKER = Worker()


def mnn_convert(fixed: Path, artifact: Path) -> Outcome | None:
    """Run MNN's converter; None when it says "Converted Success!", else what it rejected."""
    if importlib.util.find_spec("MNN") is None:
        return Outcome(False, message="the mnn target needs MNN: pip install MNN")
    answer = _WORKER.ask({"model": str(fixed), "artifact": str(artifact)})
    if answer.get("ok"):
        return None
    log = str(answer.get("log", ""))
    missing = [name for found in _MNN_MISSING.findall(log) for name in re.findall(r"ONNX::(\w+)", found)]
    last = log.strip().splitlines()[-1] if log.strip() else "MNN's converter failed"
    return Outcome(False, rejected=missing, message=last[:300])


def mnn_run(fixed: Path, artifact: Path, feed: dict[str, np.ndarray], outputs: list[str]) -> list[np.ndarray]:
    """Convert and run a model with MNN in the worker (MNN's runtime can die on a bad model)."""
    folder = artifact.parent
    inputs_file, outputs_file = folder / f".{artifact.name}.in.npz", folder / f".{artifact.name}.out.npz"
    np.savez(inputs_file, **feed)  # type: ignore[arg-type]  # numpy's stub mistypes **arrays
    try:
        answer = _WORKER.ask(
            {"model": str(fixed), "artifact": str(artifact), "inputs": str(inputs_file),
             "outputs": str(outputs_file), "names": outputs}
        )  # fmt: skip
        if not answer.get("ran"):
            raise RuntimeError(f"MNN could not run the model: {str(answer.get('log', ''))[-200:]}")
        with np.load(outputs_file, allow_pickle=False) as data:
            return [data[f"out{k}"] for k in range(len(outputs))]
    finally:
        inputs_file.unlink(missing_ok=True)
        outputs_file.unlink(missing_ok=True)


def qnn_htp(fixed: Path, artifact: Path, original: Model, draw: Draw) -> Outcome:
    """Compile for Qualcomm's HTP (QNN 2.51 via onnxruntime-qnn): the .dlc and the EPContext model, run there.

    Nodes the HTP refuses are found by ONNX Runtime's per-node assignment and returned as rejected
    ops. The EPContext model written is then loaded and run on the HTP and compared with the
    original on ORT's CPU (fp32) at the fp16 tolerance; the original is compiled and compared too
    where the HTP takes it.
    """
    from opswap.converters import qnn_htp as htp
    from opswap.verify import precision_of

    if not htp.available():
        return Outcome(False, message="the qnn-htp target needs onnxruntime-qnn: pip install 'opswap[qnn]'")
    # A QDQ model runs in int8 there; its graph inputs' Q and outputs' DQ stay on the CPU, by design.
    quantized = precision_of(original.proto) == "qdq"
    try:
        refused = htp.refused_nodes(str(fixed))
        if quantized:
            io = htp.graph_io_quantization(onnx.load(str(fixed), load_external_data=False))
            refused = [(name, op) for name, op in refused if name not in io]
    except Exception as exc:  # ORT's own types: the HTP cannot even partition it
        return Outcome(False, message=f"QNN HTP: {_first_line(exc)}")
    if refused:
        ops = sorted({op for _, op in refused})
        if quantized and set(ops) - _QDQ_OPS:
            # A refused unit is refused whole, with its Q and DQ: the op at fault is the unit's own.
            ops = sorted(set(ops) - _QDQ_OPS)
        shown = ", ".join(name or op for name, op in refused[:3]) + (", ..." if len(refused) > 3 else "")
        return Outcome(False, rejected=ops, message=f"the HTP refuses {len(refused)} nodes ({shown})")
    context = htp.context_path(artifact)
    try:
        htp.write_dlc(fixed, artifact, fallback=quantized)
        htp.write_context(fixed, context, fallback=quantized)
        if quantized:
            runtime, note = htp.on_target_quantized(original, str(context), draw)
            return Outcome(True, artifact, runtime=runtime, original_note=note, files=[artifact, context])
        runtime = htp.on_target(original, str(context), draw)
    except Exception as exc:  # QNN's and ORT's own errors, in their words
        return Outcome(False, message=f"QNN HTP: {_first_line(exc)}")
    outcome = Outcome(True, artifact, runtime=runtime, files=[artifact, context])
    source = str(original.path) if original.path is not None else original.proto.SerializeToString()
    try:
        outcome.runtime_original = htp.on_target(original, source, draw)
    except Exception as exc:
        outcome.original_note = f"the HTP does not take the original as it is ({_first_line(exc)[:120]})"
    return outcome


_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
