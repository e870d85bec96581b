"""Target-driven legalization: rewrite only the illegal nodes, into ops the target accepts.

For each illegal node the planner tries every rule for its op, judges each node the rule would emit,
and recurses into the emitted nodes that are still illegal (bounded depth). The cheapest route that
ends fully legal wins; cost is (nodes the converter would warn about, nodes added). Routes are planned
once per distinct (op, version, attributes, dtypes) and replayed for every node that shares them, so
a model with 100,000 HardSwish nodes plans once.

The rewrite splices the new nodes in place of the old one in the protobuf: the replacement's last
node writes the original output name, so consumers, graph outputs and outer-scope references stay as
they were. Every new node carries its provenance (rule and source node) in ``metadata_props``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import onnx
from onnx import helper

from opswap.check import Judge
from opswap.graphs import Scope, iter_scopes, node_label
from opswap.model import Model
from opswap.rules.base import Builder, ConstantPool, NameGen, Rule, RuleNotApplicable, Value, rules_for
from opswap.targets import Level, Target, op_name

#: How many rewrite steps a route may chain (HardSwish -> HardSigmoid -> Clip is 2).
MAX_DEPTH = 4


@dataclass(frozen=True)
class Route:
    """A plan for one node: a rule, and routes for the nodes it emits that are illegal."""

    rule: Rule
    children: tuple[tuple[int, Route], ...]
    #: Emitted nodes the converter would warn about, and nodes emitted, after all children.
    cost: tuple[int, int]

    def describe(self) -> str:
        """``hardswish_via_hardsigmoid > hardsigmoid_via_clip``."""
        seen: list[str] = [self.rule.id]
        for _, child in self.children:
            for part in child.describe().split(" > "):
                if part not in seen:
                    seen.append(part)
        return " > ".join(seen)

    @property
    def exact(self) -> bool:
        """Whether every rule on the route is exact."""
        return self.rule.exact and all(child.exact for _, child in self.children)


@dataclass(frozen=True)
class DeadEnd:
    """Why an op has no legal route: one line per rule tried, nested for multi-step routes."""

    op: str
    lines: tuple[str, ...]

    def explain(self) -> str:
        """The explanation as indented text."""
        return "\n".join(self.lines)


@dataclass
class Rewrite:
    """Rewrites of one op along one route."""

    op_type: str
    domain: str
    route: str
    exact: bool
    nodes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: op_type, count, rule."""
        return {
            "op_type": self.op_type,
            "domain": self.domain,
            "count": len(self.nodes),
            "rule": self.route,
            "exact": self.exact,
            "nodes": self.nodes,
        }


@dataclass
class Unresolved:
    """Illegal nodes of one op that no route could fix."""

    op_type: str
    domain: str
    reason: str
    explanation: str
    nodes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: op_type, count, reason, explanation."""
        return {
            "op_type": self.op_type,
            "domain": self.domain,
            "count": len(self.nodes),
            "reason": self.reason,
            "explanation": self.explanation,
            "nodes": self.nodes,
        }


@dataclass
class LegalizeReport:
    """What legalization changed, and what it could not."""

    target: str
    rewrites: list[Rewrite] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    nodes_removed: int = 0
    nodes_added: int = 0

    @property
    def complete(self) -> bool:
        """True when every illegal node was rewritten."""
        return not self.unresolved

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the report."""
        return {
            "target": self.target,
            "rewrites": [r.to_dict() for r in self.rewrites],
            "unresolved": [u.to_dict() for u in self.unresolved],
            "nodes_removed": self.nodes_removed,
            "nodes_added": self.nodes_added,
        }


class _DtypeIndex:
    """Element types of values: declared in the model, else propagated, else from shape inference.

    Propagation follows the ONNX schemas' type constraints (an output typed ``T`` has the type of the
    inputs typed ``T``), so it costs one pass and no table of ops; onnx's full shape inference runs
    only for what that leaves unknown.
    """

    def __init__(self, proto: onnx.ModelProto) -> None:
        self._proto = proto
        self._types: dict[str, int] | None = None
        self._inferred = False

    def get(self, name: str) -> int | None:
        if self._types is None:
            self._types = _declared_types(self._proto)
            _propagate_types(self._proto, self._types)
        dtype = self._types.get(name)
        if dtype is None and not self._inferred:
            self._inferred = True
            inferred = onnx.shape_inference.infer_shapes(self._proto, check_type=False, strict_mode=False)
            self._types.update(_declared_types(inferred))
            dtype = self._types.get(name)
        return dtype


