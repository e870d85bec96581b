"""Qualcomm's own code in the loop: the QNN HTP backend, through ONNX Runtime's QNN execution provider.

``onnxruntime-qnn`` (``pip install 'opswap[qnn]'``) ships QNN's HTP backend (on x86 it prepares
graphs for a chosen SoC and runs them in simulation), its IR backend (writes ``.dlc`` files) and the
plugin execution provider for onnxruntime. Here it is used the way a deployment would use it:

* **placement**: a session with CPU fallback allowed records which nodes QNN took
  (``session.record_ep_graph_assignment_info``); every node left to the CPU is one the HTP refuses,
  named, so ``convert`` can treat its op as illegal and legalize again;
* **compile**: with CPU fallback disabled, one session writes the graph as a ``.dlc`` (the IR
  backend), another writes an EPContext model holding the compiled context binary (the file ONNX
  Runtime on a Snapdragon device loads directly);
* **verify on the target**: the EPContext model just written is loaded on the HTP, run, and compared
  with the original on ONNX Runtime's CPU in fp32 (verify's metrics); the original is compiled and
  run on the HTP too when it takes it, so the report says whether the rewrite moved the deployment
  error.

The HTP computes in fp16 here (``enable_htp_fp16_precision``; it needs ``soc_model``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx

from opswap.model import Model
from opswap.verify import Draw, VerifyReport

#: The SoC the HTP backend prepares graphs for (QNN's ``soc_model``; the value measured in the targets facts).
SOC_MODEL = "60"

#: Tolerance on max|Δ|/max|ref| against ORT's fp32 for a model run on the HTP in fp16. fp16 keeps 11
#: significant bits (a relative step of 4.9e-4); over a network's depth the error grows: MobileNetV3-Large
#: as exported (no rewrite) measured 1.5e-2 here, opswap's fix of it 9.7e-3 (targets facts). 5e-2 is
#: about 3x the measured deployment error of the unmodified model, and top-1 must still agree.
FP16_RTOL = 5e-2

#: The rest of the on-target verdict. Top-1 over the last axis means "class" only for logits; on
#: feature maps it compares near-ties, which fp16 flips (a [1, 8, 16, 16] Conv output measured 0.998),
#: so 99% of rows must agree (every row, with up to 99 samples of a classifier); cosine at least 0.999.
FP16_MIN_TOP1, FP16_MIN_COSINE = 0.99, 0.999


def qnn_version() -> str:
    """QNN's version as the HTP backend library states it (``v2.51.0.260929181845``), or "unknown"."""
    import re

    import onnxruntime_qnn

    library = Path(onnxruntime_qnn.get_library_path()).parent / "libQnnHtp.so"
    try:
        found = re.search(rb"v2\.\d+\.\d+\.\d+", library.read_bytes())
    except OSError:
        return "unknown"
    return found.group().decode() if found else "unknown"


def available() -> bool:
    """Whether onnxruntime-qnn is installed."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime_qnn") is not None


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """QNN's libraries print on file descriptors 1 and 2 themselves ("# LIBNATIVE: ..."); keep JSON clean."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


_DEVICES: list[Any] = []


def _devices() -> list[Any]:
    """The QNN EP's devices, registering the plugin library once per process."""
    if not _DEVICES:
        import onnxruntime as ort
        import onnxruntime_qnn

        ort.set_default_logger_severity(4)
        with quiet_native(), contextlib.suppress(Exception):  # already registered
            ort.register_execution_provider_library("QNNExecutionProvider", onnxruntime_qnn.get_library_path())
        _DEVICES.extend(d for d in ort.get_ep_devices() if d.ep_name == "QNNExecutionProvider")
    return _DEVICES


