"""Compile and run models on the QNN HTP in a process of its own, serving requests one per line.

QNN's HTP backend is native code and dies on some node tests (a segmentation fault was seen here
while probing), which must not take opswap down. One worker serves JSON requests on stdin and
answers on stdout; the parent restarts it when it dies. Arrays travel as .npz files (no pickle).

    {"model": "m.onnx", "inputs": ["in0.npz", ...], "outputs": ["out0.npz", ...]}
        -> {"ok": true} (outputs written as out0, out1, ... in each file) or {"ok": false, "log": ...}
"""

from __future__ import annotations

from typing import Any

from opswap.converters.serving import serve


def _run(model: str, inputs: list[str], outputs: list[str]) -> None:
    import numpy as np

    from opswap.converters import qnn_htp

    runner, _ = qnn_htp.run_on_htp(model)
    for source, target in zip(inputs, outputs, strict=True):
        with np.load(source, allow_pickle=False) as data:
            feed = {name: data[name] for name in data.files}
        results = {f"out{k}": np.asarray(v) for k, v in enumerate(runner(feed))}
        np.savez(target, **results)  # type: ignore[arg-type]  # numpy's stub mistypes **arrays


def handle(request: dict[str, Any]) -> dict[str, object]:
    """Compile on the HTP and run every input file; ``ok`` false with QNN's words if it refused."""
    try:
        _run(request["model"], request["inputs"], request["outputs"])
    except Exception as exc:  # ORT's and QNN's own errors: the HTP refused or failed
        return {"ok": False, "log": f"{type(exc).__name__}: {exc}"[:2000]}
    return {"ok": True}


if __name__ == "__main__":
    serve(handle)
