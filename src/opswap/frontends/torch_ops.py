"""The ONNX rules, run on torch tensors: one rule library for both paths.

A rule is a function of a builder (``op``) and its inputs. ``TorchBuilder`` is the ONNX builder
(``rules.base.Builder``) that also computes each node it emits with torch, so running a rule with it
gives the rule's result as a tensor, and exporting a model that does so exports the ops the rule
emitted. ``replay`` runs a route the ONNX planner chose (``legalize.plan_node``): a node the route
rewrites further is computed by its child rule, every other node by ``TORCH_OPS``, torch's form of
that ONNX op. Because the builder is the ONNX one, every rule takes the same branches here as when
it was planned.

``Legalizer`` is what a PyTorch layer replacement runs: the layer's ONNX form, written with the same
builder, where each node is judged against the target and, when illegal, replaced by its route.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

from opswap.rules.base import Builder, ConstantPool, NameGen
from opswap.rules.values import Input, Value
from opswap.targets import Target

TensorList = list[torch.Tensor | None]

_DTYPES: dict[int, torch.dtype] = {
    onnx.TensorProto.FLOAT: torch.float32,
    onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.BFLOAT16: torch.bfloat16,
    onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.INT16: torch.int16,
    onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.BOOL: torch.bool,
}
_ONNX_DTYPES = {v: k for k, v in _DTYPES.items()}


class TorchLacksOp(Exception):
    """An ONNX op (or a form of it) that ``TORCH_OPS`` does not compute."""


def torch_dtype(onnx_dtype: int) -> torch.dtype:
    """The torch element type of an ONNX one."""
    if onnx_dtype not in _DTYPES:
        raise TorchLacksOp(f"element type {helper.tensor_dtype_to_string(onnx_dtype)}")
    return _DTYPES[onnx_dtype]


def onnx_dtype(dtype: torch.dtype) -> int:
    """The ONNX element type of a torch one."""
    if dtype not in _ONNX_DTYPES:
        raise TorchLacksOp(f"element type {dtype}")
    return _ONNX_DTYPES[dtype]


def as_tensor(value: np.ndarray | onnx.TensorProto) -> torch.Tensor:
    """A constant as a tensor (copied: a numpy view may be read-only)."""
    array = numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else np.asarray(value)
    return torch.from_numpy(np.array(array, copy=True))


# --- torch's form of each ONNX op the rules emit ------------------------------------------------

Impl = Callable[[TensorList, dict[str, Any]], torch.Tensor | tuple[torch.Tensor, ...]]
TORCH_OPS: dict[str, Impl] = {}


def _impl(*op_types: str) -> Callable[[Impl], Impl]:
    def register(fn: Impl) -> Impl:
        for op_type in op_types:
            TORCH_OPS[op_type] = fn
        return fn

    return register


#: The attribute holding the value of a constant tensor the builder made, or of a static shape: read
#: where an ONNX op takes a shape or axes as an input, so no tensor's data is read back while a model
#: is exported (torch.export cannot trace a tensor's data into a Python int).
_KNOWN = "_opswap_value"


def known(array: np.ndarray) -> torch.Tensor:
    """A constant tensor whose value shape-taking ops read without touching the tensor's data."""
    tensor = as_tensor(array)
    setattr(tensor, _KNOWN, np.asarray(array))
    return tensor


def _ints(t: torch.Tensor | None) -> list[int]:
    if t is None:
        return []
    value = getattr(t, _KNOWN, None)
    return [int(v) for v in (value.reshape(-1).tolist() if value is not None else t.reshape(-1).tolist())]


def _unary(op_type: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    TORCH_OPS[op_type] = lambda x, a: fn(_t(x[0]))


def _binary(op_type: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    TORCH_OPS[op_type] = lambda x, a: fn(_t(x[0]), _t(x[1]))


def _t(value: torch.Tensor | None) -> torch.Tensor:
    if value is None:
        raise TorchLacksOp("an absent input where a tensor is needed")
    return value


_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Abs": torch.abs,
    "Neg": torch.neg,
    "Exp": torch.exp,
    "Log": torch.log,
    "Sqrt": torch.sqrt,
    "Reciprocal": torch.reciprocal,
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "Relu": torch.relu,
    "Sin": torch.sin,
    "Cos": torch.cos,
    "Tan": torch.tan,
    "Atan": torch.atan,
    "Sinh": torch.sinh,
    "Cosh": torch.cosh,
    "Ceil": torch.ceil,
    "Floor": torch.floor,
    "Round": torch.round,
    "Sign": torch.sign,
    "Erf": torch.erf,
    "IsNaN": torch.isnan,
    "Not": torch.logical_not,
    "Identity": lambda x: x,
}
for _name, _fn in _UNARY.items():
    _unary(_name, _fn)

_BINARY: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Add": torch.add,
    "Sub": torch.sub,
    "Mul": torch.mul,
    "Equal": torch.eq,
    "Less": torch.lt,
    "Greater": torch.gt,
    "LessOrEqual": torch.le,
    "GreaterOrEqual": torch.ge,
    "And": torch.logical_and,
    "Or": torch.logical_or,
    "Xor": torch.logical_xor,
    "MatMul": torch.matmul,
}
for _name, _bfn in _BINARY.items():
    _binary(_name, _bfn)


