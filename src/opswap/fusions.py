"""Whole-pattern rewrites, for ops whose only exact way out is the function they are part of.

GELU below opset 20 is exported as ``x * 0.5 * (1 + Erf(x / sqrt(2)))`` (torch's TorchScript
exporter: Div, Erf, Add, Mul, Mul). A target without Erf (Qualcomm's HTP) has no exact route for a
lone Erf: every elementary form of erf is an approximation. But it may have GELU itself: ``Gelu``
(ai.onnx, opset 20 on) or ONNX Runtime's ``com.microsoft:Gelu`` (any opset; the same function,
``0.5 * x * (1 + erf(x / sqrt(2)))``). When the target lists one of them and Erf is illegal, each
whole pattern becomes that one node: mathematically the same function, so exact (ORT computes the
two forms within float rounding). Erf nodes outside the pattern stay illegal and need an
approximation (``--allow-approx``), which the report says.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from opswap.graphs import Scope, iter_scopes, splice
from opswap.schemas import since_version
from opswap.targets import Target
from opswap.typeinfo import infer_shapes

#: The subgraph a fused GELU replaced, as the report names it.
GELU_PATTERN = "x * 0.5 * (1 + Erf(x / sqrt(2)))"

_SQRT2 = math.sqrt(2.0)


def gelu_form(target: Target, opset: int) -> tuple[str, str] | None:
    """The GELU op the target takes at the model's opset, as (domain, op type), or None.

    None too when the target takes Erf (nothing to fuse).
    """
    erf = target.support("Erf")
    if erf is not None and (erf.opsets is None or since_version("Erf", "", opset) in erf.opsets):
        return None
    standard = target.support("Gelu")
    version = since_version("Gelu", "", opset)
    if standard is not None and version is not None and (standard.opsets is None or version in standard.opsets):
        return "", "Gelu"
    if target.support("Gelu", "com.microsoft") is not None:
        return "com.microsoft", "Gelu"
    return None


def fuse_gelu(proto: onnx.ModelProto, target: Target, opset: int) -> int:
    """Replace every GELU pattern in the model's graphs by the target's GELU op; how many were fused."""
    form = gelu_form(target, opset)
    if form is None:
        return 0
    domain, op_type = form
    # onnx's shape inference may not know the fused op (com.microsoft:Gelu): its outputs keep the
    # types and shapes inferred before, declared, so shapes downstream stay known.
    inferred = infer_shapes(proto)
    known = {v.name: v for v in inferred.graph.value_info} if inferred is not None else {}
    fused = 0
    for scope in list(iter_scopes(proto)):
        if isinstance(scope.owner, onnx.GraphProto):
            fused += _fuse_in(proto, scope, domain, op_type, known)
    if fused and domain and not any(o.domain == domain for o in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid(domain, 1))
    return fused


def _fuse_in(
    proto: onnx.ModelProto, scope: Scope, domain: str, op_type: str, known: dict[str, onnx.ValueInfoProto]
) -> int:
    nodes = scope.nodes
    assert isinstance(scope.owner, onnx.GraphProto)
    declared = {v.name for v in (*scope.owner.value_info, *scope.owner.output)}
    graph = _Uses(nodes, {o.name for o in scope.owner.output}, _constants(proto, scope))
    replaced: dict[int, list[onnx.NodeProto]] = {}
    for erf_index, erf in enumerate(nodes):
        if erf.op_type != "Erf" or erf.domain not in ("", "ai.onnx"):
            continue
        found = graph.gelu_at(erf_index)
        if found is None or found[0] & replaced.keys():
            continue
        group, last_index, x = found
        last = nodes[last_index]
        gelu = helper.make_node(op_type, [x], [last.output[0]], name=last.name or erf.name, domain=domain)
        gelu.doc_string = f"opswap: fused {GELU_PATTERN}"
        nodes[last_index].CopyFrom(gelu)
        if gelu.output[0] not in declared and gelu.output[0] in known:
            scope.owner.value_info.append(known[gelu.output[0]])
        replaced[last_index] = [nodes[last_index]]
        for index in group - {last_index}:
            replaced[index] = []
    if replaced:
        splice(nodes, replaced)
    return sum(1 for new in replaced.values() if new)


class _Uses:
    """Who produces and who reads each value of one graph, for matching patterns."""

    def __init__(self, nodes: Sequence[onnx.NodeProto], outputs: set[str], constants: dict[str, np.ndarray]) -> None:
        self.nodes, self.outputs, self.constants = nodes, outputs, constants
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, list[int]] = {}
        for index, node in enumerate(nodes):
            for name in node.output:
                self.producer[name] = index
            for name in node.input:
                self.consumers.setdefault(name, []).append(index)

    def only_consumer(self, name: str) -> int | None:
        """The one node reading ``name``, if exactly one does and it is not a graph output."""
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and name not in self.outputs else None

    @staticmethod
    def other(node: onnx.NodeProto, name: str) -> str | None:
        """The operand of a binary node that is not ``name``."""
        if len(node.input) != 2:
            return None
        a, b = str(node.input[0]), str(node.input[1])
        return b if a == name else a if b == name else None

    def gelu_at(self, erf_index: int) -> tuple[set[int], int, str] | None:
        """The GELU pattern around the Erf at ``erf_index``: its five node indices, the last one's, and x."""
        nodes, constants = self.nodes, self.constants
        erf = nodes[erf_index]
        scaled = self.producer.get(erf.input[0])
        if scaled is None or self.only_consumer(erf.input[0]) != erf_index:
            return None
        x = _scaled_input(nodes[scaled], constants)
        add_index = self.only_consumer(erf.output[0])
        if x is None or add_index is None or nodes[add_index].op_type not in ("Add", "Sum"):
            return None
        add = nodes[add_index]
        first_index = self.only_consumer(add.output[0])
        if not _is(constants, self.other(add, erf.output[0]), 1.0) or first_index is None:
            return None
        first = nodes[first_index]
        if first.op_type != "Mul":
            return None
        partner = self.other(first, add.output[0])
        half_x = self.producer.get(partner) if partner else None
        single = half_x is not None and self.only_consumer(str(partner)) == first_index
        if half_x is not None and single and _is_half_of(nodes[half_x], x, constants):
            last_index, fifth = first_index, half_x  # (0.5 * x) * (1 + erf), ONNX's own Gelu body
        else:
            chain = _half_chain(nodes, first, partner, x, constants, self.only_consumer)
            if chain is None:
                return None
            last_index, fifth = chain, first_index
        group = {scaled, erf_index, add_index, fifth, last_index}
        return (group, last_index, x) if len(group) == 5 else None


