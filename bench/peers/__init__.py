"""The same rewrite as ``opswap fix --target snpe-2.7`` on the chain graphs, written with each peer's
public API: HardSigmoid(x) -> Clip(x * alpha + beta, 0, 1), HardSwish(x) -> x * HardSigmoid(x) with
alpha 1/6 and beta 1/2. Each module has ``run(src, dst)``: load, rewrite, save.
"""

from __future__ import annotations

#: Module name and the package whose version the table prints.
PEERS = {
    "onnx_ir_pass": "onnx_ir",
    "graphsurgeon": "onnx_graphsurgeon",
    "onnxscript_rewriter": "onnxscript",
}
