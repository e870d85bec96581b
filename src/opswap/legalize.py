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
they were. Every new node carries its provenance (rule and source node) in ``metadata_props``. An
output a rule computes as a constant becomes an initializer of that name, with no node.

Before any rule, nodes computed from constants are folded where that makes illegal nodes legal
(see ``fold``): shape arithmetic that leaves shapes dynamic, an Identity of a weight.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

from opswap.aftercheck import AfterCheck, kinds_of, owns_subgraphs
from opswap.check import QDQ_KEYS, CheckReport, Judge, ModelScan, Work, _Kind, scan_model
from opswap.fold import constant_names, fold
from opswap.fusions import GELU_PATTERN, fuse_gelu
from opswap.graphs import Scope, iter_scopes, no_gc, node_label, splice, upstream
from opswap.index import GraphIndex, PlanFacts, op_version
from opswap.model import Model
from opswap.quant import Calibrator, QuantFacts, QuantizeReport, UnitToKeep, facts, quantize_rewrites, units_to_keep
from opswap.rules import rules_for
from opswap.rules.base import Builder, ConstantPool, NameGen, Rule
from opswap.rules.certificates import describe, recorded
from opswap.rules.values import RuleNotApplicable, Value
from opswap.targets import Level, Target, Verdict, op_name
from opswap.typeinfo import Shape

#: How many rewrite steps a route may chain (HardSwish -> HardSigmoid -> Clip is 2).
MAX_DEPTH = 4


class Cost(NamedTuple):
    """What a route costs, compared field by field in this order (the cheapest route wins)."""

    #: Rules certified to give inf/NaN where the op is finite.
    flaws: int
    #: Approximate rules used.
    approximations: int
    #: New tensors and constants that need a Q/DQ pair, for a node inside a quantized (QDQ) unit:
    #: each is one more rounding (0 elsewhere).
    quantization_points: int
    #: Emitted nodes the converter would warn about.
    warnings: int
    #: Nodes emitted.
    size: int
    #: Rules applied.
    steps: int


@dataclass(frozen=True)
class Route:
    """A plan for one node: a rule, and routes for the nodes it emits that are illegal."""

    rule: Rule
    children: tuple[tuple[int, Route], ...]
    cost: Cost
    #: The planner's verdict and op version of each node the rule emits (those a child route
    #: rewrites included): what the check after rewriting is derived from (see ``aftercheck``).
    judged: tuple[tuple[Verdict, int | None], ...] = ()
    #: Whether those verdicts hold for every node sharing the route's key: none read a fact the key
    #: does not hold (see ``index.PlanFacts``).
    sure: bool = True

    def verdicts(self) -> list[tuple[Verdict, int | None]]:
        """The verdict and op version of each node the route leaves, in the order ``apply`` makes them."""
        children = dict(self.children)
        result: list[tuple[Verdict, int | None]] = []
        for index, judged in enumerate(self.judged):
            child = children.get(index)
            result.extend(child.verdicts() if child is not None else [judged])
        return result

    @property
    def derivable(self) -> bool:
        """Whether ``verdicts`` hold for every node the route is replayed on."""
        return self.sure and all(child.derivable for _, child in self.children)

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
        """JSON form: op_type, count, route (the rule ids, the node's own rule first)."""
        return {
            "op_type": self.op_type,
            "domain": self.domain,
            "count": len(self.nodes),
            "route": self.route.split(" > "),
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
    #: New initializers: constants the rules use, and outputs computed as constants.
    initializers_added: int = 0
    #: Nodes computed from constants and stored as initializers (see ``fold``), before any rewrite.
    folded: int = 0
    #: Whole patterns replaced by one op the target has (see ``fusions``): description -> count.
    fused: dict[str, int] = field(default_factory=dict)
    #: For a quantized (QDQ) model: the Q/DQ pairs that keep rewritten units quantized (see ``quant``).
    quantization: QuantizeReport | None = None
    #: The check of the legalized model, derived from the legalizer's own verdicts (see
    #: ``aftercheck``); None where it could not be derived, and ``not_derived`` says why.
    checked: CheckReport | None = field(default=None, repr=False, compare=False)
    not_derived: str = field(default="", repr=False, compare=False)

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
            "fused": self.fused,
            "nodes_removed": self.nodes_removed,
            "nodes_added": self.nodes_added,
            "initializers_added": self.initializers_added,
            "folded": self.folded,
            "quantization": self.quantization.to_dict() if self.quantization else None,
        }


