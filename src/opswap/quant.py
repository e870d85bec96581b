"""Quantized (QDQ) models: node units, encodings, and keeping a rewrite inside its unit.

ONNX carries a quantized model as QDQ node units: ``DequantizeLinear`` on every input of an op,
``QuantizeLinear`` on every output. A quantizing converter (QNN, SNPE, TFLite's) runs a unit in
integers with the encodings (scale, zero point) of its Q/DQ pairs; a float tensor outside any pair
has no encoding, so the converter must guess one, run it in float, or refuse.

A rewrite splices several nodes in place of one, so it creates tensors the model never had. For a
node that sat in a unit, :func:`quantize_rewrites` gives every new intermediate a Q/DQ pair and every
new constant a DQ of a quantized initializer, so the replacement is units again. Encodings are:

* **the consumer's**, for a tensor only a Clip (or Relu) reads: quantizing onto the clip's own grid
  saturates exactly where the clip would, so the clip's input costs no extra rounding;
* **exact bounds**, where the math fixes them: interval arithmetic from the encodings of the unit's
  inputs through affine ops, Clip, Relu, monotone functions (HardSigmoid's output is [0, 1]);
* **calibrated** otherwise: min/max over inputs run through the float graph (the user's, or seeded
  random ones).

Element types follow the model: activations take the unit's output zero-point type (uint8, int8,
int16, ...); weights the type and per-channel layout of the model's own weight DQs; a Conv or Gemm
bias is int32 at scale input_scale x weight_scale, as ONNX Runtime's quantizer writes it. Ranges
always include zero (an exact zero is what padding needs), as ONNX Runtime's calibrator does.
"""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

_Q, _DQ = "QuantizeLinear", "DequantizeLinear"
_QDQ_DOMAINS = ("", "ai.onnx", "com.microsoft")
_FLOATS = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE)
#: Inputs that a quantizing converter takes as plain parameters, not quantized tensors.
_PARAMETER_INPUTS = {"Clip": (1, 2), "Pad": (1, 2, 3), "Resize": (1, 2, 3), "Reshape": (1,), "Expand": (1,)}
#: Ops whose output lies within their input's range (layout and selection).
_WITHIN = frozenset(
    (
        *("Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Gather", "Split"),
        *("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax"),
        *("ReduceMin", "Concat", "Expand", "Tile", "Resize", "DepthToSpace", "SpaceToDepth", "Pad"),
    )
)
#: Monotone (non-decreasing) functions of one input.
_MONOTONE: dict[str, Callable[[float], float]] = {
    "Sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0,
    "Tanh": math.tanh,
    "Exp": lambda v: math.exp(min(v, 700.0)),
    "Erf": math.erf,
    "Floor": math.floor,
    "Ceil": math.ceil,
    "Round": round,
    "Relu": lambda v: max(v, 0.0),
    "Softplus": lambda v: math.log1p(math.exp(min(v, 700.0))),
}


def parameter_inputs(op_type: str) -> tuple[int, ...]:
    """Input positions of an op that a quantizing converter takes as parameters, not quantized."""
    return _PARAMETER_INPUTS.get(op_type, ())


def is_qdq(node: onnx.NodeProto) -> bool:
    """Whether the node is a QuantizeLinear or a DequantizeLinear."""
    return node.op_type in (_Q, _DQ) and node.domain in _QDQ_DOMAINS


@dataclass(frozen=True)
class Encoding:
    """The scale and zero point of one Q/DQ pair (per tensor, or per channel along ``axis``)."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    @property
    def qmin(self) -> int:
        """Smallest quantized value of the zero point's type."""
        return int(np.iinfo(self.zero_point.dtype).min)

    @property
    def qmax(self) -> int:
        """Largest quantized value of the zero point's type."""
        return int(np.iinfo(self.zero_point.dtype).max)

    @property
    def per_tensor(self) -> bool:
        """One scale for the whole tensor."""
        return self.scale.size == 1

    def bounds(self) -> tuple[float, float]:
        """The real values the grid spans (over every channel)."""
        scale = self.scale.astype(np.float64)
        zero = self.zero_point.astype(np.float64)
        lo, hi = scale * (self.qmin - zero), scale * (self.qmax - zero)
        return float(np.min(lo)), float(np.max(hi))

    @property
    def step(self) -> float:
        """The quantization step (the largest, for per-channel encodings)."""
        return float(np.max(self.scale))