@_impl("Div")
def _div(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    num, den = _t(x[0]), _t(x[1])
    if num.dtype.is_floating_point:
        return num / den
    return torch.div(num, den, rounding_mode="trunc")  # C division, as ONNX Runtime's integer Div


@_impl("Pow")
def _pow(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return torch.pow(_t(x[0]), _t(x[1])).to(_t(x[0]).dtype)


@_impl("Mod")
def _mod(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return (torch.fmod if a.get("fmod", 0) else torch.remainder)(_t(x[0]), _t(x[1]))


def _fold(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Impl:
    return lambda x, a: functools.reduce(fn, [_t(v) for v in x])


TORCH_OPS["Max"] = _fold(torch.maximum)
TORCH_OPS["Min"] = _fold(torch.minimum)
TORCH_OPS["Sum"] = _fold(torch.add)
TORCH_OPS["Mean"] = lambda x, a: functools.reduce(torch.add, [_t(v) for v in x]) / len(x)


@_impl("Where")
def _where(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return torch.where(_t(x[0]), _t(x[1]), _t(x[2]))


@_impl("IsInf")
def _isinf(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    negative = torch.isneginf(v) if a.get("detect_negative", 1) else torch.zeros_like(v, dtype=torch.bool)
    positive = torch.isposinf(v) if a.get("detect_positive", 1) else torch.zeros_like(v, dtype=torch.bool)
    return negative | positive


@_impl("Cast")
def _cast(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return _t(x[0]).to(torch_dtype(int(a["to"])))


@_impl("Clip")
def _clip(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    low = x[1] if len(x) > 1 else a.get("min")
    high = x[2] if len(x) > 2 else a.get("max")
    return torch.clamp(_t(x[0]), low, high)  # type: ignore[arg-type]


@_impl("HardSigmoid")
def _hardsigmoid(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return torch.clamp(_t(x[0]) * float(a.get("alpha", 0.2)) + float(a.get("beta", 0.5)), 0.0, 1.0)


@_impl("Softplus")
def _softplus(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return torch.log(torch.exp(_t(x[0])) + 1.0)  # ONNX's definition, without torch's threshold


@_impl("Swish")
def _swish(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    return v * torch.sigmoid(v * float(a.get("alpha", 1.0)))


def _axes(x: TensorList, a: dict[str, Any], rank: int) -> list[int] | None:
    axes = _ints(x[1]) if len(x) > 1 and x[1] is not None else a.get("axes")
    return None if axes is None else [int(k) % max(rank, 1) for k in axes]


def _reduction(fn: Callable[[torch.Tensor, list[int], bool], torch.Tensor]) -> Impl:
    def reduce(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
        v = _t(x[0])
        axes = _axes(x, a, v.dim())
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                return v
            axes = list(range(v.dim()))
        if not axes:
            return fn(v.reshape(1), [0], False).reshape(())
        return fn(v, axes, bool(a.get("keepdims", 1)))

    return reduce


TORCH_OPS["ReduceSum"] = _reduction(lambda v, ax, k: torch.sum(v, ax, keepdim=k))
TORCH_OPS["ReduceMean"] = _reduction(lambda v, ax, k: torch.mean(v, ax, keepdim=k))
TORCH_OPS["ReduceMax"] = _reduction(lambda v, ax, k: torch.amax(v, ax, keepdim=k))
TORCH_OPS["ReduceMin"] = _reduction(lambda v, ax, k: torch.amin(v, ax, keepdim=k))


@_impl("Shape")
def _shape(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    dims = list(_t(x[0]).shape)
    start, end = a.get("start", 0), a.get("end", len(dims))
    return known(np.asarray(dims[start:end], dtype=np.int64))


@_impl("Size")
def _size(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return known(np.asarray(_t(x[0]).numel(), dtype=np.int64))


@_impl("Reshape")
def _reshape(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    shape = _ints(x[1])
    if not a.get("allowzero", 0):
        shape = [v.shape[k] if d == 0 else d for k, d in enumerate(shape)]
    return v.reshape(shape)


@_impl("Unsqueeze")
def _unsqueeze(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    raw = _ints(x[1]) if len(x) > 1 else list(a["axes"])
    rank = v.dim() + len(raw)
    for axis in sorted(k % rank for k in raw):
        v = v.unsqueeze(axis)
    return v


@_impl("Squeeze")
def _squeeze(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    axes = _axes(x, a, v.dim())
    if axes is None:
        return v.squeeze()
    for axis in sorted(axes, reverse=True):
        v = v.squeeze(axis)
    return v


@_impl("Transpose")
def _transpose(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    return v.permute(list(a.get("perm", range(v.dim() - 1, -1, -1))))


@_impl("Concat")
def _concat(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return torch.cat([_t(v) for v in x], int(a["axis"]))


@_impl("Expand")
def _expand(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    return v.expand(np.broadcast_shapes(tuple(v.shape), tuple(_ints(x[1]))))


@_impl("ConstantOfShape")
def _constant_of_shape(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    fill = as_tensor(a["value"]) if "value" in a else torch.zeros(1, dtype=torch.float32)
    return torch.full(_ints(x[0]), fill.reshape(-1)[0].item(), dtype=fill.dtype)


@_impl("Constant")
def _constant(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    if "value" in a:
        return as_tensor(a["value"])
    for key, dtype in (("value_float", torch.float32), ("value_int", torch.int64)):
        if key in a:
            return torch.tensor(a[key], dtype=dtype)
    for key, dtype in (("value_floats", torch.float32), ("value_ints", torch.int64)):
        if key in a:
            return torch.tensor(list(a[key]), dtype=dtype)
    raise TorchLacksOp(f"Constant with {sorted(a)}")


@_impl("Range")
def _range(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    start, limit, delta = (_t(v) for v in x)
    return torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype)


@_impl("CumSum")
def _cumsum(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v, axis = _t(x[0]), _ints(x[1])[0]
    if a.get("reverse", 0):
        v = v.flip(axis)
    out = torch.cumsum(v, axis).to(v.dtype)
    if a.get("exclusive", 0):
        out = out - v
    return out.flip(axis) if a.get("reverse", 0) else out


@_impl("ArgMax")
def _argmax(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v, axis, keep = _t(x[0]), int(a.get("axis", 0)), bool(a.get("keepdims", 1))
    if a.get("select_last_index", 0):
        flipped = torch.argmax(v.flip(axis), axis, keepdim=keep)
        return v.shape[axis] - 1 - flipped
    return torch.argmax(v, axis, keepdim=keep)


@_impl("Slice")
def _slice(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    starts, ends = _ints(x[1]), _ints(x[2])
    axes = _ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
    steps = _ints(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
    for first, last, along, step in zip(starts, ends, axes, steps, strict=True):
        axis = along % v.dim()
        size = v.shape[axis]
        start, end = first + size if first < 0 else first, last + size if last < 0 else last
        if step > 0:
            start, end = min(max(start, 0), size), min(max(end, 0), size)
        else:
            start, end = min(max(start, 0), size - 1), min(max(end, -1), size - 1)
        v = v.index_select(axis, torch.arange(start, end, step, dtype=torch.int64))
    return v


@_impl("Gather")
def _gather(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v, index = _t(x[0]), _t(x[1]).to(torch.int64)
    axis = int(a.get("axis", 0)) % v.dim()
    index = torch.where(index < 0, index + v.shape[axis], index)
    picked = v.index_select(axis, index.reshape(-1))
    return picked.reshape((*v.shape[:axis], *index.shape, *v.shape[axis + 1 :]))


@_impl("Conv")
def _conv(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v, weight, bias = _t(x[0]), _t(x[1]), x[2] if len(x) > 2 else None
    spatial = v.dim() - 2
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise TorchLacksOp("Conv with auto_pad")
    pads = list(a.get("pads", [0] * 2 * spatial))
    begin, end = pads[:spatial], pads[spatial:]
    if begin != end:
        v = F.pad(v, [p for k in reversed(range(spatial)) for p in (begin[k], end[k])])
        begin = [0] * spatial
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}.get(spatial)
    if conv is None:
        raise TorchLacksOp(f"Conv over {spatial} spatial dims")
    strides, dilations = list(a.get("strides", [1] * spatial)), list(a.get("dilations", [1] * spatial))
    return conv(v, weight, bias, strides, begin, dilations, int(a.get("group", 1)))


@_impl("GlobalAveragePool")
def _global_average_pool(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v = _t(x[0])
    return v.mean(list(range(2, v.dim())), keepdim=True)


TORCH_OPS["Softmax"] = lambda x, a: torch.softmax(_t(x[0]), int(a.get("axis", -1)))
TORCH_OPS["LogSoftmax"] = lambda x, a: torch.log_softmax(_t(x[0]), int(a.get("axis", -1)))


@_impl("NonZero")
def _nonzero(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    return torch.nonzero(_t(x[0])).T.contiguous()


@_impl("Compress")
def _compress(x: TensorList, a: dict[str, Any]) -> torch.Tensor:
    v, keep = _t(x[0]), torch.nonzero(_t(x[1]).to(torch.bool)).reshape(-1)
    if "axis" not in a:
        return v.reshape(-1).index_select(0, keep)
    return v.index_select(int(a["axis"]) % v.dim(), keep)


def run_op(op_type: str, inputs: TensorList, attrs: dict[str, Any], n_outputs: int) -> list[torch.Tensor]:
    """Compute one ONNX node with torch."""
    impl = TORCH_OPS.get(op_type)
    if impl is None:
        raise TorchLacksOp(op_type)
    out = impl(inputs, attrs)
    outs = list(out) if isinstance(out, tuple) else [out]
    if len(outs) < n_outputs:
        raise TorchLacksOp(f"{op_type} with {n_outputs} outputs")
    return outs[:n_outputs]


# --- the builder ---------------------------------------------------------------------------------


class TorchBuilder(Builder):
    """The ONNX builder, also computing every node it emits with torch (``tensors``, by value name).

    ``route_for(index, node)`` says which emitted nodes are rewritten further: their outputs come
    from their own route, replayed, instead of from ``TORCH_OPS``.
    """

    def __init__(
        self,
        opset: int,
        route_for: Callable[[int, onnx.NodeProto, list[Value | None]], Any],
        names: NameGen | None = None,
    ) -> None:
        names = names or NameGen(token="t")  # one per replayed tree: a child's names never meet its inputs'
        super().__init__(opset, names, ConstantPool(None, names), "torch")
        self.tensors: dict[str, torch.Tensor] = {}
        self._route_for = route_for

    def bind(self, value: Value | None, tensor: torch.Tensor | None) -> None:
        """Give a rule input its tensor."""
        if value is not None and tensor is not None:
            self.values[value.name] = value
            self.tensors[value.name] = tensor

    def tensor(self, value: Value | None) -> torch.Tensor | None:
        """The tensor of a value this builder knows."""
        return None if value is None else self.tensors[value.name]

    def _emit(
        self, op_type: str, inputs: tuple[Input, ...], attrs: dict[str, Any], n_outputs: int, dtype: int | None = None
    ) -> tuple[Value, ...]:
        values = super()._emit(op_type, inputs, attrs, n_outputs, dtype)
        node = self.nodes[-1]
        ins = [self.values[n] if n else None for n in node.input]
        tensors = [self.tensors[n] if n else None for n in node.input]
        computed = self._route_for(len(self.nodes) - 1, node, ins)
        if computed is None:
            node_attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            computed = run_op(op_type, tensors, node_attrs, n_outputs)
        else:
            computed = computed(tensors)
        for value, tensor in zip(values, computed, strict=False):
            if tensor is not None:
                self.tensors[value.name] = tensor
        return values

    def constant(self, value: float | int | np.ndarray, dtype: int) -> Value:
        """The ONNX builder's constant, also as a tensor."""
        made = super().constant(value, dtype)
        if made.name not in self.tensors:
            array = np.asarray(made.const)
            if dtype == onnx.TensorProto.BFLOAT16:
                self.tensors[made.name] = as_tensor(array.astype(np.float32)).to(torch.bfloat16)
            else:
                self.tensors[made.name] = known(array.astype(helper.tensor_dtype_to_np_dtype(dtype)))
        return made

    def initializer(self, value: np.ndarray | onnx.TensorProto, dtype: int | None = None) -> Value:
        """The ONNX builder's constant output, also as a tensor."""
        made = super().initializer(value, dtype)
        if made.name in self.initializers:
            self.tensors[made.name] = as_tensor(self.initializers[made.name])
        return made


def replay(
    route: Any,
    node: onnx.NodeProto,
    inputs: Sequence[Value | None],
    tensors: TensorList,
    opset: int,
    names: NameGen | None = None,
) -> TensorList:
    """Run ``route`` (a ``legalize.Route``) on ``node``'s inputs as torch tensors; its outputs in order.

    An output the node leaves unnamed is None.

    ``inputs`` are the facts the route was planned on (``legalize.NodePlan.inputs``).
    """
    from opswap.legalize import _matched_outputs
    from opswap.schemas import since_version

    children = dict(route.children)
    names = names or NameGen(token="t")

    def route_for(index: int, emitted: onnx.NodeProto, ins: list[Value | None]) -> Any:
        child = children.get(index)
        if child is None:
            return None
        return lambda ts: replay(child, emitted, ins, ts, opset, names)

    op = TorchBuilder(opset, route_for, names)
    op.source_version = since_version(node.op_type, node.domain, opset)
    for value, tensor in zip(inputs, tensors, strict=False):
        op.bind(value, tensor)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    result = route.rule.apply(op, list(inputs), attrs, len(node.output))
    # Paired with the node's outputs as the planner pairs them (a rule may skip unused ones).
    wanted, outs = _matched_outputs(route.rule, node, list(result) if isinstance(result, tuple) else [result])
    named = dict(zip(wanted, outs, strict=False))
    return [op.tensor(named[name]) if name else None for name in node.output]


def _fact(v: Value | None) -> tuple[Any, ...] | None:
    """What a route may depend on of one input."""
    if v is None:
        return None
    return (v.dtype, v.shape, None if v.const is None else (v.const.dtype.str, v.const.tobytes()))


class NoLegalRoute(Exception):
    """A node of a layer's ONNX form that has no legal route for the target."""


class Legalizer:
    """Runs a layer's ONNX form on tensors for one target: legal nodes by torch, illegal ones by their route.

    Routes are planned by ``legalize.plan_node`` (the ONNX path's planner), once per op, attributes
    and input facts, and kept.
    """

    def __init__(self, target: Target, opset: int) -> None:
        self.target = target
        self.opset = opset
        self._plans: dict[tuple[Any, ...], Any] = {}
        #: Every route used, described (``hardswish_via_onnx_function > hardsigmoid_via_clip``).
        self.routes: set[str] = set()

    def run(
        self, form: Callable[..., Value], tensors: Sequence[torch.Tensor | None], opset: int, weights: int = 0
    ) -> torch.Tensor:
        """Compute ``form(op, *values)`` on ``tensors`` at ``opset`` (at least the form's op's first version).

        The last ``weights`` tensors are the layer's parameters: constants in the exported model, so
        planned as static inputs (their values are not read, so a route never depends on them).
        """
        with warnings.catch_warnings():
            # Tracing warns that shapes and constants become constants of the trace: they are, by design.
            warnings.simplefilter("ignore", getattr(torch.jit, "TracerWarning", Warning))
            return self._run(form, tensors, opset, weights)

    def _run(
        self, form: Callable[..., Value], tensors: Sequence[torch.Tensor | None], opset: int, weights: int
    ) -> torch.Tensor:
        first_weight = len(tensors) - weights
        weight_names = {f"in_{k}" for k in range(first_weight, len(tensors))}
        op = TorchBuilder(opset, lambda index, node, ins: self._route(node, ins, opset, weight_names))
        values = []
        for k, tensor in enumerate(tensors):
            shape = None if tensor is None else tuple(int(d) for d in tensor.shape)
            value = None if tensor is None else Value(f"in_{k}", onnx_dtype(tensor.dtype), shape)
            op.bind(value, tensor)
            values.append(value)
        return _t(op.tensor(form(op, *values)))

    def _route(self, node: onnx.NodeProto, ins: list[Value | None], opset: int, weights: set[str]) -> Any:
        from opswap.legalize import DeadEnd, plan_node

        facts = tuple(_fact(v) for v in ins)
        static = frozenset(k for k, v in enumerate(ins) if v is not None and v.name in weights)
        attributes = tuple(a.SerializeToString() for a in node.attribute)
        key = (node.op_type, attributes, facts, static, len(node.output), opset)
        plan = self._plans.get(key)
        if plan is None:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            plan = plan_node(node.op_type, ins, attrs, len(node.output), opset, self.target, static=static)
            self._plans[key] = plan
        if plan.route is None:
            return None
        if isinstance(plan.route, DeadEnd):
            raise NoLegalRoute(plan.route.explain().splitlines()[0])
        self.routes.add(f"{node.op_type}: {plan.route.describe()}")
        return lambda ts: replay(plan.route, plan.node, plan.inputs, ts, opset)