class _Template:
    """The replacement of one node, compiled to be copied for other nodes that share its route key.

    Each template node is stored with its wiring: which of its inputs and outputs are the source
    node's inputs, the source node's outputs, or values local to the replacement (fresh names per
    copy). Other names are shared constants and stay as they are.
    """

    def __init__(
        self,
        inputs: list[str],
        outputs: list[str],
        nodes: list[onnx.NodeProto],
        initializers: dict[str, onnx.TensorProto],
        origins: dict[str, str],
    ) -> None:
        slots: dict[str, _Slot] = {}
        for k, name in enumerate(inputs):
            if name:
                slots.setdefault(name, _Slot(_INPUT, k))
        for k, name in enumerate(outputs):
            if name:
                slots[name] = _Slot(_OUTPUT, k)
        self.locals = 0
        for name in [*initializers, *(name for n in nodes for name in n.output)]:
            if name and name not in slots:
                slots[name] = _Slot(_LOCAL, self.locals)
                self.locals += 1
        #: Constants computed in place of outputs: initializers under the wired names, no node.
        self.initializers = [
            _Stored(*slots[name], tensor, provenance_text(origins[name], "")) for name, tensor in initializers.items()
        ]
        self.steps: list[_Step] = []
        for n in nodes:
            wires = tuple(
                _Wire(side, i, *slots[name])
                for side, names in ((_READS, n.input), (_WRITES, n.output))
                for i, name in enumerate(names)
                if name in slots
            )
            rule_id = next(e.value for e in n.metadata_props if e.key == "opswap.rule")
            source = next((i for i, e in enumerate(n.metadata_props) if e.key == "opswap.source"), -1)
            self.steps.append(_Step(n, wires, f"/{n.op_type}", provenance_text(rule_id, ""), source))

    @property
    def writes_outputs(self) -> bool:
        """Whether the replacement stores any of the node's outputs as an initializer (a constant now)."""
        return any(stored.kind == _OUTPUT for stored in self.initializers)

    def instantiate(self, node: onnx.NodeProto, names: NameGen, provenance: str, scope: Scope) -> list[onnx.NodeProto]:
        """Copies of the template's nodes wired to ``node``'s inputs and outputs, with fresh names.

        The copies but the last are appended to the scope's node list (to be moved into place by
        ``graphs.splice``); the last is written over ``node`` itself, which it replaces. With no nodes (every
        output an initializer), ``node`` is left for ``graphs.splice`` to remove.
        """
        inputs, outputs = list(node.input), list(node.output)
        prefix = node.name or outputs[0]
        local: list[str] = [""] * self.locals
        for kind, k, tensor, doc_head in self.initializers:
            if kind == _OUTPUT:
                name = outputs[k]
            else:
                name = local[k] = local[k] or names.fresh(f"{prefix}/initializer")
            made = scope.owner.initializer.add()  # type: ignore[union-attr]  # a graph: see Builder.initializer
            made.CopyFrom(tensor)
            made.name = name
            made.doc_string = doc_head + provenance
        add = scope.nodes.add
        result = []
        last = len(self.steps) - 1
        for step, (original, wires, op_suffix, doc_head, source) in enumerate(self.steps):
            new = node if step == last else add()
            new.CopyFrom(original)
            for side, i, kind, k in wires:
                if kind == _INPUT:
                    name = inputs[k]
                elif kind == _OUTPUT:
                    name = outputs[k]
                else:
                    name = local[k] or names.fresh(prefix + op_suffix)
                    local[k] = name
                if side == _READS:
                    new.input[i] = name
                else:
                    new.output[i] = name
            new.name = names.fresh(prefix + op_suffix)
            new.doc_string = doc_head + provenance
            if source >= 0:
                new.metadata_props[source].value = provenance
            result.append(new)
        return result


#: Where a template's value comes from in each copy: the source node's input k, its output k, or
#: the k-th value local to the replacement (a fresh name per copy).
_INPUT, _OUTPUT, _LOCAL = 0, 1, 2
#: Which side of a template node a wire is on.
_READS, _WRITES = 0, 1


class _Slot(NamedTuple):
    kind: int  # _INPUT, _OUTPUT or _LOCAL
    slot: int


class _Wire(NamedTuple):
    """One input or output of a template node wired to a slot (names shared by every copy are not wired)."""

    side: int  # _READS or _WRITES
    position: int
    kind: int
    slot: int


class _Step(NamedTuple):
    """A template node, its wiring, its name suffix, its doc_string head and where its provenance goes."""

    node: onnx.NodeProto
    wires: tuple[_Wire, ...]
    suffix: str
    head: str
    #: Index of its ``opswap.source`` metadata entry (-1: none).
    source: int


class _Stored(NamedTuple):
    """An initializer a template computes in place of an output or a local value."""

    kind: int
    slot: int
    tensor: onnx.TensorProto
    head: str


def provenance_text(rule_id: str, provenance: str) -> str:
    """The doc_string of what a rule made: ``opswap: RULE from SOURCE`` (SOURCE appended per copy)."""
    return f"opswap: {rule_id} from {provenance}"


class RouteKey(NamedTuple):
    """What a node's route depends on: nodes with equal keys share one route and one template."""

    op_type: str
    domain: str
    since: int | None
    #: The attributes, serialized.
    attributes: tuple[bytes, ...]
    #: Per input: None (absent), else (element type, shape or None, small constant or None, constant).
    inputs: tuple[Any, ...]
    #: Which inputs are the same value (None: all distinct).
    aliasing: tuple[int, ...] | None
    #: Which outputs are used.
    outputs: tuple[bool, ...]
    in_function: bool
    opset: int
    depth: int
    quantized: bool