def encoding_for(lo: float, hi: float, like: Encoding) -> Encoding:
    """An asymmetric per-tensor encoding spanning [lo, hi] and zero, in ``like``'s types."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    qmin, qmax = like.qmin, like.qmax
    dtype = like.scale.dtype
    if not hi > lo:
        return Encoding(np.array(1.0, dtype), np.array(max(qmin, min(qmax, 0)), like.zero_point.dtype))
    scale = np.array((hi - lo) / (qmax - qmin), dtype)
    zero = int(np.clip(round(qmin - lo / float(scale)), qmin, qmax))
    return Encoding(scale, np.array(zero, like.zero_point.dtype))


def _tensor(name: str, initializers: Mapping[str, onnx.TensorProto]) -> np.ndarray | None:
    tensor = initializers.get(name)
    return None if tensor is None else numpy_helper.to_array(tensor)


def read_encoding(node: onnx.NodeProto, initializers: Mapping[str, onnx.TensorProto]) -> Encoding | None:
    """The encoding of a Q or DQ node whose scale and zero point are initializers (None otherwise)."""
    if len(node.input) < 2 or any(a.name == "block_size" and a.i for a in node.attribute):
        return None
    scale_t = initializers.get(node.input[1])
    if scale_t is None:
        return None
    scale = numpy_helper.to_array(scale_t)
    if len(node.input) > 2 and node.input[2]:
        zero_t = initializers.get(node.input[2])
        if zero_t is None:
            return None
        zero = numpy_helper.to_array(zero_t)
    else:
        zero = np.zeros(scale.shape, np.uint8)  # ONNX's default zero point is uint8 0
    if zero.dtype.kind not in "iu" or scale.dtype.kind != "f":
        return None  # float8 and other non-integer grids are not handled
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1) if scale.size > 1 else None
    return Encoding(scale, zero, axis)


@dataclass
class QuantFacts:
    """What the quantization of a model's main graph looks like."""

    #: Node index -> encodings of its outputs, for nodes inside a unit (every input from a DQ, every
    #: output read only by Qs).
    units: dict[int, list[Encoding]] = field(default_factory=dict)
    #: Non-Q/DQ nodes outside any unit: what a quantizing converter runs in float or refuses.
    outside: list[tuple[int, onnx.NodeProto]] = field(default_factory=list)
    #: Float tensors computed by nodes and read by something other than a QuantizeLinear.
    unencoded: list[str] = field(default_factory=list)
    #: Encoding of each DQ output, by tensor name.
    dequantized: dict[str, Encoding] = field(default_factory=dict)
    #: The model's weight grid: zero-point type and whether per channel (from its own weight DQs).
    weight_like: Encoding | None = None
    quantized: bool = False


def facts(graph: onnx.GraphProto) -> QuantFacts:
    """Node units, nodes outside them, and encodings of the main graph (see :class:`QuantFacts`)."""
    result = QuantFacts()
    if not any(is_qdq(n) for n in graph.node):
        return result
    result.quantized = True
    initializers = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in graph.node:
        for name in n.input:
            if name:
                consumers.setdefault(name, []).append(n)
    outputs = {o.name for o in graph.output}
    float_names = _float_names(graph)
    for n in graph.node:
        if n.op_type == _DQ and n.domain in _QDQ_DOMAINS:
            encoding = read_encoding(n, initializers)
            if encoding is not None:
                result.dequantized[n.output[0]] = encoding
    # The model's weight grid: a DQ of an initializer that a Conv, MatMul or Gemm takes as its weight.
    weights = [
        result.dequantized[n.input[1]]
        for n in graph.node
        if n.op_type in ("Conv", "ConvTranspose", "MatMul", "Gemm")
        and len(n.input) > 1
        and n.input[1] in result.dequantized
    ]
    result.weight_like = next((w for w in weights if w.axis is not None), weights[0] if weights else None)
    for index, n in enumerate(graph.node):
        if is_qdq(n):
            continue
        skip = _PARAMETER_INPUTS.get(n.op_type, ())
        float_inputs = [i for k, i in enumerate(n.input) if i and i in float_names and k not in skip]
        in_unit = all(i in result.dequantized for i in float_inputs) and bool(n.output)
        encodings: list[Encoding] = []
        for out in n.output:
            readers = consumers.get(out, [])
            if out in outputs or not readers or not all(r.op_type == _Q for r in readers):
                in_unit = False
                if out and out in float_names and (readers or out in outputs):
                    result.unencoded.append(out)
                continue
            encoding = read_encoding(readers[0], initializers)
            if encoding is None:
                in_unit = False
            else:
                encodings.append(encoding)
        if in_unit:
            result.units[index] = encodings
        else:
            result.outside.append((index, n))
    return result


def _float_names(graph: onnx.GraphProto) -> set[str]:
    """Names of float tensors of the main graph, as far as declarations and DQs show."""
    names = {t.name for t in graph.initializer if t.data_type in _FLOATS}
    for info in (*graph.input, *graph.output, *graph.value_info):
        if info.type.tensor_type.elem_type in _FLOATS:
            names.add(info.name)
    for n in graph.node:
        if n.op_type == _DQ:
            names.update(n.output)
    # Computed tensors without a declaration: float when some float input feeds a non-integer op.
    for n in graph.node:
        if is_qdq(n) or n.op_type in ("Shape", "Size", "ArgMax", "ArgMin", "NonZero", "Cast"):
            continue
        if any(i in names for i in n.input[:1]):
            names.update(o for o in n.output if o)
    return names


@dataclass
class QuantizeReport:
    """What :func:`quantize_rewrites` added."""

    #: New intermediate tensors given a Q/DQ pair, by how the encoding was found.
    tensors: dict[str, int] = field(default_factory=dict)
    #: New constants given a DQ of a quantized initializer (one DQ node each).
    constants: int = 0
    #: DequantizeLinear nodes beyond one per pair: one per reader (see ``_Inserter.dedicated``).
    extra_dequantize: int = 0
    #: Rewritten units whose new tensors could not all be quantized, with why.
    skipped: list[str] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        """Q/DQ pairs added on intermediates."""
        return sum(self.tensors.values())

    @property
    def nodes(self) -> int:
        """QuantizeLinear and DequantizeLinear nodes added."""
        return 2 * self.pairs + self.constants + self.extra_dequantize

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "pairs": self.pairs,
            "by_encoding": self.tensors,
            "constants": self.constants,
            "nodes": self.nodes,
            "skipped": self.skipped,
        }


