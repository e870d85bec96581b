"""Synthetic models for the benchmarks.

``chain``: a chain of cheap elementwise ops on a [1, 16] float tensor, a quarter of them HardSwish or
HardSigmoid (illegal for snpe-2.7), every other node's constant shared. ``external``: a few nodes
whose weights live in one external data file of the given size (sparse: nothing is written but the
file's length), the case where a fix must not read or copy what it does not need.
"""

from __future__ import annotations

import os
from pathlib import Path

PATTERN = ["Add", "HardSwish", "Mul", "Relu", "Sub", "HardSigmoid", "Abs", "Neg"]


def chain(nodes: int, path: Path) -> None:
    """A chain of ``nodes`` ops on a [1, 16] float tensor, written to ``path``."""
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


def external(gigabytes: float, path: Path, tensors: int = 8) -> Path:
    """A model whose ``tensors`` weights (``gigabytes`` in all) are in one sparse external data file.

    y = HardSwish(x + w0 + w1 + ...): a reduce-free graph ONNX's checker accepts, with the weights
    as big [n] float tensors. Returns the data file.
    """
    import onnx
    from onnx import helper

    data = path.with_name(path.name + ".data")
    per = int(gigabytes * 2**30) // tensors // 4 * 4
    with data.open("wb") as handle:
        handle.truncate(per * tensors)  # sparse: no block is written
    initializers, nodes, previous = [], [], "x"
    for k in range(tensors):
        tensor = onnx.TensorProto(name=f"w{k}", data_type=onnx.TensorProto.FLOAT, dims=[per // 4])
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", data.name), ("offset", str(k * per)), ("length", str(per))):
            tensor.external_data.add(key=key, value=value)
        initializers.append(tensor)
        nodes.append(helper.make_node("Add", [previous, f"w{k}"], [f"s{k}"], name=f"add{k}"))
        previous = f"s{k}"
    nodes.append(helper.make_node("HardSwish", [previous], ["y"], name="act"))
    graph = helper.make_graph(
        nodes,
        "external",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [per // 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [per // 4])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    os.sync()
    return data