class _Planner:
    """Searches and replays routes for the illegal nodes of one model."""

    def __init__(self, judge: Judge, index: GraphIndex, ir_version: int, allow_approx: bool = False) -> None:
        self.allow_approx = allow_approx
        self.ir_version = ir_version
        self.judge = judge
        self.index = index
        self.types = index.types
        self._plans: dict[RouteKey, Route | DeadEnd] = {}
        self._templates: dict[RouteKey, _Template] = {}
        self._shape_ops: dict[tuple[str, str], bool] = {}
        self._scratch_names = NameGen()
        #: A planner that may use approximate rules, for hints at dead ends (see ``_search``).
        self._approximating: _Planner | None = None

    # -- what a route depends on ----------------------------------------------------------------

    def _inputs(self, node: onnx.NodeProto, known: dict[str, Value]) -> tuple[Value | None, ...]:
        shapes = self.needs_shapes(node)
        return tuple(
            None if not name else known[name] if name in known else Value(name, *self._fact(name, shapes))
            for name in node.input
        )

    def _fact(self, name: str, shapes: bool) -> tuple[int, Shape | None, np.ndarray | None]:
        """Element type, shape (when a route may read it) and small constant value of a model value."""
        types = self.types
        dtypes, constants = types.known()
        dtype = dtypes.get(name) or types.dtype(name) or onnx.TensorProto.UNDEFINED
        return dtype, types.shape(name) if shapes else None, types.const(name) if name in constants else None

    def needs_shapes(self, node: onnx.NodeProto) -> bool:
        """Whether a route for the node may read input shapes (see ``_reads_shapes``)."""
        key = (node.op_type, node.domain)
        shapes = self._shape_ops.get(key)
        if shapes is None:
            shapes = self._shape_ops[key] = _reads_shapes(*key)
        return shapes

    def _key(
        self,
        node: onnx.NodeProto,
        scope: Scope,
        known: dict[str, Value],
        depth: int,
        since: int | None,
        quantized: bool = False,
    ) -> RouteKey:
        """The op, its version and attributes, what is known of its inputs, and their aliasing.

        Computed for every illegal node (the cache of routes and templates is keyed by it), so it
        reads names and dictionaries only; Values are built on a cache miss.
        """
        names = list(node.input)
        shapes = self.needs_shapes(node)
        facts: list[Any] = []
        for name in names:
            if not name:
                facts.append(None)
                continue
            value = known.get(name) if known else None
            dtype, shape, const = self._fact(name, shapes) if value is None else (value.dtype, value.shape, value.const)
            # Whether it is a constant: a target may require one there, of any size (a weight).
            static = const is not None or self.index.is_static(name)
            facts.append(
                (dtype, shape, None if const is None else (const.dtype.str, const.shape, const.tobytes()), static)
            )
        return RouteKey(
            node.op_type,
            node.domain,
            since,
            tuple(a.SerializeToString() for a in node.attribute),
            tuple(facts),
            None if len(set(names)) == len(names) else tuple(names.index(i) if i else -1 for i in names),
            tuple(bool(o) for o in node.output),
            scope.is_function,
            scope.opsets.get("", 0),
            depth,
            quantized,
        )

    # -- planning -------------------------------------------------------------------------------

    def plan(
        self,
        node: onnx.NodeProto,
        scope: Scope,
        known: dict[str, Value],
        depth: int = MAX_DEPTH,
        quantized: bool = False,
    ) -> tuple[RouteKey, Route | DeadEnd]:
        """The cheapest legal route for ``node`` (or why there is none), and the key it is cached by.

        ``quantized``: the node sits in a QDQ unit, so new tensors and constants count as
        quantization points (see ``Cost``).
        """
        key = self._key(node, scope, known, depth, op_version(node, scope.opsets), quantized)
        cached = self._plans.get(key)
        if cached is None:
            cached = self._plans[key] = self._search(node, scope, self._inputs(node, known), depth, quantized)
        return key, cached

    def replace(
        self,
        node: onnx.NodeProto,
        scope: Scope,
        names: NameGen,
        constants: ConstantPool,
        provenance: str,
        quantized: bool = False,
    ) -> tuple[Route, _Template, list[onnx.NodeProto]] | DeadEnd:
        """Rewrite ``node`` in place (``_Template.instantiate``): its route, template, and the nodes for it.

        Or, without changing anything, why no route exists. The first node with a given key runs
        the rules into a template; every node, that one included, is a copy of the template with its
        own names (running rule code per node costs several times more).
        """
        key, route = self.plan(node, scope, {}, quantized=quantized)
        if isinstance(route, DeadEnd):
            return route
        template = self._templates.get(key)
        if template is None:
            nodes, initializers, origins = self.apply(route, node, scope, names, constants, {}, provenance)
            if not nodes and not initializers:
                raise AssertionError(f"{route.rule.id} emitted nothing")
            template = _Template(list(node.input), list(node.output), nodes, initializers, origins)
            self._templates[key] = template
        return route, template, template.instantiate(node, names, provenance, scope)

    def _search(
        self, node: onnx.NodeProto, scope: Scope, inputs: tuple[Value | None, ...], depth: int, quantized: bool
    ) -> Route | DeadEnd:
        name = op_name(node.op_type, node.domain)
        rules = rules_for(node.op_type, node.domain)
        if not rules:
            return DeadEnd(name, (f"{name}: no rule rewrites {name}",))
        if depth == 0:
            return DeadEnd(name, (f"{name}: route too long (more than {MAX_DEPTH} steps)",))
        best: Route | None = None
        lines: list[str] = []
        skipped: list[Rule] = []
        for candidate in rules:
            if not candidate.exact and not self.allow_approx:
                skipped.append(candidate)
                lines.append(candidate.id)  # replaced below by what --allow-approx would do, if no route
                continue
            outcome = self._try(candidate, node, scope, inputs, depth, quantized)
            if isinstance(outcome, list):
                lines.extend(outcome)
                continue
            lines.append(f"via {candidate.id}: OK ({outcome.cost.size} nodes)")
            if best is None or outcome.cost < best.cost:
                best = outcome
        if best is not None:
            return best
        # Only for a dead end: a hint must say whether --allow-approx leads anywhere, so each skipped
        # approximate rule is tried by a planner that may use approximations.
        if skipped:
            approximating = self._approximating or _Planner(self.judge, self.index, self.ir_version, allow_approx=True)
            self._approximating = approximating
        for candidate in skipped:
            outcome = approximating._try(candidate, node, scope, inputs, depth, quantized)
            head = f"via {candidate.id}: approximate ({candidate.bound})"
            at = lines.index(candidate.id)
            if isinstance(outcome, Route):
                lines[at : at + 1] = [f"{head}; --allow-approx takes it ({outcome.cost.size} nodes)"]
            else:
                lines[at : at + 1] = [
                    f"{head}; no legal route even with --allow-approx:",
                    *(f"    {x}" for x in outcome),
                ]
        return DeadEnd(name, tuple(f"{name}: {line}" if not line.startswith("    ") else line for line in lines))

    def _try(
        self,
        candidate: Rule,
        node: onnx.NodeProto,
        scope: Scope,
        inputs: tuple[Value | None, ...],
        depth: int,
        quantized: bool,
    ) -> Route | list[str]:
        """The route through one rule, or the lines that say why it does not end legal."""
        try:
            emitted, produced, initializers = self._build(candidate, node, scope, inputs, self._scratch_names, None)
        except RuleNotApplicable as exc:
            return [f"via {candidate.id}: not applicable ({exc})"]
        made = {o for n in emitted for o in n.output if o}
        facts = PlanFacts(self.index, produced, made, initializers.keys(), self.needs_shapes(node))
        children: list[tuple[int, Route]] = []
        judged: list[tuple[Verdict, int | None]] = []
        warnings, blocked = 0, []
        for index, new in enumerate(emitted):
            verdict = self.judge.verdict(new, scope.opsets, facts)
            judged.append((verdict, op_version(new, scope.opsets)))
            if verdict.legal or verdict.version_only:
                # A version the target does not list is fixed afterwards by lowering the opset.
                warnings += verdict.level >= Level.WARNING
                continue
            _, sub = self.plan(new, scope, produced, depth - 1, quantized)
            if isinstance(sub, DeadEnd):
                blocked.append((op_name(new.op_type, new.domain), verdict.reason, sub))
            else:
                children.append((index, sub))
                warnings += sub.cost.warnings
        if blocked:
            op, reason, sub = blocked[0]
            return [f"via {candidate.id}: {op} illegal ({reason})", *(f"    {line}" for line in sub.lines)]
        certificate = recorded().get(candidate.id)
        flaws = int(bool(certificate and certificate["mismatches"])) + sum(c.cost.flaws for _, c in children)
        approximations = (not candidate.exact) + sum(c.cost.approximations for _, c in children)
        points = _quantization_points(emitted, node, produced) if quantized else 0
        points += sum(c.cost.quantization_points for _, c in children)
        size = len(emitted) - len(children) + sum(c.cost.size for _, c in children)
        steps = 1 + sum(c.cost.steps for _, c in children)
        cost = Cost(flaws, approximations, points, warnings, size, steps)
        return Route(candidate, tuple(children), cost, tuple(judged), not facts.unsure)

    # -- building -------------------------------------------------------------------------------

    def _build(
        self,
        candidate: Rule,
        node: onnx.NodeProto,
        scope: Scope,
        inputs: tuple[Value | None, ...],
        names: NameGen,
        constants: ConstantPool | None,
    ) -> tuple[list[onnx.NodeProto], dict[str, Value], dict[str, onnx.TensorProto]]:
        """Run a rule on ``node``; the nodes it emits write the node's own output names.

        Also returns the outputs the rule computed as initializers (see ``Builder.initializer``), by
        the node's output names.
        """
        op = self._builder(node, scope, inputs, names, constants)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        result = candidate.apply(op, list(inputs), attrs, len(node.output))
        wanted, outputs = _matched_outputs(candidate, node, list(result) if isinstance(result, tuple) else [result])
        produced = {out for n in op.nodes for out in n.output}
        renamed: set[str] = set()
        initializers: dict[str, onnx.TensorProto] = {}
        for original, value in zip(wanted, outputs, strict=False):
            if not original:
                continue
            if value is None:
                raise RuleNotApplicable(f"{candidate.id} does not compute output {original!r}")
            final = value
            if value.name in op.initializers and value.name not in renamed:
                initializers[original] = op.initializers[value.name]
                op.values[original] = Value(original, value.dtype, value.shape, value.const)
            else:
                if value.name not in produced or value.name in renamed:
                    final = op.emit("Identity", value)
                op.values[original] = Value(original, final.dtype)
            _rename_output(op.nodes, final.name, original)
            renamed.add(value.name)
        return op.nodes, op.values, initializers

    def _builder(
        self,
        node: onnx.NodeProto,
        scope: Scope,
        inputs: tuple[Value | None, ...],
        names: NameGen,
        constants: ConstantPool | None,
    ) -> Builder:
        """The builder a rule for ``node`` writes with, at the scope's opset, knowing the node's inputs."""
        pool = None
        if not scope.is_function:  # planning: a pool that stores nothing, for the model's IR version
            pool = constants or ConstantPool(None, names, self.ir_version)
        op = Builder(scope.opsets.get("", 0), names, pool, node.name or node.output[0])
        op.source_version = op_version(node, scope.opsets)
        for value in inputs:
            if value is None:
                continue
            if not value.dtype:
                raise RuleNotApplicable(f"element type of input {value.name!r} is unknown")
            op.values[value.name] = value
        return op

    def apply(
        self,
        route: Route,
        node: onnx.NodeProto,
        scope: Scope,
        names: NameGen,
        constants: ConstantPool,
        known: dict[str, Value],
        provenance: str,
    ) -> tuple[list[onnx.NodeProto], dict[str, onnx.TensorProto], dict[str, str]]:
        """Replay ``route`` on ``node`` for real.

        Returns the nodes that replace it, in order, the initializers that stand for outputs, and
        the rule that made each of those (a node's rule is its ``opswap.rule`` metadata).
        """
        emitted, produced, initializers = self._build(
            route.rule, node, scope, self._inputs(node, known), names, constants
        )
        made_by = provenance_text(route.rule.id, provenance)
        origins = dict.fromkeys(initializers, route.rule.id)
        for tensor in initializers.values():
            tensor.doc_string = made_by
        for new in emitted:
            new.doc_string = made_by
            new.metadata_props.add(key="opswap.rule", value=route.rule.id)
            new.metadata_props.add(key="opswap.source", value=provenance)
        children = dict(route.children)
        result: list[onnx.NodeProto] = []
        for index, new in enumerate(emitted):
            child = children.get(index)
            if child is None:
                result.append(new)
            else:
                known_here = {**known, **produced}
                nodes, more, more_origins = self.apply(child, new, scope, names, constants, known_here, provenance)
                result.extend(nodes)
                initializers.update(more)
                origins.update(more_origins)
        return result, initializers, origins