@dataclass
class UnitToKeep:
    """A unit's node before it is rewritten: the encodings its replacement must honour."""

    label: str
    outputs: list[str]
    encodings: list[Encoding]


def units_to_keep(graph: onnx.GraphProto, facts_: QuantFacts, labels: Mapping[int, str]) -> dict[str, UnitToKeep]:
    """The units among the nodes about to be rewritten (index -> label), keyed by label."""
    keep = {}
    for index, label in labels.items():
        encodings = facts_.units.get(index)
        if encodings is not None:
            node = graph.node[index]
            keep[label] = UnitToKeep(label, list(node.output), encodings)
    return keep


#: Feeds -> the values of the named tensors, per sample (the float graph run with them as outputs).
Calibrator = Callable[[onnx.ModelProto, list[str]], list[dict[str, np.ndarray]]]


def quantize_rewrites(
    model: onnx.ModelProto,
    keep: Mapping[str, UnitToKeep],
    before: set[str],
    facts_: QuantFacts,
    calibrate: Calibrator | None,
    fresh: Callable[[str], str],
) -> QuantizeReport:
    """Give the replacement of every unit in ``keep`` Q/DQ pairs (see the module docstring).

    ``before`` names every tensor computed before rewriting; a node of a replacement is one whose
    provenance (``opswap.source``) is a kept unit's label and that computes a new tensor or the
    unit's own output.
    """
    report = QuantizeReport()
    graph = model.graph
    if not keep:
        return report
    groups: dict[str, list[int]] = {}
    for label, members in _by_provenance(graph, set(keep)).items():
        outputs = keep[label].outputs
        new = [i for i, n in members if any(o and (o not in before or o in outputs) for o in n.output)]
        if new:
            groups[label] = new
    initializers = {t.name: t for t in graph.initializer}
    float_names = _float_names(graph)
    dequantized_bounds = {name: encoding.bounds() for name, encoding in facts_.dequantized.items()}
    plans: list[_GroupPlan] = []
    for label, indices in groups.items():
        plan = _plan_group(graph, keep[label], indices, initializers, dequantized_bounds, float_names)
        if isinstance(plan, str):
            report.skipped.append(f"{label}: {plan}")
        else:
            plans.append(plan)
    wanted = [t for p in plans for t, how in p.how.items() if how == "calibrated"]
    ranges = _calibrated_ranges(model, wanted, calibrate) if wanted else {}
    for plan in plans:
        for name in [t for t, how in plan.how.items() if how == "calibrated"]:
            if name not in ranges:
                report.skipped.append(f"{plan.label}: no calibration data for {name!r}")
                plan.how[name] = "unknown"
                continue
            plan.encodings[name] = encoding_for(*ranges[name], plan.like)
    replaced = _insert(graph, plans, initializers, facts_, fresh, report)
    _drop_unread(model, replaced)
    return report


def _drop_unread(model: onnx.ModelProto, names: set[str]) -> None:
    """Remove the float constants that quantized copies replaced and nothing reads any more."""
    if not names:
        return
    from opswap.graphs import iter_scopes

    read = {name for scope in iter_scopes(model) for n in scope.nodes for name in n.input}
    read.update(o.name for o in model.graph.output)
    unread = names - read
    if unread:
        kept = [t for t in model.graph.initializer if t.name not in unread]
        if len(kept) != len(model.graph.initializer):
            copies = [onnx.TensorProto() for _ in kept]
            for target, source in zip(copies, kept, strict=True):
                target.CopyFrom(source)
            del model.graph.initializer[:]
            model.graph.initializer.extend(copies)


@dataclass
class _GroupPlan:
    label: str
    indices: list[int]
    like: Encoding
    encodings: dict[str, Encoding] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    #: Constant inputs to quantize: (node index, input position).
    constants: list[tuple[int, int]] = field(default_factory=list)


def _plan_group(
    graph: onnx.GraphProto,
    unit: UnitToKeep,
    indices: list[int],
    initializers: Mapping[str, onnx.TensorProto],
    dequantized_bounds: dict[str, tuple[float, float]],
    float_names: set[str],
) -> _GroupPlan | str:
    if not unit.encodings:
        return "the unit has no output encoding"
    like = unit.encodings[0]
    plan = _GroupPlan(unit.label, indices, like)
    nodes = [graph.node[i] for i in indices]
    produced = {o for n in nodes for o in n.output if o}
    local = [o for n in nodes for o in n.output if o and o not in unit.outputs]
    # The DQ outputs' bounds are shared by every group; this group's own entries go in front.
    intervals: MutableMapping[str, tuple[float, float]] = ChainMap({}, dequantized_bounds)
    for out, encoding in zip(unit.outputs, unit.encodings, strict=False):
        plan.encodings[out] = encoding
    # Forward: exact intervals where the ops allow.
    for index, n in zip(indices, nodes, strict=True):
        for k, name in enumerate(n.input):
            if name and name not in produced and name not in intervals and name in initializers:
                values = numpy_helper.to_array(initializers[name])
                if values.dtype.kind == "f" and values.size:
                    intervals[name] = (float(values.min()), float(values.max()))
            if (
                name
                and name in initializers
                and name not in produced
                and k not in _PARAMETER_INPUTS.get(n.op_type, ())
                and initializers[name].data_type in _FLOATS
            ):
                plan.constants.append((index, k))
        for out, value in zip(n.output, _interval(n, intervals, initializers), strict=False):
            if out and value is not None:
                intervals[out] = value
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in nodes:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    # Backward: a tensor only a clip reads takes the clip's encoding; else exact bounds; else calibration.
    for name in reversed(local):
        if name not in float_names and name not in intervals:
            continue  # an integer value (a shape): not quantized
        readers = consumers.get(name, [])
        clip = readers[0] if len(readers) == 1 and readers[0].op_type in ("Clip", "Relu") else None
        if clip is not None and clip.input[0] == name and clip.output[0] in plan.encodings:
            target = plan.encodings[clip.output[0]]
            low, high = _clip_bounds(clip, initializers)
            lo, hi = target.bounds()
            if lo >= low - target.step / 2 and hi <= high + target.step / 2:
                plan.encodings[name], plan.how[name] = target, "clip's grid"
                continue
        if name in intervals and all(math.isfinite(v) for v in intervals[name]):
            plan.encodings[name], plan.how[name] = encoding_for(*intervals[name], like), "exact bounds"
        else:
            plan.how[name] = "calibrated"
    return plan