def _propagate_types(proto: onnx.ModelProto, types: dict[str, int]) -> None:
    for scope in iter_scopes(proto):
        if scope.is_function:
            continue
        for node in scope.nodes:
            if node.op_type == "Cast" and node.domain in ("", "ai.onnx"):
                to = next((a.i for a in node.attribute if a.name == "to"), 0)
                if to and node.output:
                    types.setdefault(node.output[0], int(to))
                continue
            domain = "" if node.domain == "ai.onnx" else node.domain
            sources = _same_type_inputs(node.op_type, domain, scope.opsets.get(domain, 0))
            for out_index, out in enumerate(node.output):
                if not out or out in types or out_index >= len(sources):
                    continue
                for in_index in sources[out_index]:
                    if in_index < len(node.input) and node.input[in_index] in types:
                        types[out] = types[node.input[in_index]]
                        break


@functools.lru_cache(maxsize=4096)
def _same_type_inputs(op_type: str, domain: str, opset: int) -> tuple[tuple[int, ...], ...]:
    """For each output of an op, the input positions its schema gives the same type parameter."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return ()
    inputs = [i.type_str for i in schema.inputs]
    return tuple(tuple(k for k, type_str in enumerate(inputs) if type_str == out.type_str) for out in schema.outputs)


def _declared_types(proto: onnx.ModelProto) -> dict[str, int]:
    types: dict[str, int] = {}
    for scope in iter_scopes(proto):
        owner = scope.owner
        if isinstance(owner, onnx.GraphProto):
            for info in (*owner.input, *owner.output, *owner.value_info):
                if info.type.HasField("tensor_type") and info.type.tensor_type.elem_type:
                    types[info.name] = info.type.tensor_type.elem_type
            for tensor in owner.initializer:
                types[tensor.name] = tensor.data_type
        for node in scope.nodes:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].type == onnx.AttributeProto.TENSOR:
                types[node.output[0]] = node.attribute[0].t.data_type
    return types


@dataclass(frozen=True)
class _Template:
    """The replacement of one node, to copy for other nodes that share its route key."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: list[onnx.NodeProto]

    def instantiate(self, node: onnx.NodeProto, names: NameGen, provenance: str) -> list[onnx.NodeProto]:
        """Copies of the template's nodes wired to ``node``'s inputs and outputs, with fresh names.

        Names the template does not produce or take as input are shared constants and stay as they are.
        """
        mapping = dict(zip(self.inputs, node.input, strict=True))
        mapping.update(zip(self.outputs, node.output, strict=True))
        prefix = node.name or node.output[0]
        result = []
        for original in self.nodes:
            new = onnx.NodeProto()
            new.CopyFrom(original)
            for i, name in enumerate(new.input):
                if name in mapping:
                    new.input[i] = mapping[name]
            for i, name in enumerate(new.output):
                if name not in mapping:
                    mapping[name] = names.fresh(f"{prefix}/{original.op_type}")
                new.output[i] = mapping[name]
            new.name = names.fresh(f"{prefix}/{original.op_type}")
            new.doc_string = original.doc_string.rsplit(" from ", 1)[0] + f" from {provenance}"
            for entry in new.metadata_props:
                if entry.key == "opswap.source":
                    entry.value = provenance
            result.append(new)
        return result


