"""Making shapes static: constant folding, and input dimensions the user gives (``fix_dims``).

Folding: nodes whose inputs are all constants become initializers.

Exporters compute shapes at run time (``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``, for a
channel shuffle), so shape inference sees dynamic shapes downstream, and targets that need fixed
shapes (ONNX Runtime's NNAPI and CoreML EPs) or constant inputs reject the nodes that read them.
ONNX Runtime itself folds such computations before it partitions a model; opswap folds them in the
file, where every converter sees the result.

Folded, in the main graph: nodes of the default domain whose inputs are all initializers (not graph
inputs) or outputs of nodes folded before them, and Shape/Size of values whose shape is static.
Outputs must have a static shape of at most :data:`MAX_FOLDED` elements, as inferred before
evaluating; nothing random, nothing with subgraphs, and no initializer stored as external data is
read. Values are computed by ONNX Runtime's CPU kernels (what verification runs), so the folded model
computes what the original computed. Folding repeats while it makes more shapes static.

``legalize`` folds only where that makes illegal nodes legal: everything, when a node is illegal for a
computed input or a dynamic shape; otherwise just the illegal nodes computed from initializers alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from opswap.graphs import iter_scopes, splice
from opswap.model import Model
from opswap.typeinfo import MAX_FOLDED, Shape, declared, declared_shapes, infer_shapes, too_big

#: Ops never folded: random, with subgraphs, or a quantized model's encodings (a DequantizeLinear of
#: a weight is how a quantizing converter learns the weight's grid: folded, the weight is float).
_KEPT = frozenset(
    {
        "QuantizeLinear",
        "DequantizeLinear",
        "RandomNormal",
        "RandomUniform",
        "RandomNormalLike",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
        "If",
        "Loop",
        "Scan",
        "SequenceMap",
    }
)

_SUBGRAPH = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
_TENSOR = onnx.AttributeProto.TENSOR
_EXTERNAL = onnx.TensorProto.EXTERNAL


@dataclass
class FoldReport:
    """What folding changed."""

    #: Nodes removed: their outputs were computed once and stored.
    nodes: int = 0
    #: Initializers written for folded outputs still read by other nodes or the graph's outputs.
    initializers: int = 0
    #: Passes made (each after shape inference saw the previous pass's results).
    passes: int = 0


def fold(model: Model, select: Callable[[onnx.NodeProto], bool] | None = None) -> FoldReport:
    """Fold constant computations of ``model``'s main graph into initializers, in place.

    ``select``: fold only the nodes it accepts (all foldable nodes when None).
    """
    report = FoldReport()
    proto = model.proto
    if proto.ir_version < 4:  # every initializer would also have to be a graph input
        return report
    while True:
        plan = _plan(proto, select)
        if not plan.indices:
            return report
        try:
            values = _evaluate(proto, plan)
        except Exception:  # ORT lacks a kernel, say: the model stays as it is from here
            return report
        report.initializers += _store(proto, plan, values)
        splice(proto.graph.node, {index: [] for index in plan.indices})
        report.nodes += len(plan.indices)
        report.passes += 1


@dataclass
class _Plan:
    #: Positions of the folded nodes in the main graph, in order.
    indices: list[int]
    #: The folded nodes ORT evaluates (Shape and Size of static shapes are known without it).
    nodes: list[onnx.NodeProto]
    #: Values known without evaluating: Shape/Size outputs.
    known: dict[str, np.ndarray]
    #: Initializers the evaluated nodes read.
    reads: list[str]


def _plan(proto: onnx.ModelProto, select: Callable[[onnx.NodeProto], bool] | None) -> _Plan:
    graph = proto.graph
    inferred = infer_shapes(proto, data_prop=True)
    types, shapes = declared((inferred or proto).graph)  # outputs need static shapes
    constants = constant_names(graph)
    folded: set[str] = set()
    plan = _Plan([], [], {}, [])
    reads: dict[str, None] = {}
    for index, node in enumerate(graph.node):
        if node.domain not in ("", "ai.onnx") or node.op_type in _KEPT or (select is not None and not select(node)):
            continue
        if any(a.type in _SUBGRAPH or (a.type == _TENSOR and a.t.data_location == _EXTERNAL) for a in node.attribute):
            continue  # subgraphs are not folded; weights stored outside the file are never read
        outputs = [o for o in node.output if o]
        if not outputs or not all(_small(shapes.get(o)) for o in outputs):
            continue
        source = shapes.get(node.input[0]) if node.op_type in ("Shape", "Size") and node.input else None
        if source is not None and all(d is not None for d in source):
            dims = np.asarray(source, dtype=np.int64)
            if node.op_type == "Shape":
                attrs = {a.name: a.i for a in node.attribute}
                dims = dims[attrs.get("start", 0) : attrs.get("end")]
                plan.known[node.output[0]] = dims
            else:
                plan.known[node.output[0]] = np.asarray(math.prod(d or 0 for d in source), dtype=np.int64)
        elif all(not name or name in folded or name in constants for name in node.input):
            plan.nodes.append(node)
            for name in node.input:
                if name in constants:
                    reads[name] = None
        elif (cast := _cast_like(node, folded, constants, types)) is not None:
            plan.nodes.append(cast)  # CastLike reads its second input's type only, not its value
            if node.input[0] in constants:
                reads[node.input[0]] = None
        else:
            continue
        plan.indices.append(index)
        folded.update(outputs)
    plan.reads = list(reads)
    _drop_unbounded(proto, plan)
    return plan


def _cast_like(
    node: onnx.NodeProto, folded: set[str], constants: set[str], types: Mapping[str, int]
) -> onnx.NodeProto | None:
    """A CastLike of a constant to a computed value's known element type, as the Cast it is; else None."""
    if node.op_type != "CastLike" or len(node.input) != 2 or not node.output:
        return None
    if node.input[0] not in folded and node.input[0] not in constants:
        return None
    to = types.get(node.input[1])
    if not to:
        return None
    saturate = {a.name: a.i for a in node.attribute if a.name == "saturate"}
    return helper.make_node("Cast", [node.input[0]], list(node.output), to=to, **saturate)