def _matched_outputs(
    candidate: Rule, node: onnx.NodeProto, outputs: list[Value | None]
) -> tuple[list[str], list[Value | None]]:
    """The node's output names paired with what the rule returned (a rule may skip unused optional outputs)."""
    wanted = list(node.output)
    if len(outputs) == len([o for o in wanted if o]) and len(outputs) != len(wanted):
        wanted = [o for o in wanted if o]
    if len(outputs) < len(wanted):
        raise RuleNotApplicable(f"{candidate.id} produces {len(outputs)} outputs, the node has {len(wanted)}")
    return wanted, outputs


def _quantization_points(emitted: list[onnx.NodeProto], node: onnx.NodeProto, produced: dict[str, Value]) -> int:
    """New float tensors and float constants a rule's nodes use: each needs a Q/DQ pair in a QDQ unit.

    A Clip's bounds and other parameter inputs are not quantized (see ``quant``); an emitted node
    that a child route rewrites counts its output here and its own inside the child.
    """
    from opswap.quant import parameter_inputs

    finals = set(node.output)
    made = {o for n in emitted for o in n.output if o}
    points = sum(1 for o in made if o not in finals and _is_float(produced.get(o)))
    seen = set(node.input) | made
    constants = set()
    for n in emitted:
        skip = parameter_inputs(n.op_type)
        for k, name in enumerate(n.input):
            if name and name not in seen and k not in skip and _is_float(produced.get(name)):
                constants.add(name)
    return points + len(constants)


