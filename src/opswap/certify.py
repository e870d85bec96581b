"""Certificates for unary rules: the largest ULP difference from ONNX Runtime's own kernel.

A unary rule (one float input, one output, default attributes) is run by itself, against the source
op's ORT CPU kernel, on float32 inputs: every one of the 2^32 bit patterns (``full``), or a seeded
sample plus the special values. NaN handling: NaN against NaN counts as equal; NaN against a number
is a mismatch, counted apart. ±0 compare equal. ±inf must match exactly (otherwise a mismatch).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper

from opswap.rules import all_rules
from opswap.rules.base import Builder, ConstantPool, NameGen, Rule
from opswap.rules.values import RuleNotApplicable, Value
from opswap.typeinfo import ELEMENTWISE

#: Newest opset ONNX Runtime's CPU kernels are asked to run here.
ORT_OPSET = 21
CHUNK = 1 << 24
FLOAT = onnx.TensorProto.FLOAT

SPECIAL = np.array(
    [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754944e-38, 3.4028235e38, -3.4028235e38],
    dtype=np.float32,
)


@dataclass
class Certificate:
    """The result of certifying one rule."""

    rule: str
    op_type: str
    inputs: int
    max_ulp: int
    #: An input where the largest ULP difference occurs.
    worst_input: float
    #: The largest absolute difference over inputs where both sides are finite.
    max_abs: float
    #: Inputs where one side is NaN and the other is not, or infinities differ.
    mismatches: int
    full: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the fields as they are)."""
        return dataclasses.asdict(self)


def unary_rules() -> list[Rule]:
    """Rules whose source op takes one float tensor and gives one, runnable by ORT at :data:`ORT_OPSET`."""
    chosen = []
    for rule in all_rules():
        try:
            schema = onnx.defs.get_schema(rule.op_type, ORT_OPSET, rule.domain)
        except onnx.defs.SchemaError:
            continue
        if schema.min_input != 1 or schema.max_input != 1 or schema.min_output != 1:
            continue
        allowed = {c.type_param_str: list(c.allowed_type_strs) for c in schema.type_constraints}
        if "tensor(float)" not in allowed.get(schema.inputs[0].type_str, []):
            continue
        # Elementwise only: same type out as in, no axes; rules that read shapes for ops known to be elementwise.
        if schema.outputs[0].type_str != schema.inputs[0].type_str:
            continue
        if rule.shapes and rule.op_type not in ELEMENTWISE:
            continue
        if {"axis", "axes"} & set(schema.attributes):
            continue
        if _models(rule) is not None:
            chosen.append(rule)
    return chosen


def _models(rule: Rule) -> tuple[bytes, bytes] | None:
    """The single-op model and the rule's rewrite of it, serialized; None if the rule does not apply.

    The input is [CHUNK], or [1, 1, CHUNK] (one channel) for rules that read shapes: the op is
    elementwise, so the layout does not change what is computed.
    """
    shape = [1, 1, CHUNK] if rule.shapes else [CHUNK]
    graph = helper.make_graph([], "rule", [helper.make_tensor_value_info("x", FLOAT, shape)], [])
    names = NameGen(["x", "y"])
    op = Builder(ORT_OPSET, names, ConstantPool(graph, names), "rule")
    op.source_version = int(onnx.defs.get_schema(rule.op_type, ORT_OPSET, rule.domain).since_version)
    try:
        result = rule.apply(op, [Value("x", FLOAT, tuple(shape))], {}, 1)
    except RuleNotApplicable:
        return None
    out = result[0] if isinstance(result, tuple) else result
    graph.node.extend(op.nodes)
    graph.node.append(helper.make_node("Identity", [out.name], ["y"]))
    graph.output.append(helper.make_tensor_value_info("y", FLOAT, shape))
    original = helper.make_graph(
        [helper.make_node(rule.op_type, ["x"], ["y"], domain=rule.domain)],
        "op",
        [helper.make_tensor_value_info("x", FLOAT, shape)],
        [helper.make_tensor_value_info("y", FLOAT, shape)],
    )
    opsets = [helper.make_opsetid("", ORT_OPSET)]
    return (
        helper.make_model(original, opset_imports=opsets, ir_version=10).SerializeToString(),
        helper.make_model(graph, opset_imports=opsets, ir_version=10).SerializeToString(),
    )