def _drop_unbounded(proto: onnx.ModelProto, plan: _Plan) -> None:
    """Keep only evaluated nodes whose outputs are small as inferred from the real constants.

    The shapes ``_plan`` read come partly from the file (value_info), which a hostile file can make
    lie: an Expand declared [1] that makes [10**9]. Here the nodes to evaluate are inferred again in
    a graph of their own, from the initializers' real dimensions and values, before ONNX Runtime
    allocates anything; a node whose output is unknown or over :data:`MAX_FOLDED` there is not
    folded, nor is anything computed from it.
    """
    if not plan.nodes:
        return
    by_name = {t.name: t for t in proto.graph.initializer}
    constants = [by_name[name] for name in plan.reads]
    constants += [numpy_helper.from_array(value, name) for name, value in plan.known.items()]
    outputs = [o for n in plan.nodes for o in n.output if o]
    alone = helper.make_graph(list(plan.nodes), "sizes", [], [onnx.ValueInfoProto(name=o) for o in outputs], constants)
    model = helper.make_model(alone, opset_imports=list(proto.opset_import), ir_version=proto.ir_version)
    inferred = infer_shapes(model, data_prop=True)
    shapes = declared_shapes(inferred.graph) if inferred is not None else {}
    dropped: set[str] = set()
    for node in plan.nodes:
        outs = [o for o in node.output if o]
        if any(name in dropped for name in node.input) or not all(_small(shapes.get(o)) for o in outs):
            dropped.update(outs)
    if not dropped:
        return
    nodes = proto.graph.node
    plan.indices = [i for i in plan.indices if not dropped.intersection(nodes[i].output)]
    plan.nodes = [n for n in plan.nodes if not dropped.intersection(n.output)]


def constant_names(graph: onnx.GraphProto) -> set[str]:
    """Initializers a fold may read: not graph inputs (a caller may feed those), not stored outside."""
    overridable = {i.name for i in graph.input}
    return {t.name for t in graph.initializer if t.name not in overridable and t.data_location != _EXTERNAL}


def _small(shape: Shape | None) -> bool:
    if shape is None or any(d is None for d in shape):
        return False
    return too_big([d or 0 for d in shape]) is None


def _evaluate(proto: onnx.ModelProto, plan: _Plan) -> dict[str, np.ndarray]:
    """The folded nodes' outputs, computed by ONNX Runtime on the CPU (optimizations off)."""
    values = dict(plan.known)
    if not plan.nodes:
        return values
    import onnxruntime as ort

    graph = proto.graph
    by_name = {t.name: t for t in graph.initializer}
    initializers = [by_name[name] for name in plan.reads]
    initializers += [numpy_helper.from_array(value, name) for name, value in plan.known.items()]
    outputs = [o for n in plan.nodes for o in n.output if o]
    evaluated = helper.make_graph(
        list(plan.nodes),
        "fold",
        [],
        [onnx.ValueInfoProto(name=name) for name in outputs],
        initializers,
    )
    model = helper.make_model(evaluated, opset_imports=list(proto.opset_import), ir_version=proto.ir_version)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # errors reach the user as opswap's one line, not as ORT's log
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    values.update(zip(outputs, session.run(outputs, {}), strict=True))
    return values


def _store(proto: onnx.ModelProto, plan: _Plan, values: dict[str, np.ndarray]) -> int:
    """Initializers for folded outputs that something still reads; how many were written."""
    graph = proto.graph
    removed = set(plan.indices)
    read = {o.name for o in graph.output}
    for index, node in enumerate(graph.node):
        if index not in removed:
            read.update(node.input)
    for scope in iter_scopes(proto):  # subgraphs read outer-scope values by name
        if scope.path != "main" and not scope.is_function:
            read.update(name for n in scope.nodes for name in n.input)
    stored = 0
    for name, value in values.items():
        if name in read:
            tensor = numpy_helper.from_array(np.asarray(value), name)
            tensor.doc_string = "opswap: folded (computed from constants)"
            graph.initializer.append(tensor)
            stored += 1
    return stored


__all__ = ["MAX_FOLDED", "FoldReport", "constant_names", "fold", "too_big"]
