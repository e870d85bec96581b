"""Walking every scope of a model: the main graph, If/Loop/Scan bodies, and model-local functions.

Each scope is visited as the protobuf it is; nothing is copied.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import onnx
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

_GRAPH = onnx.AttributeProto.GRAPH
_GRAPHS = onnx.AttributeProto.GRAPHS
_TENSOR = onnx.AttributeProto.TENSOR
_TENSORS = onnx.AttributeProto.TENSORS


@dataclass(frozen=True)
class Scope:
    """One list of nodes that shares an opset: a graph, a subgraph, or a function body."""

    #: Where the scope sits, for messages: ``main``, ``main/<node>.then_branch``, ``function <name>``.
    path: str
    #: The GraphProto or FunctionProto that owns the nodes.
    owner: onnx.GraphProto | onnx.FunctionProto
    #: Opset version per domain in force inside the scope.
    opsets: dict[str, int]

    @property
    def is_function(self) -> bool:
        """Functions cannot hold initializers, so constants there become Constant nodes."""
        return isinstance(self.owner, onnx.FunctionProto)

    @property
    def nodes(self) -> RepeatedCompositeFieldContainer[onnx.NodeProto]:
        """The scope's nodes, in order (a live protobuf container)."""
        return self.owner.node


def opset_map(opset_import: object) -> dict[str, int]:
    """Map domain to version, with ``ai.onnx`` spelled as the empty domain."""
    return {
        ("" if e.domain == "ai.onnx" else e.domain): int(e.version)
        for e in opset_import  # type: ignore[attr-defined]
    }


def iter_scopes(model: onnx.ModelProto) -> Iterator[Scope]:
    """Yield the main graph, every nested subgraph, and every model-local function body."""
    yield from _graph_scopes(model.graph, "main", opset_map(model.opset_import))
    for function in model.functions:
        opsets = opset_map(function.opset_import)
        yield from _graph_scopes(function, f"function {function.domain}.{function.name}", opsets)


def _graph_scopes(owner: onnx.GraphProto | onnx.FunctionProto, path: str, opsets: dict[str, int]) -> Iterator[Scope]:
    yield Scope(path, owner, opsets)
    for index, node in enumerate(owner.node):
        if not node.attribute:
            continue
        for attr in node.attribute:
            if attr.type == _GRAPH:
                yield from _graph_scopes(attr.g, f"{path}/{node_label(node, index)}.{attr.name}", opsets)
            elif attr.type == _GRAPHS:
                for k, graph in enumerate(attr.graphs):
                    label = f"{path}/{node_label(node, index)}.{attr.name}[{k}]"
                    yield from _graph_scopes(graph, label, opsets)


def node_label(node: onnx.NodeProto, index: int) -> str:
    """The node's name, or its position when the exporter left it unnamed."""
    return node.name or f"{node.op_type}#{index}"


def reads(node: onnx.NodeProto) -> list[str]:
    """Names ``node`` reads: its inputs and, inside its subgraphs, names from outer scopes."""
    names = [n for n in node.input if n]
    for attribute in node.attribute:
        if attribute.type in (_GRAPH, _GRAPHS):
            for sub in [attribute.g] if attribute.type == _GRAPH else list(attribute.graphs):
                local = {i.name for i in sub.input} | {t.name for t in sub.initializer}
                local.update(o for n in sub.node for o in n.output if o)
                names.extend(name for n in sub.node for name in reads(n) if name not in local)
    return names


def upstream(nodes: Sequence[onnx.NodeProto], names: Iterable[str], read: Callable[[int], Iterable[str]]) -> set[int]:
    """Positions of the nodes the values ``names`` are computed from, those computing them included.

    One reverse pass over nodes in topological order; ``read(k)`` is what node k reads (its inputs,
    or ``reads`` of it where subgraphs matter).
    """
    needed = set(names)
    found: set[int] = set()
    for k in range(len(nodes) - 1, -1, -1):
        if any(o in needed for o in nodes[k].output if o):
            found.add(k)
            needed.update(read(k))
    return found


def iter_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Yield every tensor stored in the model: initializers and tensor attributes, in all scopes.

    Training graphs (``training_info``) are included: nothing is rewritten there, but their tensors
    may refer to external data like any other.
    """
    training = [
        scope
        for info in model.training_info
        for graph, name in ((info.initialization, "initialization"), (info.algorithm, "algorithm"))
        for scope in _graph_scopes(graph, f"training {name}", opset_map(model.opset_import))
    ]
    for scope in itertools.chain(iter_scopes(model), training):
        if isinstance(scope.owner, onnx.GraphProto):
            yield from scope.owner.initializer
            for sparse in scope.owner.sparse_initializer:
                yield sparse.values
                yield sparse.indices
        for node in scope.nodes:
            for attr in node.attribute:
                if attr.type == _TENSOR:
                    yield attr.t
                elif attr.type == _TENSORS:
                    yield from attr.tensors


def splice(nodes: RepeatedCompositeFieldContainer[onnx.NodeProto], replaced: dict[int, list[onnx.NodeProto]]) -> None:
    """Move each replacement's new nodes to just before the node they replace (now its last node).

    ``replaced`` maps a position to the nodes now standing for the node there; nodes replaced by no
    node are removed.

    New nodes were appended to the list as they were made, in the order of ``replaced``; one
    stable sort puts them in place, keeping the list topologically sorted, without copying the
    nodes that stay (rebuilding the list copies every node, twice over for nodes still referenced
    from Python). The sort keys are listed in the list's current order (protobuf sorts a list of
    its elements, and Python computes keys in order): the nodes that were there at 2i+1, appended
    nodes at 2i for the node i they precede, removed nodes after all others, then cut off.
    """
    prefixes = [(index, new[:-1]) for index, new in replaced.items() if len(new) > 1]
    removed = sorted(index for index, new in replaced.items() if not new)
    if not prefixes and not removed:
        return
    added = sum(len(prefix) for _, prefix in prefixes)
    there = len(nodes) - added
    keys = list(range(1, 2 * there, 2))
    for index in removed:
        keys[index] = 2 * there + 1
    for index, prefix in prefixes:
        keys.extend([2 * index] * len(prefix))
    nodes.sort(key=functools.partial(next, iter(keys)))
    if removed:
        del nodes[len(nodes) - len(removed) :]
    if prefixes:
        # The first and the last appended node must now stand where the keys put them.
        (first_index, first), (last_index, last) = prefixes[0], prefixes[-1]
        at_first = first_index - bisect.bisect_left(removed, first_index)
        at_last = last_index - bisect.bisect_left(removed, last_index) + added - 1
        if nodes[at_first] is not first[0] or nodes[at_last] is not last[-1]:
            raise AssertionError("protobuf sorted a node list out of order; please report this")


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a pass over a graph.

    A pass over a large graph makes many short-lived, acyclic objects (protobuf wrappers, tuples);
    the collector's repeated sweeps over them cost as much as the pass itself. Reference counting
    still frees them; the collector resumes (if it was on) when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