def _chunks(full: bool, samples: int, seed: int) -> Iterator[np.ndarray]:
    if full:
        for start in range(0, 1 << 32, CHUNK):
            yield np.arange(start, start + CHUNK, dtype=np.uint64).astype(np.uint32).view(np.float32)
        return  # every bit pattern once, NaNs and infinities included
    rng = np.random.default_rng(seed)
    remaining = samples
    first = True
    while remaining > 0:
        bits = rng.integers(0, 1 << 32, size=min(CHUNK, remaining), dtype=np.uint64).astype(np.uint32)
        values = bits.view(np.float32)
        if first:
            values[: SPECIAL.size] = SPECIAL
            first = False
        remaining -= values.size
        yield values


def _ordered(bits: np.ndarray) -> np.ndarray:
    """Map float32 bit patterns to integers whose difference counts ULPs (±0 both map to 0)."""
    as_int = bits.view(np.int32).astype(np.int64)
    return np.where(as_int < 0, -(as_int & 0x7FFFFFFF), as_int)


def certify(
    rule: Rule, *, full: bool = False, samples: int = 1 << 20, seed: int = 0, on_chunk: Callable[[], None] | None = None
) -> Certificate:
    """Compare ``rule`` with ORT's kernel for its op over float32 inputs."""
    import onnxruntime as ort

    models = _models(rule)
    if models is None:
        raise RuleNotApplicable(f"{rule.id} does not apply to a default {rule.op_type} node")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    reference, candidate = (ort.InferenceSession(m, options, providers=["CPUExecutionProvider"]) for m in models)
    shape = [1, 1, CHUNK] if rule.shapes else [CHUNK]
    total, worst, worst_input, mismatches, max_abs = 0, 0, 0.0, 0, 0.0
    for x in _chunks(full, samples, seed):
        if x.size < CHUNK:
            padded = np.zeros(CHUNK, dtype=np.float32)
            padded[: x.size] = x
        else:
            padded = x
        feed = {"x": padded.reshape(shape)}
        want = reference.run(None, feed)[0].reshape(-1)[: x.size]
        got = candidate.run(None, feed)[0].reshape(-1)[: x.size]
        # Most outputs are bit-identical: look closer only where the bits differ.
        differ = np.flatnonzero(want.view(np.uint32) != got.view(np.uint32))
        total += x.size
        if on_chunk is not None:
            on_chunk()
        if not differ.size:
            continue
        w, g, inputs = want[differ], got[differ], x[differ]
        nan_w, nan_g = np.isnan(w), np.isnan(g)
        inf_differs = (np.isinf(w) | np.isinf(g)) & (w != g) & ~(nan_w | nan_g)
        mismatches += int(np.count_nonzero(nan_w != nan_g)) + int(np.count_nonzero(inf_differs))
        usable = ~(nan_w | nan_g | np.isinf(w) | np.isinf(g))
        if not usable.any():
            continue
        w, g, inputs = w[usable], g[usable], inputs[usable]
        max_abs = max(max_abs, float(np.max(np.abs(w.astype(np.float64) - g))))
        ulps = np.abs(_ordered(w.view(np.uint32)) - _ordered(g.view(np.uint32)))
        index = int(np.argmax(ulps))
        if ulps[index] > worst:
            worst, worst_input = int(ulps[index]), float(inputs[index])
    return Certificate(rule.id, rule.op_type, total, worst, worst_input, max_abs, mismatches, full)