def _is_float(value: Value | None) -> bool:
    """Whether a value is float (unknown counts as float: a point too many beats one missed)."""
    if value is None or not value.dtype:
        return True
    return value.dtype in (
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.FLOAT16,
        onnx.TensorProto.DOUBLE,
        onnx.TensorProto.BFLOAT16,
    )


@functools.cache
def _reads_shapes(op_type: str, domain: str, seen: frozenset[str] = frozenset()) -> bool:
    """Whether a rule for the op, or for an op its rules emit (transitively), reads input shapes.

    Routes and templates are cached by what is known of a node's inputs; when a rule further down
    a route reads a shape (a per-channel constant, say), the shape must be part of that key.
    What a rule emits is its ``emits=`` declaration; a rule whose emitted ops depend on the node (an
    ONNX body built per node) counts as reading shapes (the safe side).
    """
    rules = rules_for(op_type, domain)
    if any(r.shapes for r in rules):
        return True
    for candidate in rules:
        if candidate.emits is None:
            return True
        if any(e not in seen and _reads_shapes(e, "", seen | {op_type}) for e in candidate.emits):
            return True
    return False


def _rename_output(nodes: list[onnx.NodeProto], old: str, new: str) -> None:
    for n in nodes:
        for i, name in enumerate(n.output):
            if name == old:
                n.output[i] = new
        for i, name in enumerate(n.input):
            if name == old:
                n.input[i] = new


#: Models up to this size are serialized once to find a token no name contains (see ``unused_token``).
_SEARCH_LIMIT = 1 << 28


def unused_token(proto: onnx.ModelProto) -> str:
    """A word that occurs in no name of the model: ``opswap``, or ``opswap1``... if a run left it.

    Names holding it are new by construction (see ``NameGen``). Found by one search of the
    serialized model (C speed), or for models over 256 MiB by walking every name.
    """
    if proto.ByteSize() <= _SEARCH_LIMIT:
        blob = proto.SerializeToString()

        def taken(token: str) -> bool:
            return token.encode() in blob
    else:
        used = _used_names(proto)

        def taken(token: str) -> bool:
            return any(token in name for name in used)

    k = 0
    while taken(token := f"opswap{k or ''}"):
        k += 1
    return token


def _used_names(proto: onnx.ModelProto) -> set[str]:
    used: set[str] = set()
    for scope in iter_scopes(proto):
        owner = scope.owner
        if isinstance(owner, onnx.GraphProto):
            used.update(i.name for i in (*owner.input, *owner.output, *owner.value_info, *owner.initializer))
        else:
            used.update((*owner.input, *owner.output, owner.name))
        for n in scope.nodes:
            used.update(n.input)
            used.update(n.output)
            used.add(n.name)
    return used