def _clip_bounds(node: onnx.NodeProto, initializers: Mapping[str, onnx.TensorProto]) -> tuple[float, float]:
    """A Clip's (or Relu's) bounds; an unknown or computed bound is no bound."""
    if node.op_type == "Relu":
        return 0.0, math.inf
    bounds = [-math.inf, math.inf]
    for a in node.attribute:  # Clip before opset 11
        if a.name in ("min", "max"):
            bounds[a.name == "max"] = a.f
    for k in (1, 2):  # Clip from opset 11: optional inputs
        if len(node.input) > k and node.input[k]:
            value = _tensor(node.input[k], initializers)
            unbounded = (-math.inf, math.inf)[k - 1]
            bounds[k - 1] = float(value.reshape(-1)[0]) if value is not None and value.size == 1 else unbounded
    return bounds[0], bounds[1]


def _interval(
    node: onnx.NodeProto, known: Mapping[str, tuple[float, float]], initializers: Mapping[str, onnx.TensorProto]
) -> list[tuple[float, float] | None]:
    """Bounds of the node's outputs from bounds of its inputs, where the op allows (None elsewhere)."""
    op = node.op_type
    ins = [known.get(i) if i else None for i in node.input]
    first = ins[0] if ins else None
    if node.domain not in ("", "ai.onnx") or first is None:
        return [None]
    lo, hi = first
    if op in _WITHIN:
        if op in ("Pad", "Concat"):
            parts = [v for v in ins if v is not None] if op == "Concat" else [first, (0.0, 0.0)]
            if op == "Concat" and len(parts) != len(ins):
                return [None]
            return [(min(p[0] for p in parts), max(p[1] for p in parts))]
        return [first] * max(1, len(node.output))
    if op in _MONOTONE:
        f = _MONOTONE[op]
        return [(f(lo), f(hi))]
    if op == "Neg":
        return [(-hi, -lo)]
    if op == "Abs":
        return [(0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))]
    if op in ("Clip", "Relu"):
        low, high = _clip_bounds(node, initializers)
        return [(min(max(lo, low), high), max(min(hi, high), low))]
    if op == "HardSigmoid":
        attrs = {a.name: a.f for a in node.attribute}
        alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
        ends = sorted((alpha * lo + beta, alpha * hi + beta))
        return [(min(max(ends[0], 0.0), 1.0), min(max(ends[1], 0.0), 1.0))]
    if op in ("Add", "Sub", "Mul", "Div", "Max", "Min") and len(ins) == 2 and ins[1] is not None:
        a, b = first, ins[1]
        if op == "Add":
            return [(a[0] + b[0], a[1] + b[1])]
        if op == "Sub":
            return [(a[0] - b[1], a[1] - b[0])]
        if op == "Max":
            return [(max(a[0], b[0]), max(a[1], b[1]))]
        if op == "Min":
            return [(min(a[0], b[0]), min(a[1], b[1]))]
        if op == "Div":
            if b[0] <= 0 <= b[1]:
                return [None]
            b = (1.0 / b[1], 1.0 / b[0])
        products = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
        return [(min(products), max(products))]
    if op == "Conv" and len(node.input) >= 2:
        return [_pointwise_conv(node, first, initializers)]
    return [None]


def _pointwise_conv(
    node: onnx.NodeProto, bounds: tuple[float, float], initializers: Mapping[str, onnx.TensorProto]
) -> tuple[float, float] | None:
    """Bounds of a one-weight-per-channel convolution (group = channels, 1x1): a per-channel affine map."""
    weight = _tensor(node.input[1], initializers)
    if weight is None or weight.ndim < 3 or weight.shape[1] != 1 or math.prod(weight.shape[2:]) != 1:
        return None
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    if group != weight.shape[0]:
        return None
    w = weight.reshape(-1).astype(np.float64)
    bias = _tensor(node.input[2], initializers) if len(node.input) > 2 and node.input[2] else None
    b = np.zeros_like(w) if bias is None else bias.reshape(-1).astype(np.float64)
    ends = np.stack([w * bounds[0] + b, w * bounds[1] + b])
    return float(ends.min()), float(ends.max())


