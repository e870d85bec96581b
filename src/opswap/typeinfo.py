"""What is known about a model's values: element types, shapes, and the values of small constants.

Element types come from the model's declarations, then from one pass over the ONNX schemas' type
constraints (an output typed ``T`` has the type of the inputs typed ``T``). Shapes come from the
declarations, then through elementwise ops by broadcasting (in the same pass when asked up front),
and only for what those cannot reach from onnx's shape inference (run once). Constants are
initializers and Constant outputs of at most :data:`SMALL` elements: rules may read them (axes,
shapes, bounds); weights are never read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
import onnx
from google.protobuf.message import EncodeError
from onnx import helper, numpy_helper

from opswap.graphs import Scope, iter_scopes, no_gc
from opswap.schemas import TYPED_BY_ATTRIBUTE, output_dtypes, output_type_sources

#: Constants up to this many elements are read for rules (axes, shapes, bounds, scalars).
SMALL = 64

#: Largest constant a fold (or a rule folding to a constant) writes, in elements: shape arithmetic is
#: tiny; folding big tensors bloats files.
MAX_FOLDED = 1 << 16


def too_big(dims: Sequence[int]) -> str | None:
    """Why a constant of shape ``dims`` may not be folded or stored, or None if it may.

    Exact integer arithmetic (no int64 overflow: ``[2**32, 2**32]`` is 2**64 elements, not 0);
    negative dimensions are refused; the one bound is :data:`MAX_FOLDED` elements.
    """
    dims = [int(d) for d in dims]
    if any(d < 0 for d in dims):
        return f"negative dimension in {dims}"
    count = math.prod(dims)
    if count > MAX_FOLDED:
        return f"{count} elements, over the {MAX_FOLDED} a folded constant may hold"
    return None


Shape = tuple[int | None, ...]


class TypeIndex:
    """Lazily built facts about the values of one model.

    Built in one pass over the nodes (element types, Constant outputs) when first asked; each op
    type's schema is read once and turned into a small propagation rule, so the per-node work is a
    dictionary lookup or two.
    """

    def __init__(self, proto: onnx.ModelProto, scopes: list[Scope] | None = None) -> None:
        self._proto = proto
        self._scopes = scopes if scopes is not None else list(iter_scopes(proto))
        self._dtypes: dict[str, int] | None = None
        self._shapes: dict[str, Shape] = {}
        self._consts: dict[str, onnx.TensorProto | onnx.AttributeProto] = {}
        self._values: dict[str, np.ndarray | None] = {}
        self._propagated = False
        self._inferred = False

    def _build(self, with_shapes: bool = False) -> dict[str, int]:
        if self._dtypes is None:
            with no_gc():
                self._dtypes = _scan(self._scopes, self._shapes, self._consts, with_shapes)
                self._propagated = with_shapes
        return self._dtypes

    def build(self, with_shapes: bool = False) -> None:
        """Index the model now; ``with_shapes`` when shapes will be asked for (saves a second pass)."""
        self._build(with_shapes)

    def known(self) -> tuple[dict[str, int], dict[str, onnx.TensorProto | onnx.AttributeProto]]:
        """For hot loops: element types found so far, and the names of constants (values via ``const``)."""
        return self._build(), self._consts

    def dtype(self, name: str) -> int | None:
        """The element type of a value, or None if even shape inference cannot tell."""
        dtypes = self._build()
        dtype = dtypes.get(name)
        if dtype is None and not self._inferred:
            self._infer()
            dtype = dtypes.get(name)
        return dtype

    def shape(self, name: str) -> Shape | None:
        """The shape of a value (None entries are symbolic dims), or None if its rank is unknown."""
        self._build()
        shape = self._shapes.get(name)
        if shape is None and not self._propagated:
            self._propagated = True
            with no_gc():
                _elementwise_shapes(self._scopes, self._shapes)
            shape = self._shapes.get(name)
        if shape is None and not self._inferred:
            self._infer()
            shape = self._shapes.get(name)
        return shape

    def const(self, name: str) -> np.ndarray | None:
        """The value of a small constant (initializer or Constant output), else None."""
        if name in self._values:
            return self._values[name]
        self._build()
        source = self._consts.get(name)
        value = None if source is None else _small_value(source)
        self._values[name] = value
        return value

    def _infer(self) -> None:
        self._inferred = True
        inferred = infer_shapes(self._proto)
        if inferred is None:
            return
        shapes: dict[str, Shape] = {}
        dtypes = _declared(list(iter_scopes(inferred)), shapes, {})
        assert self._dtypes is not None
        for name, dtype in dtypes.items():
            self._dtypes.setdefault(name, dtype)
        for name, shape in shapes.items():
            self._shapes.setdefault(name, shape)


def infer_shapes(proto: onnx.ModelProto, data_prop: bool = False) -> onnx.ModelProto | None:
    """The model with onnx's inferred shapes, or None where inference cannot run.

    It cannot for a model over protobuf's 2 GiB (it serializes the model), or one it fails on: shapes
    are then unknown, never an error.
    """
    try:
        if proto.ByteSize() >= 2**31:
            return None
        plain = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False)
        if not data_prop or not _propagation_bounded(plain):
            return plain
        return onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    except (EncodeError, ValueError, RuntimeError, onnx.shape_inference.InferenceError):
        return None  # EncodeError: over 2 GiB, where protobuf cannot even size the model


#: Largest integer tensor onnx's data propagation may be asked to materialize (in elements). It
#: stores every propagated value as a shape proto (about 100 bytes an element: Range(0, 6e7) took
#: 6.2 GB), so a model with any bigger integer value, or a Range of unknown length, is inferred
#: without it.
MAX_PROPAGATED = 1 << 12

_INTEGER_TYPES = frozenset(
    {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16, onnx.TensorProto.INT8}
    | {onnx.TensorProto.UINT64, onnx.TensorProto.UINT32, onnx.TensorProto.UINT16, onnx.TensorProto.UINT8}
)


def _propagation_bounded(inferred: onnx.ModelProto) -> bool:
    """Whether data propagation over ``inferred`` (plainly inferred) materializes only small values.

    False if any integer value of any graph (initializers, inputs, inferred values) is known to hold
    more than :data:`MAX_PROPAGATED` elements, or is produced by Range, ConstantOfShape, Expand or
    Tile with a length plain inference could not bound.
    """
    for scope in iter_scopes(inferred):
        graph = scope.owner
        if not isinstance(graph, onnx.GraphProto):
            continue
        for tensor in graph.initializer:
            if tensor.data_type in _INTEGER_TYPES and math.prod(tensor.dims) > MAX_PROPAGATED:
                return False
        known: dict[str, tuple[int, int | None]] = {}
        for info in (*graph.input, *graph.value_info, *graph.output):
            tensor_type = info.type.tensor_type
            dims = tensor_type.shape.dim
            bounded = tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims)
            size = math.prod(d.dim_value for d in dims) if bounded else None
            known[info.name] = (tensor_type.elem_type, size)
            if tensor_type.elem_type in _INTEGER_TYPES and size is not None and size > MAX_PROPAGATED:
                return False
        for node in graph.node:
            if node.op_type not in _GENERATORS or node.domain not in ("", "ai.onnx"):
                continue
            for name in node.output:
                elem_type, size = known.get(name, (0, None))
                if name and size is None and elem_type in (*_INTEGER_TYPES, 0):
                    return False  # a length only data propagation would compute: unbounded
    return True


_GENERATORS = frozenset({"Range", "ConstantOfShape", "Expand", "Tile"})


def declared_shapes(graph: onnx.GraphProto) -> dict[str, Shape]:
    """The shapes one graph declares (inputs, outputs, value_info, initializers)."""
    return declared(graph)[1]


def declared(graph: onnx.GraphProto) -> tuple[dict[str, int], dict[str, Shape]]:
    """The element types and shapes one graph declares (inputs, outputs, value_info, initializers)."""
    shapes: dict[str, Shape] = {}
    return _declared([Scope("main", graph, {})], shapes, {}), shapes


def _declared(
    scopes: list[Scope], shapes: dict[str, Shape], consts: dict[str, onnx.TensorProto | onnx.AttributeProto]
) -> dict[str, int]:
    """Element types and shapes the graphs declare (inputs, outputs, value_info, initializers)."""
    dtypes: dict[str, int] = {}
    for scope in scopes:
        owner = scope.owner
        if not isinstance(owner, onnx.GraphProto):
            continue
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
            consts[tensor.name] = tensor
    return dtypes


#: Propagation rules (see ``_rule``): skip the node, a Constant, or the general schema lookup.
_SKIP, _CONSTANT, _GENERAL = -1, -2, -3


def _rule(op_type: str, domain: str, opsets: dict[str, int], in_function: bool) -> int:
    """How a node of this op types its outputs: as its input k (k >= 0), or a marker above.

    Function bodies name their values locally, so only their Constants are recorded.
    """
    domain = "" if domain == "ai.onnx" else domain
    if domain not in opsets:
        return _SKIP
    if op_type == "Constant" and domain == "":
        return _CONSTANT
    if in_function:
        return _SKIP
    if domain == "" and op_type in ("Cast", "CastLike"):
        return _GENERAL
    sources = output_type_sources(op_type, domain, opsets[domain])
    firsts = {same[0] if same and fixed is None else None for same, fixed in sources}
    if len(firsts) == 1:
        first = firsts.pop()
        if first is not None:
            return first
    return _GENERAL


def _scan(
    scopes: list[Scope],
    shapes: dict[str, Shape],
    consts: dict[str, onnx.TensorProto | onnx.AttributeProto],
    with_shapes: bool = False,
) -> dict[str, int]:
    """Element types of every value (and, ``with_shapes``, shapes through elementwise ops) in one pass."""
    dtypes = _declared(scopes, shapes, consts)
    broadcasts: dict[tuple[Shape, ...], Shape | None] = {}
    for scope in scopes:
        # Keyed by the op type alone for the default domain (no tuple to build per node).
        rules: dict[str | tuple[str, str], int] = {}
        opsets, in_function = scope.opsets, scope.is_function
        known = dtypes.get
        for node in scope.nodes:
            op_type, domain = node.op_type, node.domain
            key = (op_type, domain) if domain else op_type
            kind = rules.get(key)
            if kind is None:
                kind = rules[key] = _rule(op_type, domain, opsets, in_function)
            if kind >= 0:
                inputs = node.input
                if len(inputs) > kind:
                    dtype = known(inputs[kind])
                    if dtype:
                        outputs = node.output
                        if len(outputs) == 1:
                            out = outputs[0]
                            if out and out not in dtypes:
                                dtypes[out] = dtype
                        else:
                            for out in outputs:
                                if out and out not in dtypes:
                                    dtypes[out] = dtype
                if with_shapes and op_type in ELEMENTWISE and not in_function:
                    _broadcast_shape(node, shapes, broadcasts)
            elif kind == _CONSTANT:
                if node.attribute:
                    attr = node.attribute[0]
                    out = node.output[0]
                    consts[out] = attr
                    if attr.type == onnx.AttributeProto.TENSOR:
                        dtypes[out] = attr.t.data_type
                        shapes[out] = tuple(attr.t.dims)
                    elif attr.name in _ATTRIBUTE_CONSTANTS:
                        dtypes.setdefault(out, _ATTRIBUTE_CONSTANTS[attr.name])
            elif kind == _GENERAL:
                domain = "" if node.domain == "ai.onnx" else node.domain
                # Only the few ops typed by an attribute get a lookup: this runs once per node.
                lookup = _attribute_of(node) if node.op_type in TYPED_BY_ATTRIBUTE else _no_attribute
                found = output_dtypes(node.op_type, domain, opsets[domain], [dtypes.get(i) for i in node.input], lookup)
                for out, dtype in zip(node.output, found, strict=False):
                    if out and dtype and out not in dtypes:
                        dtypes[out] = dtype
    return dtypes


def _no_attribute(name: str) -> object:
    return None


def _attribute_of(node: onnx.NodeProto) -> Callable[[str], object]:
    """A lookup of ``node``'s attribute values by name (None when absent)."""

    def attribute(name: str) -> object:
        found = next((a for a in node.attribute if a.name == name), None)
        return None if found is None else helper.get_attribute_value(found)

    return attribute