class _Planner:
    """Searches and replays routes for the illegal nodes of one model."""

    def __init__(self, proto: onnx.ModelProto, target: Target, judge: Judge) -> None:
        self.proto = proto
        self.target = target
        self.judge = judge
        self.dtypes = _DtypeIndex(proto)
        self._plans: dict[tuple[Any, ...], Route | DeadEnd] = {}
        self._templates: dict[tuple[Any, ...], _Template] = {}
        self._scratch_names = NameGen()

    # -- planning -------------------------------------------------------------------------------

    def _key(
        self, node: onnx.NodeProto, scope: Scope, input_types: tuple[int | None, ...], depth: int
    ) -> tuple[Any, ...]:
        """What a route depends on: the op, its version and attributes, input types and aliasing."""
        inputs = list(node.input)
        return (
            node.op_type,
            node.domain,
            self.judge.since(node, scope.opsets),
            tuple(a.SerializeToString() for a in node.attribute),
            input_types,
            tuple(inputs.index(i) if i else -1 for i in inputs),
            len(node.output),
            scope.is_function,
            scope.opsets.get("", 0),
            depth,
        )

    def _input_types(self, node: onnx.NodeProto, known: dict[str, int]) -> tuple[int | None, ...]:
        return tuple((known.get(i) or self.dtypes.get(i)) if i else None for i in node.input)

    def plan(
        self, node: onnx.NodeProto, scope: Scope, known: dict[str, int], depth: int = MAX_DEPTH
    ) -> Route | DeadEnd:
        """The cheapest legal route for ``node``, or why there is none."""
        input_types = self._input_types(node, known)
        key = self._key(node, scope, input_types, depth)
        cached = self._plans.get(key)
        if cached is None:
            cached = self._plans[key] = self._search(node, scope, input_types, depth)
        return cached

    def replace(
        self, node: onnx.NodeProto, scope: Scope, names: NameGen, constants: ConstantPool, provenance: str
    ) -> tuple[Route, list[onnx.NodeProto]] | DeadEnd:
        """The nodes that replace ``node``, or why there are none.

        The first node with a given key runs the rules; the others copy its result with their own
        names (running rule code per node costs several times more).
        """
        key = self._key(node, scope, self._input_types(node, {}), MAX_DEPTH)
        route = self.plan(node, scope, {})
        if isinstance(route, DeadEnd):
            return route
        template = self._templates.get(key)
        if template is None:
            nodes = self.apply(route, node, scope, names, constants, {}, provenance)
            self._templates[key] = _Template(tuple(node.input), tuple(node.output), nodes)
            return route, nodes
        return route, template.instantiate(node, names, provenance)

    def _search(
        self, node: onnx.NodeProto, scope: Scope, input_types: tuple[int | None, ...], depth: int
    ) -> Route | DeadEnd:
        name = op_name(node.op_type, node.domain)
        rules = rules_for(node.op_type, node.domain)
        if not rules:
            return DeadEnd(name, (f"{name}: no rule rewrites {name}",))
        if depth == 0:
            return DeadEnd(name, (f"{name}: route too long (more than {MAX_DEPTH} steps)",))
        best: Route | None = None
        lines: list[str] = []
        for candidate in rules:
            try:
                emitted, produced = self._build(candidate, node, scope, input_types, self._scratch_names, None)
            except RuleNotApplicable as exc:
                lines.append(f"via {candidate.id}: not applicable ({exc})")
                continue
            children: list[tuple[int, Route]] = []
            warnings, blocked = 0, []
            for index, new in enumerate(emitted):
                verdict = self.judge.verdict(new, scope.opsets)
                if verdict.legal:
                    warnings += verdict.level == Level.WARNING
                    continue
                sub = self.plan(new, scope, produced, depth - 1)
                if isinstance(sub, DeadEnd):
                    blocked.append((op_name(new.op_type, new.domain), verdict.reason, sub))
                else:
                    children.append((index, sub))
                    warnings += sub.cost[0]
            if blocked:
                op, reason, sub = blocked[0]
                lines.append(f"via {candidate.id}: {op} illegal ({reason})")
                lines.extend(f"    {line}" for line in sub.lines)
                continue
            size = len(emitted) - len(children) + sum(c.cost[1] for _, c in children)
            route = Route(candidate, tuple(children), (warnings, size))
            lines.append(f"via {candidate.id}: OK ({size} nodes)")
            if best is None or route.cost < best.cost:
                best = route
        if best is not None:
            return best
        return DeadEnd(name, tuple(f"{name}: {line}" if not line.startswith("    ") else line for line in lines))

    # -- building -------------------------------------------------------------------------------

    def _build(
        self,
        candidate: Rule,
        node: onnx.NodeProto,
        scope: Scope,
        input_types: tuple[int | None, ...],
        names: NameGen,
        constants: ConstantPool | None,
    ) -> tuple[list[onnx.NodeProto], dict[str, int]]:
        """Run a rule on ``node``; the last emitted nodes write the node's own output names."""
        opset = scope.opsets.get("", 0)
        prefix = node.name or node.output[0]
        pool = None if scope.is_function else (constants or ConstantPool(None, names))
        op = Builder(opset, names, pool, prefix)
        inputs: list[Value | None] = []
        for name, dtype in zip(node.input, input_types, strict=True):
            if not name:
                inputs.append(None)
                continue
            if dtype is None:
                raise RuleNotApplicable(f"element type of input {name!r} is unknown")
            inputs.append(Value(name, dtype))
            op.dtypes[name] = dtype
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        result = candidate.apply(op, inputs, attrs)
        outputs = result if isinstance(result, tuple) else (result,)
        if len(outputs) != len([o for o in node.output if o]):
            raise RuleNotApplicable(f"{candidate.id} produces {len(outputs)} outputs, the node has {len(node.output)}")
        produced = {out: i for i, n in enumerate(op.nodes) for out in n.output}
        renamed: set[str] = set()
        for original, value in zip((o for o in node.output if o), outputs, strict=True):
            final = value
            if value.name not in produced or value.name in renamed:
                final = op.emit("Identity", value)
            _rename_output(op.nodes, final.name, original)
            op.dtypes[original] = final.dtype
            renamed.add(value.name)
        return op.nodes, op.dtypes

    def apply(
        self,
        route: Route,
        node: onnx.NodeProto,
        scope: Scope,
        names: NameGen,
        constants: ConstantPool,
        known: dict[str, int],
        provenance: str,
    ) -> list[onnx.NodeProto]:
        """Replay ``route`` on ``node`` for real: the nodes that replace it, in order."""
        input_types = self._input_types(node, known)
        emitted, produced = self._build(route.rule, node, scope, input_types, names, constants)
        for new in emitted:
            new.doc_string = f"opswap: {route.rule.id} from {provenance}"
            new.metadata_props.add(key="opswap.rule", value=route.rule.id)
            new.metadata_props.add(key="opswap.source", value=provenance)
        children = dict(route.children)
        result: list[onnx.NodeProto] = []
        for index, new in enumerate(emitted):
            child = children.get(index)
            if child is None:
                result.append(new)
            else:
                result.extend(self.apply(child, new, scope, names, constants, {**known, **produced}, provenance))
        return result