def _calibrated_ranges(
    model: onnx.ModelProto, names: list[str], calibrate: Calibrator | None
) -> dict[str, tuple[float, float]]:
    if calibrate is None:
        return {}
    ranges: dict[str, tuple[float, float]] = {}
    for sample in calibrate(model, names):
        for name, value in sample.items():
            values = np.asarray(value, np.float64)
            finite = values[np.isfinite(values)]
            if not finite.size:
                continue
            lo, hi = float(finite.min()), float(finite.max())
            if name in ranges:
                lo, hi = min(lo, ranges[name][0]), max(hi, ranges[name][1])
            ranges[name] = (lo, hi)
    return ranges


def _insert(
    graph: onnx.GraphProto,
    plans: Sequence[_GroupPlan],
    initializers: dict[str, onnx.TensorProto],
    facts_: QuantFacts,
    fresh: Callable[[str], str],
    report: QuantizeReport,
) -> set[str]:
    """Add the Q/DQ pairs and constant DQs, rebuilding the node list once; the constants replaced."""
    inserter = _Inserter(graph, initializers, facts_, fresh, report)
    for plan in plans:
        inserter.add(plan)
    return inserter.finish()


class _Inserter:
    """Builds the Q/DQ nodes of every plan, then puts them in place in one rebuild of the node list."""

    def __init__(
        self,
        graph: onnx.GraphProto,
        initializers: dict[str, onnx.TensorProto],
        facts_: QuantFacts,
        fresh: Callable[[str], str],
        report: QuantizeReport,
    ) -> None:
        self.graph, self.initializers, self.facts, self.fresh, self.report = graph, initializers, facts_, fresh, report
        self.replaced: set[str] = set()
        self.after: dict[int, list[onnx.NodeProto]] = {}
        self.before: dict[int, list[onnx.NodeProto]] = {}
        #: A quantized constant's first DQ, by constant and use: later uses share its data, not the node.
        self.constants: dict[tuple[str, str], onnx.NodeProto] = {}
        self.grids: dict[tuple[bytes, bytes, str, str], tuple[str, str]] = {}
        #: DQ output -> the scale of the weight it dequantizes (a bias's scale is built from it).
        self.weight_scales: dict[str, np.ndarray] = {}
        self.producers = {n.output[0]: n for n in graph.node if n.op_type == _DQ and n.output}
        self.readers: dict[str, list[onnx.NodeProto]] = {}
        for n in graph.node:
            for name in n.input:
                if name in self.producers:
                    self.readers.setdefault(name, []).append(n)

    def grid(self, encoding: Encoding, stem: str) -> tuple[str, str]:
        """Initializers for an encoding's scale and zero point, shared by every pair with that encoding."""
        key = (encoding.scale.tobytes(), encoding.zero_point.tobytes(), encoding.scale.dtype.str,
               encoding.zero_point.dtype.str)  # fmt: skip
        if key not in self.grids:
            names = self.fresh(f"{stem}/scale"), self.fresh(f"{stem}/zero_point")
            self.graph.initializer.append(numpy_helper.from_array(encoding.scale, names[0]))
            self.graph.initializer.append(numpy_helper.from_array(encoding.zero_point, names[1]))
            self.grids[key] = names
        return self.grids[key]

    def add(self, plan: _GroupPlan) -> None:
        """Constants first (a DQ right before the first node that reads it), then the intermediates."""
        nodes = {i: self.graph.node[i] for i in plan.indices}
        input_encoding: dict[int, Encoding] = {}
        for index, n in nodes.items():
            first = n.input[0] if n.input else ""
            encoding = plan.encodings.get(first) or self.facts.dequantized.get(first)
            if encoding is not None:
                input_encoding[index] = encoding
        for index, k in plan.constants:
            self._constant(plan, index, nodes[index], k, input_encoding.get(index))
        self.dedicated(plan, self.readers)
        readers: dict[str, list[onnx.NodeProto]] = {}
        for n in nodes.values():
            for name in n.input:
                readers.setdefault(name, []).append(n)
        for index, n in nodes.items():
            for out in n.output:
                how = plan.how.get(out)
                if how is not None and how != "unknown":
                    self._pair(plan, index, out, how, readers.get(out, []))

    def _constant(self, plan: _GroupPlan, index: int, node: onnx.NodeProto, k: int, encoding: Encoding | None) -> None:
        name = node.input[k]
        key = (name, f"{node.op_type}:{k}:{_encoding_key(encoding)}")
        if key in self.constants:  # the same quantized data, through a DQ of this node's own
            shared = self.constants[key]
            dq = helper.make_node(
                _DQ, list(shared.input), [self.fresh(f"{name}/dequantized")], name=self.fresh(f"{name}/DQ")
            )
            dq.attribute.extend(shared.attribute)
            dq.metadata_props.extend(shared.metadata_props)
            self.before.setdefault(index, []).append(dq)
            self.weight_scales[dq.output[0]] = self.weight_scales[shared.output[0]]
            node.input[k] = dq.output[0]
            self.replaced.add(name)
            self.report.constants += 1
            return
        weight_scale = self.weight_scales.get(node.input[1]) if len(node.input) > 1 else None
        made = _quantize_constant(
            node, k, name, self.initializers, encoding, weight_scale, plan, self.facts, self.fresh
        )
        if made is None:
            self.report.skipped.append(f"{plan.label}: constant {name!r} of {node.op_type} left in float")
            return
        dq, tensors, scale = made
        self.weight_scales[dq.output[0]] = scale
        for tensor in tensors:
            self.graph.initializer.append(tensor)
            self.initializers[tensor.name] = tensor
        self.before.setdefault(index, []).append(dq)
        self.constants[key] = dq
        node.input[k] = dq.output[0]
        self.replaced.add(name)
        self.report.constants += 1

    def _pair(self, plan: _GroupPlan, index: int, out: str, how: str, readers: list[onnx.NodeProto]) -> None:
        """A Q/DQ pair right after the node that computes ``out``; its readers take the DQ's output."""
        scale, zero = self.grid(plan.encodings[out], out)
        quantized = self.fresh(f"{out}/quantized")
        made = [helper.make_node(_Q, [out, scale, zero], [quantized], name=self.fresh(f"{out}/QuantizeLinear"))]
        targets: list[onnx.NodeProto | None] = [*readers] if readers else [None]
        for reader in targets:  # one DQ per reader, as quantizers write them (see ``dedicated``)
            restored = self.fresh(f"{out}/dequantized")
            made.append(
                helper.make_node(_DQ, [quantized, scale, zero], [restored], name=self.fresh(f"{out}/DequantizeLinear"))
            )
            if reader is not None:
                for k, name in enumerate(reader.input):
                    if name == out:
                        reader.input[k] = restored
        for new in made:
            new.metadata_props.add(key="opswap.source", value=plan.label)
            new.metadata_props.add(key="opswap.encoding", value=how)
        self.after.setdefault(index, []).extend(made)
        self.report.tensors[how] = self.report.tensors.get(how, 0) + 1
        self.report.extra_dequantize += len(made) - 2

    def dedicated(self, plan: _GroupPlan, readers: Mapping[str, list[onnx.NodeProto]]) -> None:
        """A DQ of the unit's input per node of the replacement that reads it.

        ONNX Runtime's QDQ fusions (and the node units its QNN and NNAPI providers build) take a
        DequantizeLinear with one reader only; a shared one leaves the op in float.
        """
        nodes = {i: self.graph.node[i] for i in plan.indices}
        for index, node in nodes.items():
            for k, name in enumerate(node.input):
                source = self.producers.get(name)
                if source is None or len(readers.get(name, ())) < 2 or source.op_type != _DQ:
                    continue
                copy = helper.make_node(_DQ, list(source.input), [self.fresh(f"{name}/dedicated")],
                                        name=self.fresh(f"{name}/DequantizeLinear"))  # fmt: skip
                copy.attribute.extend(source.attribute)
                copy.metadata_props.add(key="opswap.source", value=plan.label)
                self.before.setdefault(index, []).append(copy)
                readers[name].remove(node)
                node.input[k] = copy.output[0]
                self.report.extra_dequantize += 1

    def finish(self) -> set[str]:
        """Rebuild the node list with the new nodes in place; the float constants now replaced."""
        if not self.after and not self.before:
            return self.replaced
        rebuilt: list[onnx.NodeProto] = []
        for index, n in enumerate(self.graph.node):
            rebuilt.extend(self.before.get(index, ()))
            rebuilt.append(n)
            rebuilt.extend(self.after.get(index, ()))
        # Copied out before the container is cleared (its messages go with it), then put back in order.
        kept = [onnx.NodeProto() for _ in rebuilt]
        for target, source in zip(kept, rebuilt, strict=True):
            target.CopyFrom(source)
        del self.graph.node[:]
        self.graph.node.extend(kept)
        return self.replaced