#: Ops whose output has the shape of their inputs broadcast together (of their one input if unary).
ELEMENTWISE = frozenset(
    (
        "Abs",
        "Acos",
        "Acosh",
        "Add",
        "And",
        "Asin",
        "Asinh",
        "Atan",
        "Atanh",
        "BitShift",
        "Cast",
        "Ceil",
        "Celu",
        "Clip",
        "Cos",
        "Cosh",
        "Div",
        "Elu",
        "Equal",
        "Erf",
        "Exp",
        "Floor",
        "Gelu",
        "Greater",
        "GreaterOrEqual",
        "HardSigmoid",
        "HardSwish",
        "Identity",
        "IsInf",
        "IsNaN",
        "LeakyRelu",
        "Less",
        "LessOrEqual",
        "Log",
        "Max",
        "Mean",
        "Min",
        "Mish",
        "Mod",
        "Mul",
        "Neg",
        "Not",
        "Or",
        "PRelu",
        "Pow",
        "Reciprocal",
        "Relu",
        "Round",
        "Selu",
        "Sigmoid",
        "Sign",
        "Sin",
        "Sinh",
        "Softplus",
        "Softsign",
        "Sqrt",
        "Sub",
        "Sum",
        "Tan",
        "Tanh",
        "ThresholdedRelu",
        "Where",
        "Xor",
    )
)


