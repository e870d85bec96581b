"""onnx-graphsurgeon: new nodes appended, the old one disconnected, then cleanup and toposort."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs


def run(src: str, dst: str) -> None:
    graph = gs.import_onnx(onnx.load(src))
    constants: dict[float, gs.Constant] = {}

    def const(value: float) -> gs.Constant:
        if value not in constants:
            constants[value] = gs.Constant(f"c_{len(constants)}", np.array(value, dtype=np.float32))
        return constants[value]

    def var(name: str) -> gs.Variable:
        return gs.Variable(name, dtype=np.float32)

    for k, node in enumerate([n for n in graph.nodes if n.op in ("HardSigmoid", "HardSwish")]):
        x, y = node.inputs[0], node.outputs[0]
        alpha = node.attrs.get("alpha", 0.2) if node.op == "HardSigmoid" else 1 / 6
        beta = node.attrs.get("beta", 0.5)
        node.outputs.clear()
        m, a = var(f"r{k}_m"), var(f"r{k}_a")
        graph.nodes.append(gs.Node("Mul", inputs=[x, const(alpha)], outputs=[m]))
        graph.nodes.append(gs.Node("Add", inputs=[m, const(beta)], outputs=[a]))
        if node.op == "HardSigmoid":
            graph.nodes.append(gs.Node("Clip", inputs=[a, const(0.0), const(1.0)], outputs=[y]))
        else:
            h = var(f"r{k}_h")
            graph.nodes.append(gs.Node("Clip", inputs=[a, const(0.0), const(1.0)], outputs=[h]))
            graph.nodes.append(gs.Node("Mul", inputs=[x, h], outputs=[y]))
    graph.cleanup().toposort()
    onnx.save(gs.export_onnx(graph), dst)
