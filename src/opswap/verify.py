"""Verification with ONNX Runtime: do the original and the fixed model compute the same thing?

Both models run on ORT's CPU provider with graph optimizations off, so the comparison measures the
rewrite and not ORT's fusions. Inputs are random (seeded) unless given. Metrics, per output and over
all samples:

* ``max_abs``: the largest absolute difference;
* ``max_rel``: ``max_abs`` divided by the largest magnitude of the original's output (a scale-relative
  error, not an element-wise one, which blows up where an output crosses zero);
* ``cosine``: the smallest cosine similarity between flattened outputs;
* ``top1_agreement``: the share of rows whose argmax over the last axis agrees, for classifier-shaped
  outputs: rank 2 ([batch, classes]) or 3 ([batch, tokens, vocabulary]). Dense outputs (a
  segmentation map, a feature map) are judged by their error alone: their last axis is a width.

The verdict passes when ``max_rel <= rtol``, top-1 agrees on every row whose top two differ by more
than the tolerance (a near-tie may flip within it), integer and boolean outputs are equal, and NaNs
stand in the same places.

A comparison where every output is empty or all zeros on both sides, on every sample, is
*vacuous* (a detector that finds nothing in random inputs): it does not pass; give inputs that
exercise the model with ``--inputs``.

The tolerance follows the precision the model computes in (:func:`precision_of`): float32 and
float64 :data:`DEFAULT_RTOL`; float16 :data:`FP16_ULPS` ULPs of float16; bfloat16 as many of its own.
Where ONNX Runtime has no kernel for an op at the model's element type (most of float64), that
model runs on onnx's reference evaluator instead, and the report says so.

A quantized (QDQ) model is judged in quantization steps (see :class:`QuantizedFigures`): every
rewritten node unit is run on the *same* quantized inputs as the original unit, in one session, and
its output codes may differ by at most one step, on at most :data:`QDQ_MAX_CHANGED` of them. The
model's outputs are compared in steps too (the LSB of each output's DQ scale), with top-1; those
figures are reported, not judged: a one-step change inside a unit travels through every later layer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from opswap.errors import VerifyError
from opswap.jsonout import schema_id
from opswap.model import Model, external_tensors

#: Default tolerance on ``max_rel``: exact rewrites differ by float rounding only (about 1e-7 here).
DEFAULT_RTOL = 1e-5
DEFAULT_SAMPLES = 8
#: Float16 models: the tolerance in float16 ULPs (2**-10) of the output's largest magnitude. An exact
#: rewrite rounds to float16 after each op where ORT's kernel rounds once: HardSwish is about one ULP
#: off on its own; MobileNetV3-Large's 21 of them end 5.4 ULPs apart at the logits (measured; README).
FP16_ULPS = 10
#: Bfloat16 has 8 bits of mantissa: the same count of its own ULPs (2**-7).
BF16_ULPS = 10
#: A rewritten QDQ unit may change at most this share of its output codes, each by one step at most.
#: Splitting a unit adds a rounding (8 bits of HardSigmoid inside a HardSwish: measured 3.9% of
#: MobileNetV3-Large's HardSwish codes move one step, none more; README).
QDQ_MAX_CHANGED = 0.10
#: On a target runtime, a rewrite of a QDQ model may lower the share of outputs within one step of
#: the original's by at most this much below the runtime's own share (see ``VerifyReport.within_spread``).
SPREAD_MARGIN = 0.05
#: Intermediate values compared at most in one per-value comparison (see ``compare_values``).
MAX_COMPARED = 4096
#: Element pairs kept per output for a report's plot (see ``OutputMetrics.plotted``).
PLOTTED = 400
_ULP = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}


@dataclass
class OutputMetrics:
    """Differences on one output over all samples."""

    name: str
    max_abs: float = 0.0
    max_ref: float = 0.0
    cosine: float = 1.0
    top1_agree: int = 0
    top1_rows: int = 0
    mismatches: int = 0
    #: For each row whose argmax differs: the original's gap between its top two (a near-tie, if small).
    top1_gaps: list[float] = field(default_factory=list)
    #: The output's quantization step (the scale of the DQ that computes it), for a QDQ model.
    step: float | None = None
    #: Elements that say something: non-zero floats on either side, any integer or boolean element.
    informative: int = 0
    #: Largest difference in steps, and how many elements are identical / within one step.
    max_steps: float = 0.0
    elements: int = 0
    identical: int = 0
    within_one: int = 0
    #: Up to ``PLOTTED`` (original, candidate) element pairs of the first float sample, evenly spaced:
    #: what a report plots (not in JSON).
    plotted: list[tuple[float, float]] = field(default_factory=list, repr=False)

    @property
    def max_rel(self) -> float:
        """``max_abs`` relative to the original's largest magnitude."""
        if self.max_abs == 0.0:
            return 0.0
        return self.max_abs / self.max_ref if self.max_ref > 0 else math.inf

    def ties(self, tolerance: float) -> int:
        """Rows whose argmax differs where the original's top two are within ``tolerance``."""
        return sum(gap <= tolerance for gap in self.top1_gaps)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        steps = None
        if self.step is not None:
            steps = {
                "step": self.step,
                "max_steps": self.max_steps,
                "identical": self.identical / self.elements if self.elements else None,
                "within_one_step": self.within_one / self.elements if self.elements else None,
            }
        return {
            "name": self.name,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "cosine": self.cosine,
            "top1_agreement": self.top1_agree / self.top1_rows if self.top1_rows else None,
            "mismatches": self.mismatches,
            "steps": steps,
        }