def legalize(
    model: Model,
    target: Target | str,
    on_node: Callable[[], None] | None = None,
    *,
    allow_approx: bool = False,
    calibrate: Calibrator | None = None,
    index: GraphIndex | None = None,
    scan: ModelScan | None = None,
) -> LegalizeReport:
    """Rewrite, in place, every illegal node of ``model`` that has a legal route for ``target``.

    Exact rules only, unless ``allow_approx``: then rules with a stated error bound may be used, and
    the report shows their bounds. Returns what changed and, for nodes left illegal, why no route exists.
    In a quantized (QDQ) model, a rewritten node unit stays quantized: its new tensors get Q/DQ
    pairs (see ``quant``); ``calibrate`` runs the float graph for encodings no bound fixes.
    ``index``: the model's ``GraphIndex`` when the caller has one (it is invalidated once the
    model changes); ``scan``: the check of the model as it is now, made with ``keep=True`` by
    ``check.scan_model`` with that index (legalize's own is then not made). The report's
    ``checked`` is the check of the result, derived from the legalizer's own verdicts where that
    is sound (see ``aftercheck``).
    """
    from opswap.arguments import as_model, as_target

    model, target = as_model(model), as_target(target)
    with no_gc(), model.checked():
        return _legalize(model, target, on_node, allow_approx, calibrate, index, scan)


def _legalize(
    model: Model,
    target: Target,
    on_node: Callable[[], None] | None,
    allow_approx: bool,
    calibrate: Calibrator | None = None,
    index: GraphIndex | None = None,
    scan: ModelScan | None = None,
) -> LegalizeReport:
    proto = model.proto
    report = LegalizeReport(target=target.name)
    judge = Judge(target)
    index = index if index is not None else GraphIndex(proto)
    scan = _fold_and_fuse(model, target, report, judge, index, scan)
    work = scan.work
    after = AfterCheck(scan.report, scan.positions, scan.records, target)
    if any(illegal for _, illegal in work):
        _rewrite(model, report, work, judge, index, after, on_node, allow_approx, calibrate)
    report.checked, report.not_derived = after.result(), after.not_derived
    return report


def _rewrite(
    model: Model,
    report: LegalizeReport,
    work: Work,
    judge: Judge,
    index: GraphIndex,
    after: AfterCheck,
    on_node: Callable[[], None] | None,
    allow_approx: bool,
    calibrate: Calibrator | None,
) -> None:
    """Replace each illegal node that has a route; tell ``after`` what now stands where."""
    proto = model.proto
    rewrites: dict[tuple[str, str, str], Rewrite] = {}
    #: Routes are cached, one object per route: its Rewrite found by identity, without describing it again.
    by_route: dict[tuple[str, str, int], Rewrite] = {}
    unresolved: dict[tuple[str, str], Unresolved] = {}
    quantized, keep, computed = _units_to_keep(proto, work, qdq=bool(index.ops & QDQ_KEYS))
    if quantized.quantized:
        after.give_up("the model is quantized: rewritten units get Q/DQ pairs")
    planner = _Planner(judge, index, proto.ir_version, allow_approx)
    _shapes_before_rewriting(planner, work)
    initializers_before = _initializer_count(index.scopes)
    names = NameGen(token=unused_token(proto))
    constants = ConstantPool(proto.graph, names, proto.ir_version)
    kinds: dict[tuple[int, str], list[_Kind | None]] = {}
    nested = len(index.scopes) > 1  # a node may hold subgraphs
    # Innermost scopes first, so a parent rebuilt below carries its already-rewritten subgraphs.
    for scope, illegal in reversed(work):
        replaced: dict[int, list[onnx.NodeProto]] = {}
        path = scope.path
        prefix = "" if path == "main" else f"{path}/"
        for position, node, verdict, since in illegal:
            if on_node is not None:
                on_node()
            label = prefix + node_label(node, position)
            op_type, domain = node.op_type, node.domain  # the node is overwritten by its replacement
            if verdict.static_only:
                # The target takes the op, but needs a value at conversion time that is computed at
                # run time: a rewrite would only move the computed value to another op. Folding (with
                # the dimensions fixed) is the way; say how.
                outcome: tuple[Route, _Template, list[onnx.NodeProto]] | DeadEnd = DeadEnd(
                    op_type, (f"{op_name(op_type, domain)}: {verdict.reason}: {_static_hint(proto)}",)
                )
            else:
                if nested and not after.not_derived and owns_subgraphs(node):
                    after.give_up("a node holding subgraphs was rewritten")
                outcome = planner.replace(node, scope, names, constants, label, quantized=label in keep)
            if isinstance(outcome, DeadEnd):
                entry = unresolved.get((op_type, domain))
                if entry is None:
                    entry = unresolved[op_type, domain] = Unresolved(op_type, domain, verdict.reason, outcome.explain())
                entry.nodes.append(label)
                continue
            plan, template, new = outcome
            replaced[position] = new
            if not after.not_derived:
                old = _Kind(op_type, domain, path, since, verdict.level, verdict.reason, verdict.static_only)
                after.replaced(path, position, old, new, _new_kinds(kinds, plan, template, path, new, after))
            _rewrite_of(rewrites, by_route, op_type, domain, plan).nodes.append(label)
            report.nodes_removed += 1
            report.nodes_added += len(new)
        if replaced:
            splice(scope.nodes, replaced)
    if quantized.quantized:
        _quantize(report, proto, work, keep, computed, quantized, calibrate, names)
    report.initializers_added = _initializer_count(index.scopes) - initializers_before
    report.rewrites = sorted(rewrites.values(), key=lambda r: (-len(r.nodes), r.op_type))
    report.unresolved = sorted(unresolved.values(), key=lambda u: (-len(u.nodes), u.op_type))
    index.invalidate()


def _rewrite_of(
    rewrites: dict[tuple[str, str, str], Rewrite],
    by_route: dict[tuple[str, str, int], Rewrite],
    op_type: str,
    domain: str,
    plan: Route,
) -> Rewrite:
    """The report's entry for rewrites of one op along ``plan``'s route."""
    rewrite = by_route.get((op_type, domain, id(plan)))
    if rewrite is None:
        route = plan.describe()  # equal routes planned for different keys share one Rewrite
        rewrite = rewrites.setdefault(
            (op_type, domain, route), Rewrite(op_type, domain, route, plan.exact, plan.bounds)
        )
        by_route[op_type, domain, id(plan)] = rewrite
    return rewrite