def _half_chain(
    nodes: Sequence[onnx.NodeProto],
    first: onnx.NodeProto,
    partner: str | None,
    x: str,
    constants: dict[str, np.ndarray],
    only_consumer: Callable[[str], int | None],
) -> int | None:
    """Where ``first`` (a Mul with ``1 + erf``) ends the pattern: the index of the final Mul, or None.

    Torch's form is ``Mul(Mul(x, 1 + erf), 0.5)``; ``Mul(Mul(1 + erf, 0.5), x)`` is taken too.
    """
    final_index = only_consumer(first.output[0])
    if final_index is None:
        return None
    final = nodes[final_index]
    if final.op_type != "Mul" or len(final.input) != 2:
        return None
    rest = final.input[1] if final.input[0] == first.output[0] else final.input[0]
    if (partner == x and _is(constants, rest, 0.5)) or (_is(constants, partner, 0.5) and rest == x):
        return final_index
    return None


def _is_half_of(node: onnx.NodeProto, x: str, constants: dict[str, np.ndarray]) -> bool:
    """Whether ``node`` is ``Mul(x, 0.5)`` (either order)."""
    if node.op_type != "Mul" or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
        return False
    a, b = node.input
    return (a == x and _is(constants, b, 0.5)) or (b == x and _is(constants, a, 0.5))


def _scaled_input(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> str | None:
    """x, for ``x / sqrt(2)`` or ``x * (1 / sqrt(2))``; None otherwise."""
    if node.domain not in ("", "ai.onnx") or len(node.input) != 2:
        return None
    a, b = str(node.input[0]), str(node.input[1])
    if node.op_type == "Div" and _is(constants, b, _SQRT2):
        return a
    if node.op_type == "Mul":
        if _is(constants, b, 1 / _SQRT2):
            return a
        if _is(constants, a, 1 / _SQRT2):
            return b
    return None


def _is(constants: dict[str, np.ndarray], name: str | None, value: float) -> bool:
    """Whether ``name`` is a constant holding ``value`` (one element, float32 rounding allowed)."""
    found = constants.get(name) if name else None
    if found is None or found.size != 1 or found.dtype.kind != "f":
        return False
    return bool(abs(float(found.ravel()[0]) - value) <= 1e-6 * max(1.0, abs(value)))


def _constants(proto: onnx.ModelProto, scope: Scope) -> dict[str, np.ndarray]:
    """Small constants visible in the scope: initializers (this graph's and the main graph's), Constant outputs."""
    found: dict[str, np.ndarray] = {}
    for graph in _graphs(proto, scope):
        for tensor in graph.initializer:
            if tensor.data_location != onnx.TensorProto.EXTERNAL and math.prod(tensor.dims) == 1:
                found[tensor.name] = numpy_helper.to_array(tensor)
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.attribute:
                attr = node.attribute[0]
                if attr.name == "value" and math.prod(attr.t.dims) == 1:
                    found[node.output[0]] = numpy_helper.to_array(attr.t)
                elif attr.name == "value_float":
                    found[node.output[0]] = np.asarray(attr.f, dtype=np.float32)
    return found


def _graphs(proto: onnx.ModelProto, scope: Scope) -> Iterator[onnx.GraphProto]:
    yield proto.graph
    if scope.owner is not proto.graph and isinstance(scope.owner, onnx.GraphProto):
        yield scope.owner
