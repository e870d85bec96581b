"""A direct pass over onnx-ir's objects: insert the replacement, rewire the uses, remove the node."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir


def _constant(graph: ir.Graph, name: str, value: float) -> ir.Value:
    if name not in graph.initializers:
        graph.register_initializer(ir.Value(name=name, const_value=ir.tensor(np.array(value, dtype=np.float32))))
    return graph.initializers[name]


def _hardsigmoid(graph: ir.Graph, x: ir.Value, alpha: float, beta: float) -> tuple[list[ir.Node], ir.Value]:
    mul = ir.Node("", "Mul", [x, _constant(graph, f"alpha_{alpha}", alpha)])
    add = ir.Node("", "Add", [mul.outputs[0], _constant(graph, f"beta_{beta}", beta)])
    clip = ir.Node("", "Clip", [add.outputs[0], _constant(graph, "zero", 0.0), _constant(graph, "one", 1.0)])
    return [mul, add, clip], clip.outputs[0]


def run(src: str, dst: str) -> None:
    model = ir.load(src)
    graph = model.graph
    for node in list(graph):
        if node.op_type not in ("HardSigmoid", "HardSwish"):
            continue
        x = node.inputs[0]
        assert x is not None
        if node.op_type == "HardSigmoid":
            alpha = node.attributes.get_float("alpha", 0.2)
            beta = node.attributes.get_float("beta", 0.5)
            new, out = _hardsigmoid(graph, x, alpha, beta)
        else:
            new, gate = _hardsigmoid(graph, x, 1 / 6, 0.5)
            new.append(ir.Node("", "Mul", [x, gate]))
            out = new[-1].outputs[0]
        graph.insert_before(node, new)
        old = node.outputs[0]
        ir.convenience.replace_all_uses_with(old, out)
        if old in graph.outputs:
            graph.outputs[graph.outputs.index(old)] = out
            out.name, old.name = old.name, f"{old.name}_replaced"
        graph.remove(node, safe=True)
    ir.save(model, dst)