def _quantize(
    report: LegalizeReport,
    proto: onnx.ModelProto,
    work: Work,
    keep: dict[str, UnitToKeep],
    computed: set[str],
    quantized: QuantFacts,
    calibrate: Calibrator | None,
    names: NameGen,
) -> None:
    """Q/DQ pairs for the rewritten units of a quantized model (main graph only)."""
    report.quantization = quantize_rewrites(proto, keep, computed, quantized, calibrate, names.fresh)
    report.nodes_added += report.quantization.nodes
    elsewhere = sum(len(illegal) for scope, illegal in work if scope.path != "main")
    if elsewhere:
        report.quantization.skipped.append(
            f"{elsewhere} illegal nodes in subgraphs or functions: rewritten without Q/DQ pairs "
            "(quantized rewrites are made in the main graph only)"
        )


def _new_kinds(
    kinds: dict[tuple[int, str], list[_Kind | None]],
    plan: Route,
    template: _Template,
    path: str,
    new: list[onnx.NodeProto],
    after: AfterCheck,
) -> list[_Kind | None]:
    """The findings of a route's nodes in one scope, from the planner's verdicts (once per route)."""
    found = kinds.get((id(plan), path))
    if found is None:
        judged = plan.verdicts()
        if not plan.derivable:
            after.give_up("a route's verdicts read facts its key does not hold")
        elif len(judged) != len(new):
            after.give_up("a route's nodes and its planned verdicts do not pair up")
        elif template.writes_outputs:
            after.give_up("a route writes outputs as constants")
        elif any(owns_subgraphs(n) for n in new):
            after.give_up("a route adds subgraphs")
        elif any(_op_key(n) in QDQ_KEYS for n in new):
            after.give_up("a route adds QuantizeLinear or DequantizeLinear")
        found = kinds[id(plan), path] = [] if after.not_derived else kinds_of(path, judged, new)
    return found


def _op_key(node: onnx.NodeProto) -> str | tuple[str, str]:
    return (node.op_type, node.domain) if node.domain else node.op_type


def _static_hint(proto: onnx.ModelProto) -> str:
    """What makes a value computed at run time a constant: fixed input dimensions, when there are any."""
    dynamic = []
    for value in proto.graph.input:
        dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        if any(not d.HasField("dim_value") for d in dims):
            shown = ",".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in dims)
            dynamic.append(f"{value.name}={shown}")
    if not dynamic:
        return "it is computed from the inputs' values at run time, so no rewrite or fold makes it a constant"
    return (
        "it is computed from the inputs' dynamic dimensions: give them, "
        f"--input-shape {' --input-shape '.join(dynamic)} with numbers, and fix writes them into the model so "
        "it folds to a constant"
    )


def _fold_and_fuse(
    model: Model, target: Target, report: LegalizeReport, judge: Judge, index: GraphIndex, scan: ModelScan | None
) -> ModelScan:
    """Fold and fuse what makes illegal nodes legal; then the check the rewrite starts from.

    Rewrites happen in place (a replacement's first nodes are appended, then moved into position),
    so a scope is not in order until spliced: the work list is complete before the first one.
    """
    if scan is None:
        scan = scan_model(model, judge, index, keep=True)
    report.folded = _fold_for(model, scan.work, index.ops)
    if report.folded:
        index.invalidate()
        scan = scan_model(model, judge, index, keep=True)
    report.fused = _fuse_for(model, target, scan.work)
    if report.fused:
        index.invalidate()
        scan = scan_model(model, judge, index, keep=True)
    return scan


def _units_to_keep(proto: onnx.ModelProto, work: Work, qdq: bool) -> tuple[QuantFacts, dict[str, UnitToKeep], set[str]]:
    """In a QDQ model: its facts, the illegal main-graph nodes inside units, and the computed tensors.

    Units are keyed by label; the tensors computed before rewriting tell new nodes from old ones.
    """
    quantized = facts(proto.graph) if qdq else QuantFacts()
    if not quantized.quantized:
        return quantized, {}, set()
    main = [illegal for scope, illegal in work if scope.path == "main"]
    labels = {index: node_label(node, index) for index, node, _, _ in (main[0] if main else [])}
    computed = {o for n in proto.graph.node for o in n.output if o}
    return quantized, units_to_keep(proto.graph, quantized, labels), computed


def _fuse_for(model: Model, target: Target, work: Work) -> dict[str, int]:
    """Whole patterns fused where a node of them has no exact route alone (an illegal Erf in a GELU)."""
    if not any(node.op_type == "Erf" for _, illegal in work for _, node, _, _ in illegal):
        return {}
    fused = fuse_gelu(model.proto, target, model.opset)
    return {f"{GELU_PATTERN} -> Gelu": fused} if fused else {}