def _rename_output(nodes: list[onnx.NodeProto], old: str, new: str) -> None:
    for n in nodes:
        for i, name in enumerate(n.output):
            if name == old:
                n.output[i] = new
        for i, name in enumerate(n.input):
            if name == old:
                n.input[i] = new


def _used_names(proto: onnx.ModelProto) -> set[str]:
    used: set[str] = set()
    for scope in iter_scopes(proto):
        owner = scope.owner
        if isinstance(owner, onnx.GraphProto):
            used.update(i.name for i in owner.input)
            used.update(t.name for t in owner.initializer)
        else:
            used.update(owner.input)
        for n in scope.nodes:
            used.update(n.output)
            used.add(n.name)
    return used


def legalize(
    model: Model,
    target: Target,
    on_node: Callable[[], None] | None = None,
) -> LegalizeReport:
    """Rewrite, in place, every illegal node of ``model`` that has a legal route for ``target``.

    Returns what changed and, for nodes left illegal, why no route exists.
    """
    proto = model.proto
    judge = Judge(proto, target)
    planner = _Planner(proto, target, judge)
    report = LegalizeReport(target=target.name)
    rewrites: dict[tuple[str, str, str], Rewrite] = {}
    unresolved: dict[tuple[str, str], Unresolved] = {}
    names: NameGen | None = None
    constants: ConstantPool | None = None
    # Innermost scopes first, so a parent rebuilt below carries its already-rewritten subgraphs.
    for scope in reversed(list(iter_scopes(proto))):
        replaced: dict[int, list[onnx.NodeProto]] = {}
        for index, node in enumerate(scope.nodes):
            if judge.is_function_call(node) or judge.verdict(node, scope.opsets).legal:
                continue
            if on_node is not None:
                on_node()
            label = node_label(node, index)
            label = label if scope.path == "main" else f"{scope.path}/{label}"
            if names is None or constants is None:
                names = NameGen(_used_names(proto))
                constants = ConstantPool(proto.graph, names)
            outcome = planner.replace(node, scope, names, constants, label)
            if isinstance(outcome, DeadEnd):
                key = (node.op_type, node.domain)
                entry = unresolved.get(key)
                if entry is None:
                    reason = judge.verdict(node, scope.opsets).reason
                    entry = unresolved[key] = Unresolved(node.op_type, node.domain, reason, outcome.explain())
                entry.nodes.append(label)
                continue
            plan, replaced[index] = outcome
            key3 = (node.op_type, node.domain, plan.describe())
            rewrite = rewrites.get(key3)
            if rewrite is None:
                rewrite = rewrites[key3] = Rewrite(node.op_type, node.domain, plan.describe(), plan.exact)
            rewrite.nodes.append(label)
            report.nodes_removed += 1
            report.nodes_added += len(replaced[index])
        if replaced:
            _splice(scope, replaced)
    if constants is not None:
        for name in constants.added:
            judge.mark_static(name)
    report.rewrites = sorted(rewrites.values(), key=lambda r: (-len(r.nodes), r.op_type))
    report.unresolved = sorted(unresolved.values(), key=lambda u: (-len(u.nodes), u.op_type))
    return report


def _splice(scope: Scope, replaced: dict[int, list[onnx.NodeProto]]) -> None:
    """Put each replacement where its node stood, keeping the graph topologically sorted."""
    old = list(scope.nodes)
    new: list[onnx.NodeProto] = []
    for index, node in enumerate(old):
        new.extend(replaced.get(index, (node,)))
    del scope.nodes[:]
    scope.nodes.extend(new)
