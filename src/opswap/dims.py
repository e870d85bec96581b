"""Symbolic input dimensions written as the values a user gives, for targets that need fixed shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opswap.model import Model


def fix_dims(model: Model, input_shapes: Mapping[str, Sequence[int]]) -> dict[str, int]:
    """Write the given input shapes into the model, for targets that need fixed shapes.

    Each symbolic dimension of a named input takes its value there and wherever else the main graph
    declares it (outputs, value_info), as ONNX
    Runtime's ``make_dynamic_shape_fixed`` does. Returns the dimensions fixed, by symbolic name (or
    ``input[axis]`` for an unnamed one), with their values. Shapes of another rank are left to
    verification, which names them.
    """
    graph = model.proto.graph
    fixed: dict[str, int] = {}
    named: dict[str, int] = {}
    for info in graph.input:
        dims = input_shapes.get(info.name)
        shape = info.type.tensor_type.shape
        if dims is None or len(dims) != len(shape.dim):
            continue
        for axis, (dim, value) in enumerate(zip(shape.dim, dims, strict=True)):
            if dim.HasField("dim_value"):
                continue
            if dim.dim_param:
                named[dim.dim_param] = fixed[dim.dim_param] = int(value)
            else:
                fixed[f"{info.name}[{axis}]"] = int(value)
            dim.dim_value = int(value)  # clears dim_param (one of the two)
    for info in [*graph.output, *graph.value_info]:
        for dim in info.type.tensor_type.shape.dim:
            if dim.dim_param in named:
                dim.dim_value = named[dim.dim_param]
    return fixed