@dataclass
class UnitFigures:
    """One rewritten QDQ unit against the original unit, on the same quantized inputs."""

    label: str
    step: float
    max_steps: int = 0
    elements: int = 0
    changed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "unit": self.label,
            "step": self.step,
            "max_steps": self.max_steps,
            "changed": self.changed / self.elements if self.elements else 0.0,
        }


@dataclass
class QuantizedFigures:
    """A QDQ model's verification in quantization steps (see the module docstring)."""

    units: list[UnitFigures] = field(default_factory=list)
    max_changed: float = QDQ_MAX_CHANGED

    @property
    def max_steps(self) -> int:
        """The largest change of any rewritten unit's output code."""
        return max((u.max_steps for u in self.units), default=0)

    @property
    def changed(self) -> float:
        """Share of the rewritten units' output codes that changed."""
        elements = sum(u.elements for u in self.units)
        return sum(u.changed for u in self.units) / elements if elements else 0.0

    @property
    def passed(self) -> bool:
        """No code moves by more than one step, and at most ``max_changed`` of them move."""
        return self.max_steps <= 1 and self.changed <= self.max_changed

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "units": len(self.units),
            "max_steps": self.max_steps,
            "changed": self.changed,
            "max_changed": self.max_changed,
            "passed": self.passed,
            "per_unit": [u.to_dict() for u in self.units],
        }


@dataclass
class ValueFigures:
    """One intermediate value both models compute, compared (see :func:`compare_values`)."""

    #: The value's name, in both models.
    name: str
    #: The original's node computing it: op type and label.
    op_type: str
    node: str
    metrics: OutputMetrics
    #: The route of the rewrite that replaced that node, when it was rewritten ("" otherwise).
    route: str = ""

    def differs(self, rtol: float) -> bool:
        """Whether the two models' values differ beyond ``rtol`` (or in shape, integers, NaNs)."""
        return bool(self.metrics.mismatches) or self.metrics.max_rel > rtol

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        m = self.metrics
        return {
            "name": self.name,
            "op_type": self.op_type,
            "node": self.node,
            "route": self.route.split(" > ") if self.route else None,
            "max_abs": m.max_abs,
            "max_rel": m.max_rel,
            "cosine": m.cosine,
            "mismatches": m.mismatches,
        }


