"""What is known about a model's values: element types, shapes, and the values of small constants.

Element types come from the model's declarations, then from one pass over the ONNX schemas' type
constraints (an output typed ``T`` has the type of the inputs typed ``T``). Shapes come from the
declarations and, only when a rule asks for one that is not declared, from onnx's shape inference
(run once). Constants are initializers and Constant outputs of at most :data:`SMALL` elements: rules
may read them (axes, shapes, bounds); weights are never read.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from opswap.graphs import iter_scopes
from opswap.model import external_tensors
from opswap.schemas import output_dtypes

#: Constants up to this many elements are read for rules (axes, shapes, bounds, scalars).
SMALL = 64

Shape = tuple[int | None, ...]


class TypeIndex:
    """Lazily built facts about the values of one model."""

    def __init__(self, proto: onnx.ModelProto) -> None:
        self._proto = proto
        self._dtypes: dict[str, int] | None = None
        self._shapes: dict[str, Shape] | None = None
        self._consts: dict[str, np.ndarray] | None = None
        self._inferred = False

    def dtype(self, name: str) -> int | None:
        """The element type of a value, or None if even shape inference cannot tell."""
        if self._dtypes is None:
            self._dtypes, self._shapes = _declared(self._proto)
            _propagate_dtypes(self._proto, self._dtypes)
        dtype = self._dtypes.get(name)
        if dtype is None and not self._inferred:
            self._infer()
            dtype = self._dtypes.get(name)
        return dtype

    def shape(self, name: str) -> Shape | None:
        """The shape of a value (None entries are symbolic dims), or None if its rank is unknown."""
        self.dtype(name)
        assert self._shapes is not None
        shape = self._shapes.get(name)
        if shape is None and not self._inferred:
            self._infer()
            shape = self._shapes.get(name)
        return shape

    def const(self, name: str) -> np.ndarray | None:
        """The value of a small constant (initializer or Constant output), else None."""
        if self._consts is None:
            self._consts = _small_constants(self._proto)
        return self._consts.get(name)

    def _infer(self) -> None:
        self._inferred = True
        inferred = onnx.shape_inference.infer_shapes(self._proto, check_type=False, strict_mode=False)
        dtypes, shapes = _declared(inferred)
        assert self._dtypes is not None and self._shapes is not None
        for name, dtype in dtypes.items():
            self._dtypes.setdefault(name, dtype)
        for name, shape in shapes.items():
            self._shapes.setdefault(name, shape)


def _declared(proto: onnx.ModelProto) -> tuple[dict[str, int], dict[str, Shape]]:
    dtypes: dict[str, int] = {}
    shapes: dict[str, Shape] = {}
    for scope in iter_scopes(proto):
        owner = scope.owner
        if isinstance(owner, onnx.GraphProto):
            for info in (*owner.input, *owner.output, *owner.value_info):
                if not info.type.HasField("tensor_type"):
                    continue
                tensor_type = info.type.tensor_type
                if tensor_type.elem_type:
                    dtypes[info.name] = tensor_type.elem_type
                if tensor_type.HasField("shape"):
                    shapes[info.name] = tuple(
                        d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim
                    )
            for tensor in owner.initializer:
                dtypes[tensor.name] = tensor.data_type
                shapes[tensor.name] = tuple(tensor.dims)
        for node in scope.nodes:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].type == onnx.AttributeProto.TENSOR:
                dtypes[node.output[0]] = node.attribute[0].t.data_type
                shapes[node.output[0]] = tuple(node.attribute[0].t.dims)
    return dtypes, shapes


def _propagate_dtypes(proto: onnx.ModelProto, types: dict[str, int]) -> None:
    for scope in iter_scopes(proto):
        if scope.is_function:
            continue
        for node in scope.nodes:
            domain = "" if node.domain == "ai.onnx" else node.domain
            if domain not in scope.opsets:
                continue
            to = next((int(a.i) for a in node.attribute if a.name == "to"), None)
            dtypes = output_dtypes(node.op_type, domain, scope.opsets[domain], [types.get(i) for i in node.input], to)
            for out, dtype in zip(node.output, dtypes, strict=False):
                if out and dtype and out not in types:
                    types[out] = dtype


def _small_constants(proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    external = {t.name for t in external_tensors(proto)}
    consts: dict[str, np.ndarray] = {}
    for scope in iter_scopes(proto):
        owner = scope.owner
        if isinstance(owner, onnx.GraphProto):
            for tensor in owner.initializer:
                if tensor.name not in external and int(np.prod(tensor.dims)) <= SMALL:
                    consts[tensor.name] = numpy_helper.to_array(tensor)
        for node in scope.nodes:
            if node.op_type != "Constant" or not node.attribute:
                continue
            attr = node.attribute[0]
            if attr.type == onnx.AttributeProto.TENSOR and int(np.prod(attr.t.dims)) <= SMALL:
                consts[node.output[0]] = numpy_helper.to_array(attr.t)
            elif attr.name == "value_float":
                consts[node.output[0]] = np.asarray(attr.f, dtype=np.float32)
            elif attr.name == "value_int":
                consts[node.output[0]] = np.asarray(attr.i, dtype=np.int64)
            elif attr.name == "value_floats" and len(attr.floats) <= SMALL:
                consts[node.output[0]] = np.asarray(list(attr.floats), dtype=np.float32)
            elif attr.name == "value_ints" and len(attr.ints) <= SMALL:
                consts[node.output[0]] = np.asarray(list(attr.ints), dtype=np.int64)
    return consts