def _options(*, fallback: bool, record: bool = False, config: dict[str, str] | None = None, **provider: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    if not fallback:
        options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    if record:
        options.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    settings = {"backend_type": "htp", "enable_htp_fp16_precision": "1", "soc_model": SOC_MODEL, **provider}
    options.add_provider_for_devices(_devices(), settings)
    return options


def session(model: str | bytes, *, fallback: bool = False) -> Any:
    """A session on the HTP; with CPU fallback disabled (default) it fails if any node would leave it."""
    import onnxruntime as ort

    with quiet_native():
        return ort.InferenceSession(model, _options(fallback=fallback))


def refused_nodes(model: str | bytes) -> list[tuple[str, str]]:
    """The nodes the HTP does not take, as (name, op type): ONNX Runtime's own per-node assignment."""
    import onnxruntime as ort

    with quiet_native():
        placed = ort.InferenceSession(model, _options(fallback=True, record=True))
    refused = []
    for subgraph in placed.get_provider_graph_assignment_info():
        if subgraph.ep_name != "QNNExecutionProvider":
            refused += [(node.name, node.op_type) for node in subgraph.get_nodes()]
    return refused


def graph_io_quantization(model: onnx.ModelProto) -> set[str]:
    """Names of the QuantizeLinear nodes of graph inputs and DequantizeLinear nodes of graph outputs.

    ONNX Runtime's QNN provider leaves these to the CPU (it offloads graph I/O quantization), so a
    QDQ model's float inputs and outputs cross there; every other node must be on the HTP.
    """
    inputs = {i.name for i in model.graph.input}
    outputs = {o.name for o in model.graph.output}
    return {
        n.name
        for n in model.graph.node
        if (n.op_type == "QuantizeLinear" and n.input and n.input[0] in inputs)
        or (n.op_type == "DequantizeLinear" and n.output and n.output[0] in outputs)
    }


def write_dlc(model: Path, dlc: Path, *, fallback: bool = False) -> None:
    """Serialize the graph as QNN prepares it for the HTP into ``dlc`` (the IR backend's ``.dlc``).

    ``fallback``: a QDQ model's graph I/O quantization runs on the CPU (``graph_io_quantization``).
    """
    import onnxruntime as ort
    import onnxruntime_qnn

    ir_backend = str(Path(onnxruntime_qnn.get_library_path()).parent / "libQnnIr.so")
    with tempfile.TemporaryDirectory(prefix=".opswap-dlc-", dir=dlc.parent) as tmp:
        options = _options(
            fallback=fallback, dump_qnn_ir_dlc="1", dump_qnn_ir_dlc_dir=tmp, qnn_ir_backend_path=ir_backend
        )
        with quiet_native():
            ort.InferenceSession(str(model), options)
        written = sorted(Path(tmp).glob("*.dlc"))
        if len(written) != 1:
            raise RuntimeError(f"QNN's IR backend wrote {len(written)} .dlc files for one graph")
        os.replace(written[0], dlc)


def write_context(model: Path, context: Path, *, fallback: bool = False) -> None:
    """Compile for the HTP and write the EPContext model (context binary embedded) to ``context``."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix=".opswap-ctx-", dir=context.parent) as tmp:
        staged = Path(tmp) / context.name
        config = {"ep.context_enable": "1", "ep.context_file_path": str(staged), "ep.context_embed_mode": "1"}
        with quiet_native():
            ort.InferenceSession(str(model), _options(fallback=fallback, config=config))
        if not staged.is_file():
            raise RuntimeError("QNN wrote no EPContext model")
        shutil.move(str(staged), str(context))


def run_on_htp(model: str | bytes, *, fallback: bool = False) -> Any:
    """A runner ``feed -> outputs`` for ``model`` on the HTP (CPU fallback disabled), and its output names."""
    compiled = session(model, fallback=fallback)

    def run(feed: dict[str, Any]) -> list[Any]:
        with quiet_native():
            return list(compiled.run(None, feed))

    return run, [o.name for o in compiled.get_outputs()]


def context_path(dlc: Path) -> Path:
    """The EPContext model written beside a ``.dlc`` (see ``converters.converter_outputs``)."""
    from opswap.converters import CONTEXT_SUFFIX

    return dlc.with_name(dlc.stem + CONTEXT_SUFFIX)


def on_target(original: Model, model: str | bytes, draw: Draw) -> VerifyReport:
    """``model`` run on the HTP against ``original`` on ORT's CPU in fp32, at :data:`FP16_RTOL`."""
    runner, names = run_on_htp(model)
    report = draw.compare(original, runner, names, rtol=FP16_RTOL)
    report.min_top1, report.min_cosine = FP16_MIN_TOP1, FP16_MIN_COSINE
    return report


def on_target_quantized(original: Model, model: str | bytes, draw: Draw) -> tuple[VerifyReport, str]:
    """A QDQ model on the HTP in int8 against the original on the HTP, judged by the HTP's own spread.

    Both run with their graph I/O quantization on the CPU (and whatever of the original the HTP
    refuses: said in the returned note). The report compares the fixed model's outputs with the
    original's, both on the HTP, in quantization steps; its ``spread`` is the original on the HTP
    against the original on ORT's CPU: what the HTP's own arithmetic does (see
    ``VerifyReport.within_spread``).
    """
    from opswap.quant import output_steps
    from opswap.verify import _runner, measure

    fixed_run, names = run_on_htp(model, fallback=True)
    source = str(original.path) if original.path is not None else original.proto.SerializeToString()
    original_run, _ = run_on_htp(source, fallback=True)
    io = graph_io_quantization(original.proto)
    left = [op for name, op in refused_nodes(source) if name not in io]
    note = ""
    if left:
        counts = {op: left.count(op) for op in sorted(set(left))}
        note = (
            "the HTP refuses " + ", ".join(f"{op} x{n}" for op, n in counts.items()) + " of the original (run on CPU)"
        )
    cpu, _ = _runner(original, "original", {})
    steps = output_steps(original.proto, names)
    feeds = draw.feeds(original.proto)
    on_htp = [(original_run(f), fixed_run(f)) for f in feeds]
    report = measure(names, on_htp, steps=steps)
    report.spread = measure(names, [(cpu(f), pair[0]) for f, pair in zip(feeds, on_htp, strict=True)], steps=steps)
    return report, note