@dataclass
class PerValue:
    """Intermediate values compared between two models, in the original's order of computation.

    The first value that differs is where the models part: a rewrite's outputs keep the replaced
    node's names, so after a failed verification the first rewritten value that differs names the
    rewrite that did it (later values differ because their inputs do).
    """

    rtol: float
    values: list[ValueFigures] = field(default_factory=list)
    #: Values past the first :data:`MAX_COMPARED` that were not compared (each is a model output held
    #: in memory on every run).
    left_out: int = 0

    @property
    def differing(self) -> list[ValueFigures]:
        """The values that differ beyond the tolerance, in order."""
        return [v for v in self.values if v.differs(self.rtol)]

    @property
    def first(self) -> ValueFigures | None:
        """The first value computed that differs (None: all agree)."""
        return next(iter(self.differing), None)

    def __str__(self) -> str:
        first = self.first
        if not self.values:
            return "no value both models compute under one name was compared"
        if first is None:
            more = f"; {self.left_out} later values not compared" if self.left_out else ""
            return f"all {len(self.values)} values compared agree (tolerance {self.rtol:g}){more}"
        how = f" ({first.route})" if first.route else ""
        return (
            f"{len(self.differing)} of {len(self.values)} values differ; the first is {first.name!r}, computed by "
            f"{first.op_type} {first.node!r}{how}: max |Δ| / max |out| = {first.metrics.max_rel:.3g} "
            f"(tolerance {self.rtol:g}), max |Δ| = {first.metrics.max_abs:.3g}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form: how many values were compared and differ, the first, and every value."""
        first = self.first
        return {
            "rtol": self.rtol,
            "compared": len(self.values),
            "left_out": self.left_out,
            "differ": len(self.differing),
            "first": first.to_dict() if first is not None else None,
            "values": [v.to_dict() for v in self.values],
        }


@dataclass
class VerifyReport:
    """The comparison of two models on the same inputs."""

    samples: int
    rtol: float
    outputs: list[OutputMetrics] = field(default_factory=list)
    #: Share of rows whose argmax must agree (1.0: all; lower for runtimes that compute in fp16).
    min_top1: float = 1.0
    #: Smallest cosine similarity allowed (None: not part of the verdict).
    min_cosine: float | None = None
    #: The precision the original computes in (see ``precision_of``): float32, float16, qdq, ...
    precision: str = "float32"
    #: Which runtime ran each model, when not ONNX Runtime's CPU provider, and why.
    runtimes: dict[str, str] = field(default_factory=dict)
    #: For a QDQ model whose rewritten units were quantized: the per-unit figures that decide.
    quantized: QuantizedFigures | None = None
    #: For a QDQ model on a target runtime: that runtime's own spread (the original there against the
    #: original on ORT's CPU). The verdict is then relative (see ``within_spread``).
    spread: VerifyReport | None = None
    #: Intermediate values compared one by one (``verify --per-node``; after a failed ``fix``, the
    #: rewritten nodes' outputs), naming where the models part.
    per_value: PerValue | None = None

    @property
    def within_one(self) -> float | None:
        """Share of output elements within one quantization step (outputs with a known step)."""
        elements = sum(o.elements for o in self.outputs if o.step is not None)
        return sum(o.within_one for o in self.outputs if o.step is not None) / elements if elements else None

    @property
    def max_steps(self) -> float | None:
        """The largest change in quantization steps (outputs with a known step)."""
        steps = [o.max_steps for o in self.outputs if o.step is not None and o.elements]
        return max(steps) if steps else None

    @property
    def within_spread(self) -> bool:
        """A rewrite moves the runtime's outputs no more than the runtime moves the original's.

        The share of outputs within one step may be at most :data:`SPREAD_MARGIN` lower than the
        runtime's own, and the largest change at most twice the runtime's own (plus one step).
        """
        spread = self.spread
        if spread is None:
            return True
        ours, theirs = self.within_one, spread.within_one
        if ours is None or theirs is None or self.max_steps is None or spread.max_steps is None:
            return False
        return ours >= theirs - SPREAD_MARGIN and self.max_steps <= 2 * spread.max_steps + 1

    def __str__(self) -> str:
        """The verdict and its main figure in one line."""
        verdict = "PASSED" if self.passed else "FAILED"
        if self.vacuous:
            return f"{verdict}: nothing compared (every output empty or zero)"
        if self.quantized is not None:
            q = self.quantized
            changed = f"{q.changed:.1%} of codes changed"
            return f"{verdict}: {len(q.units)} rewritten units, at most {q.max_steps} step, {changed}"
        return f"{verdict}: max |Δ| / max |out| = {self.max_rel:.3g} (tolerance {self.rtol:g}), {self.samples} samples"

    def _repr_html_(self) -> str:
        """What a notebook shows: the verdict and the figures per output."""
        from opswap.html import verify_html

        return verify_html(self)

    @property
    def max_abs(self) -> float:
        """Largest absolute difference over all outputs."""
        return max((o.max_abs for o in self.outputs), default=0.0)

    @property
    def max_rel(self) -> float:
        """Largest scale-relative difference over all outputs."""
        return max((o.max_rel for o in self.outputs), default=0.0)

    @property
    def max_ref(self) -> float:
        """Largest magnitude of the original's outputs (the scale ``max_rel`` is relative to)."""
        return max((o.max_ref for o in self.outputs), default=0.0)

    @property
    def cosine(self) -> float:
        """Smallest cosine similarity over all outputs and samples."""
        return min((o.cosine for o in self.outputs), default=1.0)

    @property
    def top1_agreement(self) -> float | None:
        """Share of rows with the same argmax, over classifier-shaped outputs; None if there are none."""
        rows = sum(o.top1_rows for o in self.outputs)
        return sum(o.top1_agree for o in self.outputs) / rows if rows else None

    @property
    def ulps(self) -> float | None:
        """``max_rel`` in ULPs of the model's float type (float16 and bfloat16 models)."""
        ulp = _ULP.get(self.precision)
        return self.max_rel / ulp if ulp and self.precision in ("float16", "bfloat16") else None

    @property
    def near_ties(self) -> int:
        """Rows whose argmax flipped where the original's top two lie within the tolerance.

        Not for QDQ models, whose outputs are judged in steps (their tolerance is not ``rtol``).
        """
        if self.precision == "qdq":
            return 0
        return sum(o.ties(2 * self.rtol * o.max_ref) for o in self.outputs)

    @property
    def top1_decisive(self) -> float | None:
        """Top-1 agreement over the rows that are not near-ties (what the verdict asks of top-1)."""
        rows = sum(o.top1_rows for o in self.outputs) - self.near_ties
        if rows <= 0:
            return None
        return sum(o.top1_agree for o in self.outputs) / rows

    @property
    def vacuous(self) -> bool:
        """Nothing was compared: every output empty, or all zeros on both sides, on every sample.

        (A detection model that finds no box in random inputs.) Not a pass: give inputs that
        exercise the model (``--inputs``).
        """
        return bool(self.outputs) and not any(o.informative for o in self.outputs)

    @property
    def passed(self) -> bool:
        """The verdict (see the module docstring)."""
        if any(o.mismatches for o in self.outputs) or self.vacuous:
            return False
        if self.quantized is not None:
            return self.quantized.passed
        if self.spread is not None:
            return self.within_spread
        top1 = self.top1_decisive
        cosine_ok = self.min_cosine is None or self.cosine >= self.min_cosine
        return self.max_rel <= self.rtol and (top1 is None or top1 >= self.min_top1) and cosine_ok

    def to_dict(self) -> dict[str, Any]:
        """JSON form: max_abs, max_rel, cosine, top1_agreement, passed, and per output."""
        return {
            "schema": schema_id("verify"),
            "samples": self.samples,
            "rtol": self.rtol,
            "min_top1": self.min_top1,
            "min_cosine": self.min_cosine,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "max_ref": self.max_ref,
            "cosine": self.cosine,
            "top1_agreement": self.top1_agreement,
            "top1_near_ties": self.near_ties,
            "vacuous": self.vacuous,
            "precision": self.precision,
            "ulps": self.ulps,
            "runtimes": self.runtimes,
            "quantized": self.quantized.to_dict() if self.quantized else None,
            "within_one_step": self.within_one,
            "max_steps": self.max_steps,
            "spread": self.spread.to_dict() if self.spread else None,
            "per_value": self.per_value.to_dict() if self.per_value else None,
            "passed": self.passed,
            "outputs": [o.to_dict() for o in self.outputs],
        }


def parse_input_shapes(specs: list[str]) -> dict[str, list[int]]:
    """Parse ``name=1,3,224,224`` items (``--input-shape``)."""
    shapes: dict[str, list[int]] = {}
    for spec in specs:
        name, sep, dims = spec.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = [int(d) for d in dims.split(",")]
        except ValueError:
            raise VerifyError(
                f"--input-shape {spec!r}: expected NAME=D1,D2,... (for example input=1,3,224,224)"
            ) from None
        if any(d < 1 or d > MAX_DIM for d in shapes[name]):
            raise VerifyError(f"--input-shape {spec!r}: every dimension must be between 1 and {MAX_DIM}")
        if math.prod(shapes[name]) > MAX_INPUT_ELEMENTS:
            raise VerifyError(
                f"--input-shape {spec!r}: {math.prod(shapes[name])} elements, over the {MAX_INPUT_ELEMENTS} "
                "an input to verify on may have"
            )
    return shapes


#: Largest dimension ``--input-shape`` takes (ONNX Runtime's dimensions are int64; this bounds memory).
MAX_DIM = 2**31 - 1
#: Largest input, in elements, that verification generates (1 GiB of float32).
MAX_INPUT_ELEMENTS = 1 << 28


def precision_of(model: onnx.ModelProto) -> str:
    """What the model computes in: ``qdq`` (a quantized model), else the float type of its outputs.

    The element type of the first float graph output, or else of the first float input, or
    ``float32`` when the model has neither (integer models).
    """
    from opswap.quant import is_qdq

    if any(is_qdq(n) for n in model.graph.node):
        return "qdq"
    for info in (*model.graph.output, *model.graph.input):
        name = _FLOAT_NAMES.get(info.type.tensor_type.elem_type)
        if name:
            return name
    return "float32"


_FLOAT_NAMES = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.FLOAT16: "float16",
    onnx.TensorProto.BFLOAT16: "bfloat16",
    onnx.TensorProto.DOUBLE: "float64",
}