def _elementwise_shapes(scopes: list[Scope], shapes: dict[str, Shape]) -> None:
    """Shapes through elementwise ops, by broadcasting: the cheap part of shape inference.

    One pass in Python (or part of ``_scan``'s, when shapes are known to be wanted); onnx's shape
    inference (a copy of the whole model) is left for values this cannot reach, and a million-node
    chain of elementwise ops never needs it.
    """
    broadcasts: dict[tuple[Shape, ...], Shape | None] = {}
    for scope in scopes:
        if scope.is_function:
            continue
        for node in scope.nodes:
            if node.op_type in ELEMENTWISE and (not node.domain or node.domain == "ai.onnx"):
                _broadcast_shape(node, shapes, broadcasts)


def _broadcast_shape(
    node: onnx.NodeProto, shapes: dict[str, Shape], broadcasts: dict[tuple[Shape, ...], Shape | None]
) -> None:
    """Record an elementwise node's output shape: its inputs' shapes broadcast together."""
    inputs = node.input
    out = node.output[0]
    if len(inputs) == 1:  # unary: the input's shape
        shape = shapes.get(inputs[0])
        if shape is not None and out not in shapes:
            shapes[out] = shape
        return
    found = [shapes.get(name) for name in inputs if name]
    if not found or None in found or out in shapes:
        return
    key = cast(tuple[Shape, ...], tuple(found))
    broadcast = broadcasts.get(key, ())
    if broadcast == ():
        broadcast = broadcasts[key] = _broadcast(key)
    if broadcast is not None:
        shapes[out] = broadcast


