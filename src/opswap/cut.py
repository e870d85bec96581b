"""Cutting a model at named values: the network before its post-processing, alone.

Detection models end in work whose output sizes depend on the data (NonZero, TopK of a computed
count, NonMaxSuppression): targets that need static shapes or lack those ops cannot run it, and no
rewrite changes that. The standard way out is to convert the network up to the values the
post-processing reads and run the rest on the CPU. ``cut`` keeps exactly the nodes those values are
computed from (the same nodes, untouched, so the cut computes what the original computed there),
the graph inputs and initializers they read, and makes the values the graph's outputs.
``suggest_cut`` finds that boundary for the data-dependent nodes a target rejects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import onnx

from opswap.errors import OpswapError
from opswap.graphs import reads, upstream
from opswap.model import Model
from opswap.typeinfo import infer_shapes

#: Ops whose output size depends on their input values (TopK: on a computed K), and control flow on
#: them (a detector's "if no boxes" branch): where post-processing starts.
DATA_DEPENDENT = frozenset({"NonZero", "NonMaxSuppression", "Unique", "Compress", "TopK", "If", "Loop"})


@dataclass
class CutReport:
    """What a cut kept and removed."""

    outputs: list[str]
    kept: int
    removed: int
    #: Graph inputs only the removed part read (no longer inputs of the cut model).
    inputs_dropped: list[str]

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "outputs": self.outputs,
            "nodes_kept": self.kept,
            "nodes_removed": self.removed,
            "inputs_dropped": self.inputs_dropped,
        }

    def __str__(self) -> str:
        dropped = f"; inputs no longer read: {', '.join(self.inputs_dropped)}" if self.inputs_dropped else ""
        return (
            f"cut at {', '.join(self.outputs)}: {self.kept} nodes kept, {self.removed} after the cut removed{dropped}"
        )


def cut(model: Model, outputs: Sequence[str]) -> CutReport:
    """Make ``outputs`` (value names) the graph's outputs and keep only what computes them, in place.

    An ``OpswapError`` (exit 2) for a name no node computes and no graph input carries, or whose
    element type is unknown.
    """
    names = list(dict.fromkeys(n.strip() for n in outputs if n.strip()))
    if not names:
        raise OpswapError("--outputs: no value names given")
    graph = model.proto.graph
    made = {o for node in graph.node for o in node.output if o}
    inputs = {i.name for i in graph.input}
    missing = [n for n in names if n not in made and n not in inputs]
    if missing:
        raise OpswapError(f"--outputs: no value named {', '.join(map(repr, missing))} in the main graph")
    declared = _typed_infos(model.proto, names)
    unknown = [n for n in names if declared[n] is None]
    if unknown:
        raise OpswapError(f"--outputs: the element type of {', '.join(map(repr, unknown))} is unknown")
    nodes_read = [reads(node) for node in graph.node]
    kept = upstream(graph.node, names, nodes_read.__getitem__)
    read = {name for k in kept for name in nodes_read[k]}
    nodes = [graph.node[k] for k in sorted(kept)]
    removed = len(graph.node) - len(nodes)
    del graph.node[:]
    graph.node.extend(nodes)
    stored = {t.name for t in graph.initializer}
    dropped = [i.name for i in graph.input if i.name not in read and i.name not in names and i.name not in stored]
    kept_inputs = [i for i in graph.input if i.name in read or i.name in names]
    del graph.input[:]
    graph.input.extend(kept_inputs)
    initializers = [t for t in graph.initializer if t.name in read]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    computed = {o for node in nodes for o in node.output if o}
    value_info = [v for v in graph.value_info if v.name in computed and v.name not in names]
    del graph.value_info[:]
    graph.value_info.extend(value_info)
    del graph.output[:]
    graph.output.extend(info for info in declared.values() if info is not None)
    return CutReport(names, len(nodes), removed, dropped)


def suggest_cut(model: Model, op_types: Iterable[str]) -> list[str] | None:
    """Values to cut at so that no main-graph node of ``op_types`` in :data:`DATA_DEPENDENT` is left.

    The nodes of those types and everything computed from them are the post-processing; the cut is
    every value it reads that the rest computes from the graph's inputs, plus the graph's outputs
    the rest computes. None when nothing would be left before the cut.
    """
    chosen = set(op_types) & DATA_DEPENDENT
    graph = model.proto.graph
    tail: set[int] = {k for k, node in enumerate(graph.node) if node.op_type in chosen}
    if not tail:
        return None
    nodes_read = [reads(node) for node in graph.node]
    readers: dict[str, list[int]] = {}
    for k, names in enumerate(nodes_read):
        for name in names:
            readers.setdefault(name, []).append(k)
    stack = list(tail)
    while stack:
        for o in graph.node[stack.pop()].output:
            for reader in readers.get(o, ()):
                if reader not in tail:
                    tail.add(reader)
                    stack.append(reader)
    varying = _computed_from_inputs(graph, nodes_read)
    # The light work that only feeds the post-processing (a detector's per-class score slices,
    # reshapes and concats of the head's outputs) joins it when that makes the cut narrower: the cut
    # then sits at the network's last heavy ops, where a person would put it.
    grown = _grown(graph, tail, readers)
    cuts = [c for c in (_boundary(graph, t, varying, nodes_read) for t in (tail, grown)) if c]
    return min(cuts, key=len) if cuts else None  # on a tie, the cut that leaves more to the target


#: Ops cheap enough to leave to the CPU after a cut: data movement, elementwise, compares, selection.
_LIGHT = frozenset(
    [
        "Reshape",
        "Transpose",
        "Concat",
        "Gather",
        "GatherElements",
        "GatherND",
        "Slice",
        "Squeeze",
        "Unsqueeze",
        "Flatten",
        "Split",
        "Expand",
        "Tile",
        "Identity",
        "Softmax",
        "LogSoftmax",
        "Sigmoid",
        "Exp",
        "Log",
        "Sqrt",
        "Abs",
        "Neg",
        "Floor",
        "Ceil",
        "Round",
        "Clip",
        "Min",
        "Max",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Greater",
        "Less",
        "GreaterOrEqual",
        "LessOrEqual",
        "Equal",
        "And",
        "Or",
        "Not",
        "Xor",
        "Where",
        "Cast",
        "Shape",
        "Size",
        "ConstantOfShape",
        "Range",
        "ReduceMax",
        "ReduceMin",
        "ArgMax",
        "ArgMin",
    ]
)


def _grown(graph: onnx.GraphProto, tail: set[int], readers: dict[str, list[int]]) -> set[int]:
    """``tail`` and every light node all of whose outputs only the tail reads.

    One reverse pass: nodes are in topological order, so a node's readers are decided before it.
    """
    grown = set(tail)
    outputs = {o.name for o in graph.output}
    for k in range(len(graph.node) - 1, -1, -1):
        node = graph.node[k]
        if k in grown or node.op_type not in _LIGHT or node.domain not in ("", "ai.onnx"):
            continue
        made = [o for o in node.output if o]
        read = [reader for o in made for reader in readers.get(o, ())]
        if made and read and not outputs.intersection(made) and all(reader in grown for reader in read):
            grown.add(k)
    return grown


def _boundary(
    graph: onnx.GraphProto, tail: set[int], varying: set[str], nodes_read: list[list[str]]
) -> list[str] | None:
    """The values the part before ``tail`` hands to it, and the graph outputs it computes itself."""
    made_in_tail = {o for k in tail for o in graph.node[k].output if o}
    boundary: dict[str, None] = {}
    for k in sorted(tail):
        for name in nodes_read[k]:
            if name in varying and name not in made_in_tail:
                boundary[name] = None
    head = {o for k, node in enumerate(graph.node) if k not in tail for o in node.output if o}
    boundary.update((o.name, None) for o in graph.output if o.name in head and o.name in varying)
    if not boundary or not head:
        return None
    return list(boundary)


def _computed_from_inputs(graph: onnx.GraphProto, nodes_read: list[list[str]]) -> set[str]:
    """Values that depend on a graph input (not on constants alone): the only ones worth an output."""
    initializers = {t.name for t in graph.initializer}
    varying = {i.name for i in graph.input if i.name not in initializers}
    for node, names in zip(graph.node, nodes_read, strict=True):  # nodes are in topological order
        if any(name in varying for name in names):
            varying.update(o for o in node.output if o)
    return varying


def _typed_infos(proto: onnx.ModelProto, names: list[str]) -> dict[str, onnx.ValueInfoProto | None]:
    """A copy of a typed ValueInfo for each name: the file's own, else shape inference's; None if neither."""
    wanted = set(names)
    graph = proto.graph
    found: dict[str, onnx.ValueInfoProto] = {}
    for value in [*graph.output, *graph.input, *graph.value_info]:
        if value.name in wanted and _typed(value):
            found.setdefault(value.name, value)
    if len(found) < len(wanted):
        inferred = infer_shapes(proto)
        for value in inferred.graph.value_info if inferred is not None else ():
            if value.name in wanted and _typed(value):
                found.setdefault(value.name, value)
    result: dict[str, onnx.ValueInfoProto | None] = dict.fromkeys(names)
    for name, info in found.items():
        copy = onnx.ValueInfoProto()
        copy.CopyFrom(info)  # a copy: the graph's value_info is rewritten after
        result[name] = copy
    return result


def _typed(value: onnx.ValueInfoProto) -> bool:
    return value.type.HasField("tensor_type") and bool(value.type.tensor_type.elem_type)