def _exact_bias_scales(
    node: onnx.NodeProto,
    weights: np.ndarray,
    scale: np.ndarray,
    qmax: int,
    initializers: Mapping[str, onnx.TensorProto],
    input_encoding: Encoding | None,
) -> np.ndarray:
    """Per-channel scales for a one-weight-per-channel Conv that make its bias exact in float32.

    The bias is stored in int32 at input_scale x weight_scale and dequantized in float32. Where the
    input is zero (a frequent code) the output is the bias alone, and HardSigmoid's 0.5 lies on a
    rounding boundary of its [0, 1] grid: a bias 1e-7 off moves every such code one step (measured:
    8% of a unit's codes). So each channel's weight scale is chosen, among codes k in [qmax/2, qmax],
    so that the bias comes back exactly and the weight closest to its float value
    (:func:`_exact_channel`); channels where no such scale exists keep the plain one.
    """
    if len(node.input) < 3 or node.input[2] not in initializers or input_encoding is None:
        return scale
    if not input_encoding.per_tensor or scale.dtype != np.float32:
        return scale
    bias = numpy_helper.to_array(initializers[node.input[2]]).astype(np.float32).reshape(-1)
    if bias.size != weights.size:
        return scale
    result = scale.astype(np.float32).copy()
    found: dict[tuple[float, float], float | None] = {}
    sx = float(np.float32(input_encoding.scale))
    for c, (w, b) in enumerate(zip(np.abs(weights.astype(np.float32)), bias, strict=True)):
        key = (float(w), float(b))
        if key not in found:
            found[key] = _exact_channel(float(w), float(b), sx, qmax)
        chosen = found[key]
        if chosen is not None:
            result[c] = chosen
    return result