def default_rtol(precision: str) -> float:
    """The tolerance on ``max_rel`` for a model that computes in ``precision`` (module docstring)."""
    if precision == "float16":
        return FP16_ULPS * _ULP["float16"]
    if precision == "bfloat16":
        return BF16_ULPS * _ULP["bfloat16"]
    return DEFAULT_RTOL


def _runner(model: Model, role: str, runtimes: dict[str, str]) -> tuple[Runner, list[str]]:
    """ORT's CPU provider for ``model``, or onnx's reference evaluator where ORT has no kernel.

    ``role`` ("original", "fixed") names the model in messages; ``runtimes`` records a fallback.
    """
    try:
        session = _session(model, role)
    except _NoKernel as exc:
        from onnx.reference import ReferenceEvaluator

        try:
            evaluator = ReferenceEvaluator(model.proto)
        except Exception as inner:  # the reference evaluator's own error types
            raise VerifyError(
                f"{model.name}: the {role} model: {exc.args[0]}, and onnx's reference evaluator cannot run it "
                f"either ({_first_line(inner)})"
            ) from None
        runtimes[role] = f"onnx reference evaluator ({exc.args[0]})"
        names = [o.name for o in model.proto.graph.output]
        return (lambda feed: list(evaluator.run(None, feed))), names
    return (lambda feed: session.run(None, feed)), [o.name for o in session.get_outputs()]