def _fold_for(model: Model, work: Work, seen: Set[str | tuple[str, str]]) -> int:
    """Fold constants where that makes illegal nodes legal (see ``fold``); how many nodes were folded.

    Nodes illegal only for computed inputs or dynamic shapes: everything computed from constants is
    folded (shape arithmetic upstream of them). Otherwise, for the illegal main-graph nodes: a node
    whose inputs are all initializers (an Identity of a shared weight) is computed once, and the
    shape arithmetic upstream of one (``Shape -> Gather -> Concat`` feeding a Reshape, an Expand, a
    ConstantOfShape: what starts at a Shape, Size or Constant node) becomes the constant its rules
    need. Nothing else in the model is folded.
    """
    if any(verdict.static_only for _, illegal in work for _, _, verdict, _ in illegal):
        return fold(model).nodes
    if not work or not work[0][1]:
        return 0
    graph = model.proto.graph
    illegal = [node for _, node, _, _ in work[0][1]]
    constants = constant_names(graph)
    # Computed from initializers alone (a node with no inputs is a Constant: its own rule takes it).
    chosen = {n.output[0] for n in illegal if n.output and n.input and all(not i or i in constants for i in n.input)}
    if seen & _SEEDS:  # no Shape, Size or Constant anywhere (a large synthetic graph): no walk
        chosen |= _shape_arithmetic_upstream(graph, illegal)
    if not chosen:
        return 0
    return fold(model, lambda node: bool(node.output) and node.output[0] in chosen).nodes


#: Where shape arithmetic starts: values known without running the model.
_SEEDS = frozenset({"Shape", "Size", "Constant"})


def _shape_arithmetic_upstream(graph: onnx.GraphProto, illegal: list[onnx.NodeProto]) -> set[str]:
    """Outputs of shape arithmetic upstream of ``illegal`` nodes, for a fold to make constants of.

    Shape arithmetic: what starts at a Shape or Size node or a Constant, the constants its rules
    need. Weights and activations upstream are not among them, nor a Constant that feeds no such
    computation (a rule reads it as it is).
    """
    nodes = graph.node
    cone = upstream(nodes, (n.output[0] for n in illegal if n.output), lambda k: nodes[k].input)
    seeded: set[str] = set()
    constants: set[str] = set()
    chosen: set[str] = set()
    for k in sorted(cone):  # in topological order: a node's producers are decided before it
        node = nodes[k]
        if node.op_type not in _SEEDS and not any(name in seeded for name in node.input):
            continue
        seeded.update(o for o in node.output if o)
        if node.op_type == "Constant":
            constants.update(node.output)
        else:
            chosen.add(node.output[0])
            chosen.update(name for name in node.input if name in constants)
    return chosen


def _initializer_count(scopes: list[Scope]) -> int:
    return sum(len(s.owner.initializer) for s in scopes if isinstance(s.owner, onnx.GraphProto))


def _shapes_before_rewriting(planner: _Planner, work: Work) -> None:
    """Look up the input shapes rules will ask for while the graph is still whole.

    A shape the model does not declare comes from onnx's shape inference, which needs the nodes in
    order; asked for in the middle of rewriting, it would see a scope half spliced.
    """
    needing = [node for _, illegal in work for _, node, _, _ in illegal if planner.needs_shapes(node)]
    planner.types.build(with_shapes=bool(needing))
    for node in needing:
        for name in node.input:
            if name:
                planner.types.shape(name)


@dataclass(frozen=True)
class NodePlan:
    """What ``plan_node`` decided for one node standing alone: legal as it is, a route, or a dead end.

    ``node`` and ``inputs`` are the node and input facts the route was planned on: replaying the
    route on them (``frontends.torch_ops``) takes the same branches in every rule as planning did.
    """

    node: onnx.NodeProto
    inputs: tuple[Value | None, ...]
    source_version: int | None
    route: Route | DeadEnd | None


def plan_node(
    op_type: str,
    inputs: Sequence[Value | None],
    attrs: Mapping[str, Any],
    n_outputs: int,
    opset: int,
    target: Target,
    *,
    static: Set[int] = frozenset(),
    allow_approx: bool = False,
) -> NodePlan:
    """Judge and, when illegal, plan one node the way ``legalize`` does inside a model.

    ``inputs`` give each input's element type and shape; an input with ``const`` set is an
    initializer of that value (a constant bound), one whose position is in ``static`` an initializer
    whose value is not read (a weight), the others are graph inputs. The node
    is judged at ``opset`` against ``target``; ``route`` is None when it is legal as it is.
    """
    graph_inputs, initializers, names = [], [], []
    for k, value in enumerate(inputs):
        if value is None:
            names.append("")
            continue
        name = f"input_{k}"
        names.append(name)
        if value.const is not None:
            initializers.append(numpy_helper.from_array(np.asarray(value.const), name))
        elif k in static:
            weight = onnx.TensorProto(name=name, data_type=value.dtype, dims=value.static_shape())
            weight.data_location = onnx.TensorProto.EXTERNAL  # static, and never read as a constant
            initializers.append(weight)
        else:
            shape = None if value.shape is None else list(value.shape)
            graph_inputs.append(helper.make_tensor_value_info(name, value.dtype, shape))
    outputs = [f"output_{k}" for k in range(n_outputs)]
    node = helper.make_node(op_type, names, outputs, name=op_type, **attrs)
    graph = helper.make_graph(
        [node], "opswap_plan", graph_inputs, [helper.make_empty_tensor_value_info(o) for o in outputs], initializers
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    index = GraphIndex(proto)
    judge = Judge(target)
    scope = index.scopes[0]
    planned = scope.nodes[0]
    verdict = judge.verdict(planned, scope.opsets, index)
    planner = _Planner(judge, index, proto.ir_version, allow_approx)
    facts = planner._inputs(planned, {})
    since = op_version(planned, scope.opsets)
    if verdict.legal or verdict.version_only:
        return NodePlan(planned, facts, since, None)
    if verdict.static_only:
        return NodePlan(planned, facts, since, DeadEnd(op_type, (f"{op_type}: {verdict.reason}",)))
    return NodePlan(planned, facts, since, planner.plan(planned, scope, {})[1])
