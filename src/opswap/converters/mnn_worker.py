"""Convert with MNN and run the result, in a process of its own, serving requests one per line.

MNN is native code: on some node tests its runtime dies (a floating point exception was seen here),
which must not take opswap down, and starting Python with MNN for every model costs a second. So one
worker process serves JSON requests on stdin and answers on stdout; the parent restarts it if it
dies. Arrays travel as .npz files (no pickle).

    {"model": "m.onnx", "artifact": "m.mnn"}                        -> {"ok": true} or {"ok": false, "log": ...}
    {"model": ..., "artifact": ..., "inputs": "in.npz", "outputs": "out.npz", "names": [...]}  -> runs it too
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from opswap.converters.serving import serve


def _convert(source: str, artifact: str) -> tuple[bool, str]:
    import _tools  # MNN's converter entry point (not its console script, which runs pip and logs)

    # The converter prints its verdict from native code: send file descriptor 1 to a file meanwhile.
    with tempfile.TemporaryFile() as log:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(log.fileno(), 1)
        try:
            _tools.mnnconvert(
                ["mnnconvert", "-f", "ONNX", "--modelFile", source, "--MNNModel", artifact, "--bizCode", "opswap"]
            )
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    return "Converted Success!" in text, text


def _run(artifact: str, inputs: str, outputs: str, names: list[str]) -> None:
    import MNN
    import numpy as np

    with np.load(inputs, allow_pickle=False) as data:
        feed = {name: data[name] for name in data.files}
    net = MNN.nn.load_module_from_file(artifact, list(feed), names)
    args = [_constant(MNN.expr, v) for v in feed.values()]
    results = {f"out{k}": np.array(v.read()) for k, v in enumerate(net.forward(args))}
    np.savez(outputs, **results)  # type: ignore[arg-type]  # numpy's stub mistypes **arrays


def _constant(expr: Any, value: Any) -> Any:
    """An MNN input of ``value``'s type: MNN holds int64 as int32 and bool as uint8, as its converter does."""
    import numpy as np

    kinds = {
        "f": (np.float32, expr.float),
        "i": (np.int32, expr.int),
        "u": (np.uint8, expr.uint8),
        "b": (np.uint8, expr.uint8),
    }
    cast: Any
    if value.dtype == np.float64:
        cast, dtype = np.float64, expr.double
    elif value.dtype == np.int8:
        cast, dtype = np.int8, expr.int8
    else:
        cast, dtype = kinds.get(value.dtype.kind, (np.float32, expr.float))
    data = np.ascontiguousarray(value.astype(cast))
    return expr.const(data, list(value.shape), expr.NCHW, dtype)


def handle(request: dict[str, Any]) -> dict[str, object]:
    """Convert, and run the result when the request carries inputs."""
    ok, log = _convert(request["model"], request["artifact"])
    answer: dict[str, object] = {"ok": ok, "log": log[-2000:]}
    if ok and "inputs" in request:
        try:
            _run(request["artifact"], request["inputs"], request["outputs"], request["names"])
        except Exception as exc:  # MNN's runtime errors
            answer = {"ok": True, "ran": False, "log": f"{type(exc).__name__}: {exc}"[:500]}
        else:
            answer["ran"] = True
    return answer


if __name__ == "__main__":
    serve(handle)
