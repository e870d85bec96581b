"""Target-driven legalization: rewrite only the illegal nodes, into ops the target accepts.

For each illegal node the planner tries every rule for its op, judges each node the rule would emit,
and recurses into the emitted nodes that are still illegal (bounded depth). The cheapest route that
ends fully legal wins; cost is (rules certified to overflow where the op does not, approximate rules
used, nodes the converter would warn about, nodes added, rules applied), so an exact route always
beats an approximate one. Routes are planned
once per distinct (op, version, attributes, dtypes) and replayed for every node that shares them, so
a model with 100,000 HardSwish nodes plans once.

The rewrite splices the new nodes in place of the old one in the protobuf: the replacement's last
node writes the original output name, so consumers, graph outputs and outer-scope references stay as
they were. Every new node carries its provenance (rule and source node) in ``metadata_props``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import onnx
from onnx import helper

from opswap.check import Judge
from opswap.graphs import Scope, iter_scopes, node_label
from opswap.model import Model
from opswap.rules.base import Builder, ConstantPool, NameGen, Rule, RuleNotApplicable, Value, rules_for
from opswap.rules.certificates import describe, recorded
from opswap.targets import Level, Target, op_name
from opswap.typeinfo import TypeIndex

#: How many rewrite steps a route may chain (HardSwish -> HardSigmoid -> Clip is 2).
MAX_DEPTH = 4


@dataclass(frozen=True)
class Route:
    """A plan for one node: a rule, and routes for the nodes it emits that are illegal."""

    rule: Rule
    children: tuple[tuple[int, Route], ...]
    #: Rules certified to give inf/NaN where the op is finite, approximate rules, emitted nodes the
    #: converter would warn about, nodes emitted, rules applied: compared in that order.
    cost: tuple[int, int, int, int, int]

    def describe(self) -> str:
        """``hardswish_via_onnx_function > hardsigmoid_via_clip``."""
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

    @property
    def bounds(self) -> list[str]:
        """The stated error bounds of the approximate rules on the route, with their measurements."""
        own = []
        if not self.rule.exact:
            certificate = recorded().get(self.rule.id)
            measured = f" ({describe(certificate)})" if certificate and self.rule.source != "onnx" else ""
            own = [f"{self.rule.id}: {self.rule.bound}{measured}"]
        return own + [b for _, child in self.children for b in child.bounds if b not in own]


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
    bounds: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: op_type, count, rule."""
        return {
            "op_type": self.op_type,
            "domain": self.domain,
            "count": len(self.nodes),
            "rule": self.route,
            "exact": self.exact,
            "bounds": self.bounds,
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

    def __init__(self, proto: onnx.ModelProto, target: Target, judge: Judge, allow_approx: bool = False) -> None:
        self.proto = proto
        self.allow_approx = allow_approx
        self.target = target
        self.judge = judge
        self.types = TypeIndex(proto)
        self._plans: dict[tuple[Any, ...], Route | DeadEnd] = {}
        self._templates: dict[tuple[Any, ...], _Template] = {}
        self._scratch_names = NameGen()

    # -- what a route depends on ----------------------------------------------------------------

    def _inputs(self, node: onnx.NodeProto, known: dict[str, Value]) -> tuple[Value | None, ...]:
        shapes = any(r.shapes for r in rules_for(node.op_type, node.domain))
        resolved: list[Value | None] = []
        for name in node.input:
            if not name:
                resolved.append(None)
            elif name in known:
                resolved.append(known[name])
            else:
                shape = self.types.shape(name) if shapes else None
                dtype = self.types.dtype(name) or onnx.TensorProto.UNDEFINED
                resolved.append(Value(name, dtype, shape, self.types.const(name)))
        return tuple(resolved)

    def _key(self, node: onnx.NodeProto, scope: Scope, inputs: tuple[Value | None, ...], depth: int) -> tuple[Any, ...]:
        """The op, its version and attributes, what is known of its inputs, and their aliasing."""
        names = list(node.input)
        return (
            node.op_type,
            node.domain,
            self.judge.since(node, scope.opsets),
            tuple(a.SerializeToString() for a in node.attribute),
            tuple(
                None
                if v is None
                else (
                    v.dtype,
                    v.shape,
                    None if v.const is None else (v.const.dtype.str, v.const.shape, v.const.tobytes()),
                )
                for v in inputs
            ),
            tuple(names.index(i) if i else -1 for i in names),
            tuple(bool(o) for o in node.output),
            scope.is_function,
            scope.opsets.get("", 0),
            depth,
        )

    # -- planning -------------------------------------------------------------------------------

    def plan(
        self, node: onnx.NodeProto, scope: Scope, known: dict[str, Value], depth: int = MAX_DEPTH
    ) -> tuple[tuple[Any, ...], Route | DeadEnd]:
        """The cheapest legal route for ``node`` (or why there is none), and the key it is cached by."""
        inputs = self._inputs(node, known)
        key = self._key(node, scope, inputs, depth)
        cached = self._plans.get(key)
        if cached is None:
            cached = self._plans[key] = self._search(node, scope, inputs, depth)
        return key, cached

    def replace(
        self, node: onnx.NodeProto, scope: Scope, names: NameGen, constants: ConstantPool, provenance: str
    ) -> tuple[Route, list[onnx.NodeProto]] | DeadEnd:
        """The nodes that replace ``node``, or why there are none.

        The first node with a given key runs the rules; the others copy its result with their own
        names (running rule code per node costs several times more).
        """
        key, route = self.plan(node, scope, {})
        if isinstance(route, DeadEnd):
            return route
        template = self._templates.get(key)
        if template is None:
            nodes = self.apply(route, node, scope, names, constants, {}, provenance)
            self._templates[key] = _Template(tuple(node.input), tuple(node.output), nodes)
            return route, nodes
        return route, template.instantiate(node, names, provenance)

    def _search(
        self, node: onnx.NodeProto, scope: Scope, inputs: tuple[Value | None, ...], depth: int
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
            if not candidate.exact and not self.allow_approx:
                lines.append(f"via {candidate.id}: approximate ({candidate.bound}); allowed with --allow-approx")
                continue
            try:
                emitted, produced = self._build(candidate, node, scope, inputs, self._scratch_names, None)
            except RuleNotApplicable as exc:
                lines.append(f"via {candidate.id}: not applicable ({exc})")
                continue
            children: list[tuple[int, Route]] = []
            warnings, blocked = 0, []
            for index, new in enumerate(emitted):
                verdict = self.judge.verdict(new, scope.opsets)
                if verdict.legal or verdict.version_only:
                    # A version the target does not list is fixed afterwards by lowering the opset.
                    warnings += verdict.level >= Level.WARNING
                    continue
                _, sub = self.plan(new, scope, produced, depth - 1)
                if isinstance(sub, DeadEnd):
                    blocked.append((op_name(new.op_type, new.domain), verdict.reason, sub))
                else:
                    children.append((index, sub))
                    warnings += sub.cost[2]
            if blocked:
                op, reason, sub = blocked[0]
                lines.append(f"via {candidate.id}: {op} illegal ({reason})")
                lines.extend(f"    {line}" for line in sub.lines)
                continue
            certificate = recorded().get(candidate.id)
            flaws = int(bool(certificate and certificate["mismatches"])) + sum(c.cost[0] for _, c in children)
            approximations = (not candidate.exact) + sum(c.cost[1] for _, c in children)
            size = len(emitted) - len(children) + sum(c.cost[3] for _, c in children)
            steps = 1 + sum(c.cost[4] for _, c in children)
            route = Route(candidate, tuple(children), (flaws, approximations, warnings, size, steps))
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
        inputs: tuple[Value | None, ...],
        names: NameGen,
        constants: ConstantPool | None,
    ) -> tuple[list[onnx.NodeProto], dict[str, Value]]:
        """Run a rule on ``node``; the nodes it emits write the node's own output names."""
        prefix = node.name or node.output[0]
        pool = None if scope.is_function else (constants or ConstantPool(None, names, on_new=self.judge.mark_static))
        op = Builder(scope.opsets.get("", 0), names, pool, prefix)
        op.source_version = self.judge.since(node, scope.opsets)
        for value in inputs:
            if value is None:
                continue
            if not value.dtype:
                raise RuleNotApplicable(f"element type of input {value.name!r} is unknown")
            op.values[value.name] = value
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        result = candidate.apply(op, list(inputs), attrs, len(node.output))
        outputs = list(result) if isinstance(result, tuple) else [result]
        wanted = list(node.output)
        if len(outputs) == len([o for o in wanted if o]) and len(outputs) != len(wanted):
            wanted = [o for o in wanted if o]
        if len(outputs) < len(wanted):
            raise RuleNotApplicable(f"{candidate.id} produces {len(outputs)} outputs, the node has {len(wanted)}")
        produced = {out for n in op.nodes for out in n.output}
        renamed: set[str] = set()
        for original, value in zip(wanted, outputs, strict=False):
            if not original:
                continue
            if value is None:
                raise RuleNotApplicable(f"{candidate.id} does not compute output {original!r}")
            final = value
            if value.name not in produced or value.name in renamed:
                final = op.emit("Identity", value)
            _rename_output(op.nodes, final.name, original)
            op.values[original] = Value(original, final.dtype)
            renamed.add(value.name)
        return op.nodes, op.values

    def apply(
        self,
        route: Route,
        node: onnx.NodeProto,
        scope: Scope,
        names: NameGen,
        constants: ConstantPool,
        known: dict[str, Value],
        provenance: str,
    ) -> list[onnx.NodeProto]:
        """Replay ``route`` on ``node`` for real: the nodes that replace it, in order."""
        emitted, produced = self._build(route.rule, node, scope, self._inputs(node, known), names, constants)
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
    *,
    allow_approx: bool = False,
) -> LegalizeReport:
    """Rewrite, in place, every illegal node of ``model`` that has a legal route for ``target``.

    Exact rules only, unless ``allow_approx``: then rules with a stated error bound may be used, and
    the report shows their bounds. Returns what changed and, for nodes left illegal, why no route exists.
    """
    proto = model.proto
    judge = Judge(proto, target)
    planner = _Planner(proto, target, judge, allow_approx)
    report = LegalizeReport(target=target.name)
    rewrites: dict[tuple[str, str, str], Rewrite] = {}
    unresolved: dict[tuple[str, str], Unresolved] = {}
    names: NameGen | None = None
    constants: ConstantPool | None = None
    # Innermost scopes first, so a parent rebuilt below carries its already-rewritten subgraphs.
    for scope in reversed(list(iter_scopes(proto))):
        replaced: dict[int, list[onnx.NodeProto]] = {}
        for index, node in enumerate(scope.nodes):
            if judge.is_function_call(node):
                continue
            verdict = judge.verdict(node, scope.opsets)
            if verdict.legal or verdict.version_only:  # versions are lowering's job, not a rule's
                continue
            if on_node is not None:
                on_node()
            label = node_label(node, index)
            label = label if scope.path == "main" else f"{scope.path}/{label}"
            if names is None or constants is None:
                names = NameGen(_used_names(proto))
                constants = ConstantPool(proto.graph, names, proto.ir_version, on_new=judge.mark_static)
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
                rewrite = rewrites[key3] = Rewrite(node.op_type, node.domain, plan.describe(), plan.exact, plan.bounds)
            rewrite.nodes.append(label)
            report.nodes_removed += 1
            report.nodes_added += len(replaced[index])
        if replaced:
            _splice(scope, replaced)
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