def _exact_channel(w: float, b: float, sx: float, qmax: int) -> float | None:
    """A float32 weight scale s with fl(code x fl(sx x s)) == b for an integer code and k x s ~ w."""
    if w <= 0 or b == 0 or not math.isfinite(b):
        return None
    ks = np.arange(max(1, qmax // 2), qmax + 1, dtype=np.float64)
    ideal = b / (w * sx / ks)
    codes = np.unique(np.concatenate([np.floor(ideal), np.ceil(ideal)]))
    codes = codes[(codes != 0) & (np.abs(codes) < 2**31 - 1)]
    bias_scale = (b / codes).astype(np.float32)
    exact = (codes.astype(np.float32) * bias_scale).astype(np.float32) == np.float32(b)
    bias_scale = bias_scale[exact & (bias_scale > 0)]
    if not bias_scale.size:
        return None
    first = (bias_scale.astype(np.float64) / sx).astype(np.float32)
    nudges = np.arange(-4, 5, dtype=np.float32)
    weight_scale = (first[:, None] + nudges[None, :] * np.spacing(first)[:, None]).astype(np.float32)
    # The bias scale as quantize_rewrites stores it: float32 of the float64 product.
    same = (np.float64(sx) * weight_scale.astype(np.float64)).astype(np.float32) == bias_scale[:, None]
    k = np.round(w / weight_scale.astype(np.float64))
    usable = same & (k >= qmax // 2) & (k <= qmax)
    if not usable.any():
        return None
    error = np.where(usable, np.abs((k.astype(np.float32) * weight_scale).astype(np.float32) - np.float32(w)), np.inf)
    best = np.unravel_index(int(error.argmin()), error.shape)
    return float(weight_scale[best])


def _encoding_key(encoding: Encoding | None) -> str:
    if encoding is None:
        return ""
    return f"{encoding.scale.tobytes().hex()}:{encoding.zero_point.tobytes().hex()}"


def _quantize_constant(
    node: onnx.NodeProto,
    k: int,
    name: str,
    initializers: Mapping[str, onnx.TensorProto],
    input_encoding: Encoding | None,
    weight_scale: np.ndarray | None,
    plan: _GroupPlan,
    facts_: QuantFacts,
    fresh: Callable[[str], str],
) -> tuple[onnx.NodeProto, list[onnx.TensorProto], np.ndarray] | None:
    """A DQ of ``name`` quantized as the op wants it, its initializers and scale (None: cannot)."""
    values = numpy_helper.to_array(initializers[name]).astype(np.float64)
    scale_dtype = plan.like.scale.dtype
    weight = facts_.weight_like
    op = node.op_type
    axis: int | None = None
    if op in ("Conv", "ConvTranspose", "Gemm") and k == 2:
        # A bias: int32 at input scale x weight scale, per channel when the weight is.
        if input_encoding is None or not input_encoding.per_tensor:
            return None
        if weight_scale is None:
            return None
        scale = (float(input_encoding.scale) * weight_scale.astype(np.float64)).astype(scale_dtype)
        scale = np.where(scale == 0, np.asarray(1.0, scale_dtype), scale).astype(scale_dtype)
        if scale.size not in (1, values.size):
            return None
        quantized = np.clip(np.round(values / scale.astype(np.float64)), -(2**31), 2**31 - 1).astype(np.int32)
        zero = np.zeros(scale.shape, np.int32)
        axis = 0 if scale.size > 1 else None
    elif op in ("Conv", "ConvTranspose", "Gemm", "MatMul") and k == 1 and weight is not None:
        # A weight: symmetric, in the model's weight type, per output channel where the model does that.
        qmax = weight.qmax
        if weight.axis is not None and op in ("Conv", "ConvTranspose") and values.ndim >= 1:
            channel_axis = 1 if op == "ConvTranspose" else 0
            peak = np.abs(np.moveaxis(values, channel_axis, 0).reshape(values.shape[channel_axis], -1)).max(axis=1)
            axis = channel_axis
        else:
            peak = np.asarray(np.abs(values).max() if values.size else 0.0)
        scale = (np.where(peak > 0, peak, 1.0) / qmax).astype(scale_dtype)
        if axis == 0 and op == "Conv" and values.size == values.shape[0]:
            scale = _exact_bias_scales(node, values.reshape(-1), scale, qmax, initializers, input_encoding)
        shaped = scale.astype(np.float64)
        if axis is not None:
            shaped = shaped.reshape([-1 if d == axis else 1 for d in range(values.ndim)])
        quantized = np.clip(np.round(values / shaped), -qmax, qmax).astype(weight.zero_point.dtype)
        zero = np.zeros(scale.shape, weight.zero_point.dtype)
    else:
        # Another constant operand (a Mul's factor, an Add's term): per tensor, the unit's activation grid.
        lo = float(values.min()) if values.size else 0.0
        hi = float(values.max()) if values.size else 0.0
        encoding = encoding_for(lo, hi, plan.like)
        scale, zero = encoding.scale, encoding.zero_point
        quantized = np.clip(np.round(values / float(scale)) + int(zero), encoding.qmin, encoding.qmax).astype(
            zero.dtype
        )
    data, scale_name, zero_name = fresh(f"{name}/quantized"), fresh(f"{name}/scale"), fresh(f"{name}/zero_point")
    tensors = [
        numpy_helper.from_array(np.asarray(quantized), data),
        numpy_helper.from_array(np.asarray(scale), scale_name),
        numpy_helper.from_array(np.asarray(zero), zero_name),
    ]
    dq = helper.make_node(_DQ, [data, scale_name, zero_name], [fresh(f"{name}/dequantized")], name=fresh(f"{name}/DQ"))
    if axis is not None:
        dq.attribute.append(helper.make_attribute("axis", axis))
    dq.metadata_props.add(key="opswap.source", value=plan.label)
    return dq, tensors, np.asarray(scale)


def output_steps(model: onnx.ModelProto, names: Sequence[str]) -> list[float | None]:
    """The quantization step of each named graph output: its DQ's per-tensor scale (None: no DQ)."""
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    steps: dict[str, float] = {}
    for n in graph.node:
        if n.op_type == _DQ and n.domain in _QDQ_DOMAINS and n.output and n.output[0] in names:
            encoding = read_encoding(n, initializers)
            if encoding is not None and encoding.per_tensor:
                steps[n.output[0]] = float(encoding.scale)
    return [steps.get(name) for name in names]


def _by_provenance(graph: onnx.GraphProto, labels: set[str]) -> dict[str, list[tuple[int, onnx.NodeProto]]]:
    """Nodes that carry one of ``labels`` as their provenance (``opswap.source``), by label, in order."""
    groups: dict[str, list[tuple[int, onnx.NodeProto]]] = {}
    for index, n in enumerate(graph.node):
        source = next((e.value for e in n.metadata_props if e.key == "opswap.source"), None)
        if source is not None and source in labels and n.output:
            groups.setdefault(source, []).append((index, n))
    return groups


def rewritten_units(fixed: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """The fixed model's quantized replacements of units: label -> their nodes, in order.

    A replacement is recognised by the Q/DQ pairs :func:`quantize_rewrites` marks (``opswap.encoding``)
    and holds every node of that provenance (``opswap.source``): the rule's nodes and their Q/DQs.
    """
    labels = {
        e.value
        for n in fixed.node
        if any(m.key == "opswap.encoding" for m in n.metadata_props)
        for e in n.metadata_props
        if e.key == "opswap.source"
    }
    return {label: [n for _, n in members] for label, members in _by_provenance(fixed, labels).items()}


def compare_units(
    original: onnx.ModelProto,
    fixed: onnx.ModelProto,
    feeds: Sequence[Mapping[str, np.ndarray]],
    base_dir: Any = None,
) -> list[tuple[str, float, int, int, int]] | None:
    """Each quantized replacement against its original unit, on the same quantized inputs.

    One model holds the original graph and, beside it, a copy of every replacement reading the
    original's tensors; the copy's output goes through a copy of the unit's QuantizeLinear. Both
    codes are graph outputs, so one ONNX Runtime session (graph optimizations off: QDQ as ONNX
    defines it) compares every unit on every sample. Returns (label, step, max |Δcode|, elements,
    changed codes) per unit, or None when no replacement was quantized.
    """
    groups = rewritten_units(fixed.graph)
    if not groups:
        return None
    probe = onnx.ModelProto()
    probe.CopyFrom(original)
    graph = probe.graph
    del graph.output[:]
    have = {t.name for t in graph.initializer}
    for tensor in fixed.graph.initializer:
        if tensor.name not in have:
            graph.initializer.append(tensor)
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in original.graph.node:
        for name in n.input:
            readers.setdefault(name, []).append(n)
    computed = {o for n in original.graph.node for o in n.output if o}
    initializers = {t.name: t for t in original.graph.initializer}
    pairs: list[tuple[str, str, str, float]] = []
    suffix = "/opswap_unit_check"
    for label, nodes in groups.items():
        renamed = {o: o + suffix for n in nodes for o in n.output if o}
        outputs = [o for n in nodes for o in n.output if o in computed]
        for n in nodes:
            copy = graph.node.add()
            copy.CopyFrom(n)
            for k, name in enumerate(copy.input):
                copy.input[k] = renamed.get(name, name)
            for k, name in enumerate(copy.output):
                copy.output[k] = renamed.get(name, name)
        for out in outputs:
            quantize = next((r for r in readers.get(out, []) if r.op_type == _Q), None)
            encoding = read_encoding(quantize, initializers) if quantize is not None else None
            if quantize is None or encoding is None:
                continue
            check = graph.node.add()
            check.CopyFrom(quantize)
            check.name = quantize.name + suffix
            check.input[0] = renamed[out]
            check.output[0] = quantize.output[0] + suffix
            elem = helper.np_dtype_to_tensor_dtype(encoding.zero_point.dtype)
            for name in (quantize.output[0], check.output[0]):
                graph.output.append(helper.make_tensor_value_info(name, elem, None))
            pairs.append((label, quantize.output[0], check.output[0], encoding.step))
    if not pairs:
        return None
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    if base_dir is not None:
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(base_dir))
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in graph.output]
    figures: dict[str, list[Any]] = {}
    for feed in feeds:
        values = dict(zip(names, session.run(None, dict(feed)), strict=True))
        for label, ours, theirs, step in pairs:
            delta = np.abs(values[ours].astype(np.int64) - values[theirs].astype(np.int64))
            entry = figures.setdefault(label, [label, step, 0, 0, 0])
            entry[2] = max(entry[2], int(delta.max()) if delta.size else 0)
            entry[3] += int(delta.size)
            entry[4] += int(np.count_nonzero(delta))
    return [tuple(v) for v in figures.values()]  # type: ignore[misc]