def _broadcast(found: tuple[Shape, ...]) -> Shape | None:
    """Numpy-style broadcast of shapes; None entries (symbolic dims) stay None unless a 1 meets a size."""
    rank = max(len(s) for s in found)
    result: list[int | None] = []
    for position in range(rank):
        dims = {s[position - rank + len(s)] for s in found if position - rank + len(s) >= 0}
        sizes = {d for d in dims if d is not None and d != 1}
        if len(sizes) > 1:
            return None  # not broadcastable: leave it to shape inference to say so
        if sizes:
            result.append(sizes.pop())
        elif None in dims:
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


_ATTRIBUTE_CONSTANTS = {
    "value_float": onnx.TensorProto.FLOAT,
    "value_floats": onnx.TensorProto.FLOAT,
    "value_int": onnx.TensorProto.INT64,
    "value_ints": onnx.TensorProto.INT64,
}


def _small_value(source: onnx.TensorProto | onnx.AttributeProto) -> np.ndarray | None:
    """The value of an initializer or a Constant's attribute, when small and stored inside the model."""
    if isinstance(source, onnx.TensorProto):
        if source.data_location == onnx.TensorProto.EXTERNAL or math.prod(source.dims) > SMALL:
            return None
        return numpy_helper.to_array(source)
    if source.type == onnx.AttributeProto.TENSOR:
        tensor = source.t
        if tensor.data_location == onnx.TensorProto.EXTERNAL or math.prod(tensor.dims) > SMALL:
            return None
        return numpy_helper.to_array(tensor)
    if source.name == "value_float":
        return np.asarray(source.f, dtype=np.float32)
    if source.name == "value_int":
        return np.asarray(source.i, dtype=np.int64)
    if source.name == "value_floats" and len(source.floats) <= SMALL:
        return np.asarray(list(source.floats), dtype=np.float32)
    if source.name == "value_ints" and len(source.ints) <= SMALL:
        return np.asarray(list(source.ints), dtype=np.int64)
    return None