def _runners(models: list[tuple[Model, str]], runtimes: dict[str, str]) -> list[tuple[Runner, list[str]]]:
    """:func:`_runner` for each (model, role), built side by side.

    Building ORT sessions is most of a large model's verification, and ORT builds them without
    holding the GIL (two sessions of a 20k-node chain: 3.8 s one after the other, 1.9 s side by side
    on 2 cores). The first model's error is the one raised, as when they were built in turn.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(models), os.cpu_count() or 1)) as pool:
        futures = [pool.submit(_runner, model, role, runtimes) for model, role in models]
        return [future.result() for future in futures]


class _NoKernel(Exception):
    """ONNX Runtime has no kernel for some op at the model's element types."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _session(model: Model, role: str = "") -> Any:
    import re

    import onnxruntime as ort

    ort.set_default_logger_severity(4)  # its own multi-line coloured log would precede opswap's message

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # errors reach the user as opswap's one line, not as ORT's log
    if next(external_tensors(model.proto), None) is not None:
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(model.base_dir))
    try:
        return ort.InferenceSession(model.proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types; any of them means it cannot run the model
        first = _first_line(exc)
        missing = re.search(r"Could not find an implementation for (\w+)\((\d+)\) node with name '([^']*)'", first)
        if missing:
            op, version, node = missing.groups()
            kind = " " + (_element_name(model.proto, node) or precision_of(model.proto))
            where = f", node {node!r}" if node else ""
            raise _NoKernel(f"ONNX Runtime has no{kind} kernel for {op} (opset {version}{where})") from None
        which = f"the {role} model" if role else "the model"
        raise VerifyError(f"{model.name}: ONNX Runtime cannot load {which}: {first}") from None


def _element_name(model: onnx.ModelProto, node_name: str) -> str:
    """The float type a node computes in, by its first input's declaration (for messages)."""
    declared = {i.name: i.type.tensor_type.elem_type for i in (*model.graph.input, *model.graph.value_info)}
    declared.update({t.name: t.data_type for t in model.graph.initializer})
    node = next((n for n in model.graph.node if n.name == node_name), None)
    if node is None:
        return ""
    for name in node.input:
        if name in declared:
            return _FLOAT_NAMES.get(declared[name], "")
    return ""


def random_inputs(
    model: onnx.ModelProto, samples: int, shapes: Mapping[str, list[int]] | None = None, seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """Seeded random inputs for every graph input that is not an initializer."""
    shapes = dict(shapes or {})
    initializers = {t.name for t in model.graph.initializer}
    specs: list[tuple[str, list[int], np.dtype[Any]]] = []
    for info in model.graph.input:
        if info.name in initializers:
            continue
        if not info.type.HasField("tensor_type"):
            raise VerifyError(f"input {info.name!r}: only tensor inputs can be generated; pass inputs with --inputs")
        tensor_type = info.type.tensor_type
        dims = shapes.pop(info.name, None)
        if dims is None:
            dims = []
            for d in tensor_type.shape.dim:
                if not d.HasField("dim_value"):
                    label = d.dim_param or "?"
                    raise VerifyError(
                        f"input {info.name!r} has a symbolic dimension {label!r}; "
                        f"set it with --input-shape {info.name}=1,..."
                    )
                dims.append(d.dim_value)
        specs.append((info.name, dims, np.dtype(helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))))
    if shapes:
        raise VerifyError(f"--input-shape names no model input: {', '.join(shapes)}")
    rng = np.random.default_rng(seed)
    bounds = index_bounds(model)
    batches = []
    for _ in range(samples):
        feed: dict[str, np.ndarray] = {}
        for name, dims, dtype in specs:
            if dtype.kind == "f":
                feed[name] = rng.standard_normal(dims).astype(dtype)
            elif dtype.kind in "iu":
                feed[name] = rng.integers(0, bounds.get(name, DEFAULT_INTEGER_BOUND), dims).astype(dtype)
            elif dtype.kind == "b":
                feed[name] = rng.integers(0, 2, dims).astype(bool)
            else:
                raise VerifyError(f"input {name!r}: cannot generate random {dtype} data")
        batches.append(feed)
    return batches


#: Integer inputs are drawn from 0 up to this, unless the graph shows a tighter bound (``index_bounds``).
DEFAULT_INTEGER_BOUND = 10


def index_bounds(model: onnx.ModelProto) -> dict[str, int]:
    """Integer graph inputs used as indices into a constant table, with the table's length.

    A Gather (an embedding lookup) over an initializer accepts indices below the length of its
    gathered axis; random indices are drawn below the smallest such length, at most
    :data:`DEFAULT_INTEGER_BOUND`.
    """
    graph = model.graph
    tables = {t.name: list(t.dims) for t in graph.initializer}
    fed = {i.name for i in graph.input} - set(tables)
    bounds: dict[str, int] = {}
    for node in graph.node:
        if node.op_type not in ("Gather", "GatherElements") or node.domain not in ("", "ai.onnx"):
            continue
        if len(node.input) < 2 or node.input[1] not in fed or node.input[0] not in tables:
            continue
        dims = tables[node.input[0]]
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if not dims or not -len(dims) <= axis < len(dims) or dims[axis] < 1:
            continue
        length = int(dims[axis])
        bounds[node.input[1]] = min(bounds.get(node.input[1], DEFAULT_INTEGER_BOUND), length)
    return bounds


def _integer_hint(model: onnx.ModelProto) -> str:
    """A hint naming the integer inputs drawn without a known bound, for a runtime's index error."""
    initializers = {t.name for t in model.graph.initializer}
    bounded = index_bounds(model)
    unbounded = [
        i.name
        for i in model.graph.input
        if i.name not in initializers and i.name not in bounded and i.type.tensor_type.elem_type in _INTEGER_ELEM_TYPES
    ]
    if not unbounded:
        return ""
    names = ", ".join(repr(n) for n in unbounded)
    return f" (integer input {names} drawn from 0..{DEFAULT_INTEGER_BOUND - 1}; give real values with --inputs)"


_INTEGER_ELEM_TYPES = frozenset(
    getattr(onnx.TensorProto, n) for n in ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
)


#: Runs a model on one sample: feed -> outputs in the reference's output order.
Runner = Callable[[dict[str, np.ndarray]], list[np.ndarray]]


def verify(
    original: Model,
    fixed: Model,
    *,
    samples: int = DEFAULT_SAMPLES,
    input_shapes: Mapping[str, list[int]] | None = None,
    inputs: list[dict[str, np.ndarray]] | None = None,
    rtol: float | None = None,
    seed: int = 0,
    on_sample: Callable[[], None] | None = None,
) -> VerifyReport:
    """Run both models on the same inputs and compare every output (see the module docstring).

    ``rtol`` defaults to the tolerance for the precision the original computes in (``default_rtol``).
    """
    try:
        feeds = inputs if inputs is not None else random_inputs(original.proto, samples, input_shapes, seed)
    except VerifyError as exc:
        raise VerifyError(f"{original.name}: {exc}") from None
    runtimes: dict[str, str] = {}
    (run_fixed, fixed_names), reference = _runners([(fixed, "fixed"), (original, "original")], runtimes)
    report = compare(
        original,
        run_fixed,
        fixed_names,
        inputs=feeds,
        rtol=rtol,
        on_sample=on_sample,
        runtimes=runtimes,
        generated=inputs is None,
        reference=reference,
    )
    if report.precision == "qdq":
        from opswap.quant import compare_units

        units = compare_units(original.proto, fixed.proto, feeds, base_dir=original.base_dir)
        if units is not None:
            report.quantized = QuantizedFigures([UnitFigures(*u) for u in units])
    return report


def compare(
    original: Model,
    candidate: Runner,
    candidate_names: list[str],
    *,
    samples: int = DEFAULT_SAMPLES,
    input_shapes: Mapping[str, list[int]] | None = None,
    inputs: list[dict[str, np.ndarray]] | None = None,
    rtol: float | None = None,
    seed: int = 0,
    on_sample: Callable[[], None] | None = None,
    runtimes: dict[str, str] | None = None,
    generated: bool | None = None,
    reference: tuple[Runner, list[str]] | None = None,
) -> VerifyReport:
    """Compare any runner of a converted model (ORT, OpenVINO, ...) with ORT on the original.

    ``generated`` says the inputs were drawn at random (default: when ``inputs`` is None), for the
    hint a runtime's index error gets; ``reference`` is the original's runner when already built.
    """
    try:
        feeds = inputs if inputs is not None else random_inputs(original.proto, samples, input_shapes, seed)
    except VerifyError as exc:
        raise VerifyError(f"{original.name}: {exc}") from None
    runtimes = {} if runtimes is None else runtimes
    before, names = reference if reference is not None else _runner(original, "original", runtimes)
    if names != candidate_names:
        raise VerifyError(f"{original.name}: the models' outputs differ: {names} vs {candidate_names}")
    precision = precision_of(original.proto)
    report = VerifyReport(
        samples=len(feeds),
        rtol=default_rtol(precision) if rtol is None else rtol,
        outputs=[OutputMetrics(n) for n in names],
        precision=precision,
        runtimes=runtimes,
    )
    if precision == "qdq":
        from opswap.quant import output_steps

        for metrics, step in zip(report.outputs, output_steps(original.proto, names), strict=True):
            metrics.step = step
    for feed in feeds:
        try:
            expected, actual = before(feed), candidate(feed)
        except Exception as exc:  # ORT's and other runtimes' own error types
            drawn = inputs is None if generated is None else generated
            hint = _integer_hint(original.proto) if drawn else ""
            raise VerifyError(f"{original.name}: a runtime failed to run the model: {_first_line(exc)}{hint}") from None
        for metrics, ref, out in zip(report.outputs, expected, actual, strict=True):
            _accumulate(metrics, np.asarray(ref), np.asarray(out))
        if on_sample is not None:
            on_sample()
    return report


@dataclass(frozen=True)
class Draw:
    """The inputs a comparison runs on: the user's (``inputs``), else ``samples`` seeded random ones."""

    samples: int = DEFAULT_SAMPLES
    #: Symbolic dimensions set for the random inputs (``--input-shape``).
    shapes: Mapping[str, list[int]] = field(default_factory=dict)
    inputs: list[dict[str, np.ndarray]] | None = None

    def feeds(self, model: onnx.ModelProto, seed: int = 0) -> list[dict[str, np.ndarray]]:
        """The inputs themselves, for ``model``."""
        return self.inputs if self.inputs is not None else random_inputs(model, self.samples, self.shapes, seed)

    def compare(self, original: Model, candidate: Runner, names: list[str], **options: Any) -> VerifyReport:
        """:func:`compare` on these inputs."""
        return compare(
            original, candidate, names, samples=self.samples, input_shapes=self.shapes, inputs=self.inputs, **options
        )


def shared_values(original: onnx.ModelProto, fixed: onnx.ModelProto) -> list[str]:
    """Values both main graphs compute with a node, in the original's order (inputs and constants not)."""
    computed = {name for node in fixed.graph.node for name in node.output if name}
    return [name for node in original.graph.node for name in node.output if name and name in computed]


def compare_values(
    original: Model,
    fixed: Model,
    names: list[str],
    inputs: list[dict[str, np.ndarray]],
    rtol: float,
    routes: Mapping[str, str] | None = None,
) -> PerValue:
    """Run both models on ``inputs`` with ``names`` made outputs too, and compare each value.

    ``names`` are values of both main graphs (see :func:`shared_values`); ``routes`` gives, for a value
    a rewrite computes, the rewrite's route. Both models run once per input, holding every named value:
    the first :data:`MAX_COMPARED` are compared, and how many more there were is said.
    """
    from opswap.graphs import node_label

    names, left_out = names[:MAX_COMPARED], max(0, len(names) - MAX_COMPARED)
    producer = {
        name: (node.op_type, node_label(node, k))
        for k, node in enumerate(original.proto.graph.node)
        for name in node.output
        if name
    }
    runs = []
    for model, role in ((original, "original"), (fixed, "fixed")):
        probe = onnx.ModelProto()
        probe.CopyFrom(model.proto)
        declared = {o.name for o in probe.graph.output}
        for name in names:
            if name not in declared:
                probe.graph.output.add().name = name
        session = _session(Model(probe, model.path, model.base_dir), role)
        runs.append(session)
    compared = [ValueFigures(n, *producer[n], OutputMetrics(n), (routes or {}).get(n, "")) for n in names]
    result = PerValue(rtol, compared, left_out)
    for feed in inputs:
        try:
            expected, actual = (session.run(names, feed) for session in runs)
        except Exception as exc:  # ORT's own error types
            raise VerifyError(
                f"{original.name}: ONNX Runtime failed on an intermediate value: {_first_line(exc)}"
            ) from None
        for figures, ref, out in zip(result.values, expected, actual, strict=True):
            _accumulate(figures.metrics, np.asarray(ref), np.asarray(out))
    return result


#: Seed of the random inputs calibration draws (verification draws with 0: not the same inputs).
CALIBRATION_SEED = 1


def calibrator(
    inputs: list[dict[str, np.ndarray]] | None,
    *,
    samples: int = DEFAULT_SAMPLES,
    input_shapes: Mapping[str, list[int]] | None = None,
    base_dir: Path | None = None,
) -> Callable[[onnx.ModelProto, list[str]], list[dict[str, np.ndarray]]]:
    """A function that runs a model's float graph on ``inputs`` and returns the named tensors per sample.

    Without ``inputs``, ``samples`` seeded random ones (:data:`CALIBRATION_SEED`). Used for the
    encodings of new tensors in QDQ models (see ``quant``); ONNX Runtime's CPU provider, graph
    optimizations off.
    """

    def run(proto: onnx.ModelProto, names: list[str]) -> list[dict[str, np.ndarray]]:
        feeds = inputs if inputs is not None else random_inputs(proto, samples, input_shapes, CALIBRATION_SEED)
        probe = onnx.ModelProto()
        probe.CopyFrom(proto)
        declared = {o.name for o in probe.graph.output}
        for name in names:
            if name not in declared:
                probe.graph.output.add().name = name
        session = _session(Model(probe, None, base_dir or Path.cwd()), "calibration")
        wanted = [o.name for o in session.get_outputs() if o.name in set(names)]
        return [dict(zip(wanted, session.run(wanted, feed), strict=True)) for feed in feeds]

    return run


def measure(
    names: list[str],
    pairs: list[tuple[list[np.ndarray], list[np.ndarray]]],
    rtol: float = DEFAULT_RTOL,
    steps: list[float | None] | None = None,
) -> VerifyReport:
    """The metrics and verdict of ``verify`` for outputs computed elsewhere: (reference, candidate) per sample.

    ``steps``: each output's quantization step (a QDQ model's), to measure in steps too.
    """
    report = VerifyReport(samples=len(pairs), rtol=rtol, outputs=[OutputMetrics(n) for n in names])
    if steps is not None:
        report.precision = "qdq"
        for metrics, step in zip(report.outputs, steps, strict=True):
            metrics.step = step
    for expected, actual in pairs:
        for metrics, ref, out in zip(report.outputs, expected, actual, strict=True):
            _accumulate(metrics, np.asarray(ref), np.asarray(out))
    return report


def _accumulate(m: OutputMetrics, ref: np.ndarray, out: np.ndarray) -> None:
    if ref.shape != out.shape:
        m.mismatches += 1
        m.max_abs = math.inf
        return
    if ref.dtype.kind not in "fc":
        m.mismatches += int(np.count_nonzero(ref != out))
        m.informative += int(ref.size)  # an integer or boolean result says something even when zero
        return
    m.informative += int(np.count_nonzero(ref) + np.count_nonzero(out))
    ref64, out64 = ref.astype(np.float64), out.astype(np.float64)
    if not m.plotted and ref.size:
        picked = np.linspace(0, ref.size - 1, min(PLOTTED, ref.size)).astype(np.int64)
        m.plotted = list(zip(ref64.ravel()[picked].tolist(), out64.ravel()[picked].tolist(), strict=True))
    ref_nan, out_nan = np.isnan(ref64), np.isnan(out64)
    m.mismatches += int(np.count_nonzero(ref_nan != out_nan))
    ok = ~(ref_nan | out_nan)
    if ok.any():
        same_inf = np.isinf(ref64) & (ref64 == out64)
        finite = ok & ~same_inf
        diff = np.abs(ref64[finite] - out64[finite])
        if diff.size:
            m.max_abs = max(m.max_abs, float(diff.max()))
            m.max_ref = max(m.max_ref, float(np.abs(ref64[finite]).max()))
        a, b = np.where(finite, ref64, 0).ravel(), np.where(finite, out64, 0).ravel()
        norm = float(np.linalg.norm(a) * np.linalg.norm(b))
        cosine = float(a @ b) / norm if norm > 0 else (1.0 if not np.any(a - b) else 0.0)
        m.cosine = min(m.cosine, cosine)
    if m.step is not None and ok.any():
        steps = np.abs(ref64[ok] - out64[ok]) / m.step
        m.max_steps = max(m.max_steps, float(steps.max()))
        m.elements += steps.size
        m.identical += int(np.count_nonzero(steps < 1e-3))
        m.within_one += int(np.count_nonzero(steps <= 1 + 1e-3))
    if ref.ndim in (2, 3) and ref.shape[-1] >= 2:  # classifier-shaped (see the module docstring)
        table = ref64.reshape(-1, ref.shape[-1])
        rows_ref = table.argmax(axis=1)
        rows_out = out64.reshape(-1, ref.shape[-1]).argmax(axis=1)
        m.top1_rows += rows_ref.size
        m.top1_agree += int(np.count_nonzero(rows_ref == rows_out))
        flipped = np.flatnonzero(rows_ref != rows_out)
        # How far the fixed model's choice is below the original's best, in the original's own values.
        gaps = table[flipped, rows_ref[flipped]] - table[flipped, rows_out[flipped]]
        m.top1_gaps.extend(float(g) if np.isfinite(g) else math.inf for g in gaps)


#: Largest array ``--inputs`` may hold (declared in its header, checked before anything is read).
MAX_INPUT_BYTES = 1 << 30


def load_inputs(path: Path, model: onnx.ModelProto | None = None) -> list[dict[str, np.ndarray]]:
    """Inputs from a ``.npz`` file (one sample: arrays named after the inputs), or a ``.npy`` for one input.

    Nothing is decompressed before every array's header has been read and checked against the
    model's inputs (name, element type, rank, fixed dimensions) and against :data:`MAX_INPUT_BYTES`:
    a zip bomb or a truncated file is one line, not a memory blow-up or a traceback. Pickled
    (object) arrays are refused.
    """
    import zipfile

    expected = _model_inputs(model) if model is not None else None
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = []
                for info in archive.infolist():
                    names.append(info.filename.removesuffix(".npy"))
                    with archive.open(info) as member:
                        _check_header(path, names[-1], member, expected)
            if expected is not None:
                missing = [n for n in expected if n not in names]
                if missing:
                    raise VerifyError(f"{path}: no array for model input {', '.join(map(repr, missing))}")
            with np.load(path, allow_pickle=False) as data:
                return [{name: data[name] for name in data.files}]
        if expected is None or len(expected) != 1:
            raise VerifyError(f"{path}: not a .npz archive (a .npy file holds one array, for a model of one input)")
        (name,) = expected
        with path.open("rb") as handle:
            _check_header(path, name, handle, expected)
        return [{name: np.load(path, allow_pickle=False)}]
    except VerifyError:
        raise
    except Exception as exc:  # zipfile, zlib and numpy raise many types for broken files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise VerifyError(f"{path}: cannot read inputs ({reason})") from None


def _model_inputs(model: onnx.ModelProto) -> dict[str, tuple[int, list[int | None]]]:
    """The model's fed inputs: name -> (element type, dims with None for symbolic ones)."""
    initializers = {t.name for t in model.graph.initializer}
    found = {}
    for info in model.graph.input:
        if info.name in initializers or not info.type.HasField("tensor_type"):
            continue
        tensor_type = info.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        found[info.name] = (tensor_type.elem_type, dims)
    return found


def _check_header(
    path: Path, name: str, handle: Any, expected: Mapping[str, tuple[int, list[int | None]]] | None
) -> None:
    from numpy.lib import format as npy

    where = f"{path}: array {name!r}"
    version = npy.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = npy.read_array_header_1_0(handle)
    elif version in ((2, 0), (3, 0)):
        shape, _, dtype = npy.read_array_header_2_0(handle)
    else:
        raise VerifyError(f"{where}: unknown .npy version {version}")
    if dtype.hasobject:
        raise VerifyError(f"{where}: holds Python objects (pickled); only plain arrays are read")
    size = math.prod(shape) * dtype.itemsize
    if size > MAX_INPUT_BYTES:
        raise VerifyError(f"{where}: declares {size} bytes, over the {MAX_INPUT_BYTES} bytes --inputs may hold")
    if expected is None:
        return
    if name not in expected:
        raise VerifyError(f"{where}: the model has no input of that name (inputs: {', '.join(expected)})")
    elem_type, dims = expected[name]
    want = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    if dtype != want:
        raise VerifyError(f"{where}: element type {dtype}, the model's input is {want}")
    if len(shape) != len(dims) or any(d is not None and d != s for d, s in zip(dims, shape, strict=False)):
        shown = ["?" if d is None else d for d in dims]
        raise VerifyError(f"{where}: shape {list(shape)}, the model's input is {shown}")
