"""Checking a model against a target: every node, in every scope, every problem at once."""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import onnx

from opswap.graphs import Scope, iter_scopes, no_gc, node_label
from opswap.index import GraphIndex, OpKey, op_version
from opswap.jsonout import schema_id
from opswap.model import Model
from opswap.schemas import since_version
from opswap.targets import Level, Target, Verdict, op_name
from opswap.targets.profile import OK, ValueFacts

#: Scan markers: the node calls a model-local function (judged through its body), or its verdict
#: depends on more than its op and version (attributes, constant inputs, dtypes, shapes).
_CALL = Verdict(Level.OK, "function call")
_PER_NODE = Verdict(Level.OK, "judged per node")


class Finding(NamedTuple):
    """One node that is not plainly legal for the target.

    A named tuple, not a dataclass: a check of a million-node graph may make a finding per node.
    """

    op_type: str
    domain: str
    node: str
    scope: str
    since_version: int | None
    level: Level
    reason: str
    #: Illegal only for computed inputs or dynamic shapes, which folding constants may fix.
    static_only: bool = False


@dataclass(frozen=True)
class FindingGroup:
    """Findings of one op with one reason, as reported to users."""

    op_type: str
    domain: str
    level: Level
    reason: str
    nodes: tuple[str, ...]
    #: Illegal only for computed inputs or dynamic shapes, which folding constants may fix.
    static_only: bool = False

    @property
    def count(self) -> int:
        """How many nodes share this op and reason."""
        return len(self.nodes)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: op_type, domain, count, nodes, reason."""
        return {
            "op_type": self.op_type,
            "domain": self.domain,
            "count": self.count,
            "nodes": list(self.nodes),
            "reason": self.reason,
            "static_only": self.static_only,
        }


class _Kind(NamedTuple):
    """What findings of one kind share (a key: a check of a large graph holds node labels per kind)."""

    op_type: str
    domain: str
    scope: str
    since: int | None
    level: Level
    reason: str
    static_only: bool


@dataclass
class CheckReport:
    """The result of checking a model against a target.

    Findings are stored as node labels grouped by kind (op, scope, version, level, reason): a check
    of a large graph may find every node (a version the target does not list, say), and a list of
    labels costs a fraction of an object per finding.
    """

    target: str
    model: str
    node_count: int
    _found: dict[_Kind, list[str]] = field(default_factory=dict, repr=False)
    #: For a quantized (QDQ) model: its units and what sits outside them (see ``QuantizationCheck``).
    quantization: QuantizationCheck | None = None
    #: Which graph was judged when it is not the file's own (see ``Target.partitions_after``).
    judged: str = ""
    #: What ``fix --lower-opset auto`` would do to the version warnings, when asked for (the check
    #: command asks ``opsets.lowering_advice``; ``fix``'s own checks do not pay for it).
    lowering_advice: str = ""

    @property
    def findings(self) -> list[Finding]:
        """Every finding, grouped by kind in the order kinds were first met."""
        return [
            Finding(op_type, domain, node, scope, since, level, reason, static_only)
            for (op_type, domain, scope, since, level, reason, static_only), nodes in self._found.items()
            for node in nodes
        ]

    def at(self, level: Level) -> list[Finding]:
        """The findings at one level (``Level.ERROR``: what the target rejects)."""
        return [f for f in self.findings if f.level == level]

    def __str__(self) -> str:
        """The verdict in one line, as ``check`` prints it."""
        if self.legal:
            return f"LEGAL for {self.target}"
        ops = list(self.per_op(Level.ERROR))
        return f"ILLEGAL for {self.target}: {self.count(Level.ERROR)} nodes of {len(ops)} op types ({', '.join(ops)})"

    def _repr_html_(self) -> str:
        """What a notebook shows: the verdict and the findings of each level."""
        from opswap.html import check_html

        return check_html(self)

    def add(self, finding: Finding) -> None:
        """Record one finding."""
        f = finding
        self.labels(_Kind(f.op_type, f.domain, f.scope, f.since_version, f.level, f.reason, f.static_only)).append(
            f.node
        )

    def labels(self, kind: _Kind) -> list[str]:
        """The (appendable) list of node labels with findings of ``kind``."""
        return self._found.setdefault(kind, [])

    def count(self, level: Level) -> int:
        """How many nodes have findings at ``level``."""
        return sum(len(nodes) for kind, nodes in self._found.items() if kind.level == level)

    @property
    def legal(self) -> bool:
        """True when no node is rejected (warnings and caveats allowed)."""
        return not any(kind.level == Level.ERROR for kind in self._found)

    def groups(self, level: Level) -> list[FindingGroup]:
        """Findings at ``level`` grouped by op and reason, most frequent first."""
        grouped: dict[tuple[str, str, str, bool], list[str]] = {}
        for (op_type, domain, _, _, kind_level, reason, static_only), nodes in self._found.items():
            if kind_level == level:
                grouped.setdefault((op_type, domain, reason, static_only), []).extend(nodes)
        groups = [
            FindingGroup(op, dom, level, reason, tuple(nodes), static)
            for (op, dom, reason, static), nodes in grouped.items()
        ]
        return sorted(groups, key=lambda g: (-g.count, g.op_type))

    def per_op(self, level: Level) -> dict[str, int]:
        """Nodes with findings at ``level`` per op (``domain:Op`` outside ai.onnx), most first."""
        counts: dict[str, int] = {}
        for group in self.groups(level):  # an op may have several groups (several reasons)
            name = op_name(group.op_type, group.domain)
            counts[name] = counts.get(name, 0) + group.count
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the report."""
        return {
            "schema": schema_id("check"),
            "target": self.target,
            "model": self.model,
            "legal": self.legal,
            "nodes": self.node_count,
            "illegal": [g.to_dict() for g in self.groups(Level.ERROR)],
            "warnings": [g.to_dict() for g in self.groups(Level.WARNING)],
            "caveats": [g.to_dict() for g in self.groups(Level.CAVEAT)],
            "quantization": self.quantization.to_dict() if self.quantization else None,
            "judged": self.judged or None,
            "lowering_advice": self.lowering_advice or None,
        }


@dataclass
class QuantizationCheck:
    """What a quantizing converter will make of a QDQ model's main graph."""

    #: Node units: ops with every float input from a DequantizeLinear and every output read by Qs.
    units: int
    #: Nodes outside any unit (label, op): a quantizing converter runs them in float or refuses them.
    outside: list[tuple[str, str]]
    #: Float tensors computed by nodes and read without a QuantizeLinear: no encoding to take.
    unencoded: list[str]
    #: Illegal nodes inside units: fix keeps their rewrites quantized (Q/DQ pairs on new tensors).
    illegal_in_units: int
    #: Illegal nodes outside units: their rewrites stay float, as the nodes were.
    illegal_outside: int

    def outside_per_op(self) -> dict[str, int]:
        """Nodes outside any unit, per op, most first."""
        counts: dict[str, int] = {}
        for _, op in self.outside:
            counts[op] = counts.get(op, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "units": self.units,
            "outside_units": [{"node": label, "op_type": op} for label, op in self.outside],
            "unencoded_tensors": self.unencoded,
            "illegal_in_units": self.illegal_in_units,
            "illegal_outside_units": self.illegal_outside,
        }


def quantization_check(model: onnx.ModelProto, report: CheckReport) -> QuantizationCheck | None:
    """The QDQ facts of ``model`` (None when it has no QuantizeLinear or DequantizeLinear)."""
    from opswap.quant import facts

    found = facts(model.graph)
    if not found.quantized:
        return None
    outside = [(node_label(n, i), op_name(n.op_type, n.domain)) for i, n in found.outside]
    illegal = {f.node for f in report.findings if f.level == Level.ERROR and f.scope == "main" and f.node != "(model)"}
    in_units = sum(node_label(model.graph.node[i], i) in illegal for i in found.units)
    return QuantizationCheck(len(found.units), outside, found.unencoded, in_units, len(illegal) - in_units)


def judge(node: onnx.NodeProto, opsets: Mapping[str, int], target: Target, facts: ValueFacts) -> Verdict:
    """The verdict on one node: a pure function of the node, its scope's opsets, the target and the facts.

    ``facts`` is what is known of the node's inputs: a model's ``GraphIndex``, or while routes are
    planned a ``PlanFacts`` over it.
    """
    return target.verdict(node, op_version(node, opsets), facts)


class Judge:
    """``judge`` for one target, memoized per op where the verdict depends on nothing else.

    Holds no facts about any model: they are passed in (a ``GraphIndex``, a ``PlanFacts``), so the
    same judge serves the model, its rewrites and the routes being planned.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self._cache: dict[tuple[str, str, int | None], Verdict] = {}

    def scan(
        self, scope: Scope, index: GraphIndex
    ) -> Iterator[tuple[int, onnx.NodeProto, Verdict, int | None, object]]:
        """Each node of ``scope`` that is not plainly legal: position, node, verdict, op version, group.

        ``group`` is one object for all nodes of an op whose verdict does not depend on the node
        (callers may key on its ``id`` while the scan runs), None for nodes judged one by one.

        The hot loop of check and legalize: per node it reads the op type and domain and looks up a
        verdict cached per op; only ops whose profile entry constrains attributes, inputs, dtypes or
        shapes are judged node by node, with ``index``'s facts. The ops met are added to ``index.ops``.
        """
        opsets = scope.opsets
        # Keyed by the op type alone for the default domain (no tuple to build per node).
        fixed: dict[OpKey, tuple[Verdict, int | None]] = {}
        seen = index.ops
        for position, node in enumerate(scope.nodes):
            op_type, domain = node.op_type, node.domain
            key = (op_type, domain) if domain else op_type
            cached = fixed.get(key)
            if cached is None:
                cached = fixed[key] = self._op_verdict((op_type, domain), opsets, index.local_functions)
                seen.add(key)
            verdict = cached[0]
            if verdict is OK or verdict is _CALL:
                continue
            if verdict is _PER_NODE:
                verdict = self.target.verdict(node, cached[1], index)
                if verdict.level == Level.OK:
                    continue
                yield position, node, verdict, cached[1], None
            else:
                yield position, node, verdict, cached[1], cached

    def _op_verdict(
        self, key: tuple[str, str], opsets: dict[str, int], local_functions: Set[tuple[str, str]]
    ) -> tuple[Verdict, int | None]:
        op_type, domain = key
        probe = onnx.NodeProto(op_type=op_type, domain=domain)
        since = op_version(probe, opsets)
        if (domain, op_type) in local_functions:
            return _CALL, since
        entry = self.target.support(op_type, domain)
        if self.target.per_node or (entry is not None and entry.per_node):
            return _PER_NODE, since
        return self.verdict(probe, opsets, _NO_FACTS), since

    def verdict(self, node: onnx.NodeProto, opsets: Mapping[str, int], facts: ValueFacts) -> Verdict:
        """``judge(node, opsets, target, facts)``, cached per op and version where only those matter."""
        domain = "" if node.domain == "ai.onnx" else node.domain
        entry = self.target.support(node.op_type, domain)
        if entry is not None and (entry.per_node or self.target.per_node):
            return judge(node, opsets, self.target, facts)
        version = op_version(node, opsets)
        key = (node.op_type, domain, version)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self.target.verdict(node, version, facts)
        return cached


class _NoFacts:
    """The facts an op's verdict is judged with when it depends on the op and version alone."""

    def is_static(self, name: str) -> bool:
        return False

    def dtype(self, name: str) -> int | None:
        return None

    def shape(self, name: str) -> tuple[int | None, ...] | None:
        return None


_NO_FACTS = _NoFacts()


def _is_rewritable(verdict: Verdict) -> bool:
    """Illegal, and not only for a version lowering the opset fixes: a rewrite's business."""
    return not verdict.legal and not verdict.version_only


def check(
    model: Model | str | os.PathLike[str],
    target: Target | str,
    on_scope: Callable[[Scope], None] | None = None,
    *,
    index: GraphIndex | None = None,
) -> CheckReport:
    """Judge every node of every scope of ``model`` against ``target``.

    ``model`` may be a path and ``target`` a profile name or path (``opswap.check("m.onnx", "snpe-2.7")``).

    Waits for onnx's checker if it runs in the background (see ``load``): an invalid model is
    reported as such, never judged. ``index``: the model's ``GraphIndex`` when the caller has one
    (what it found is reused; the judged graph must be the one it indexes).
    """
    from opswap.arguments import as_model, as_target

    model, target = as_model(model), as_target(target)
    with no_gc(), model.checked():
        if target.partitions_after == "onnxruntime-basic":
            return _check_as_onnxruntime_sees(model, target, on_scope)
        return _check(model, target, on_scope, index)


def _check_as_onnxruntime_sees(model: Model, target: Target, on_scope: Callable[[Scope], None] | None) -> CheckReport:
    """Judge the graph ONNX Runtime's EPs partition: the model after ORT's basic optimizations.

    ORT folds constant subgraphs, lifts Constant nodes into initializers and removes redundant nodes
    (Identity, Dropout, ...) before any execution provider sees the graph; its mobile usability
    checker judges that graph too. Where ORT cannot load the model, the file's own graph is judged
    and the report says why.
    """
    import tempfile

    import onnxruntime as ort

    from opswap.model import external_tensors

    node_count = sum(len(scope.nodes) for scope in iter_scopes(model.proto))
    with tempfile.TemporaryDirectory(prefix="opswap-ort-view-") as tmp:
        optimized = Path(tmp) / "optimized.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(optimized)
        options.log_severity_level = 4
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", "weights.data")
        if next(external_tensors(model.proto), None) is not None:
            folder = str(model.base_dir)
            options.add_session_config_entry("session.model_external_initializers_file_folder_path", folder)
        try:
            ort.InferenceSession(model.proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
            view = onnx.load(str(optimized), load_external_data=False)
        except Exception as exc:  # ORT's own error types: it cannot load the model
            report = _check(model, target, on_scope)
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            report.judged = f"the file's own graph (ONNX Runtime cannot load it: {text[:200]})"
            return report
        seen = Model(view, model.path, Path(tmp), label=model.label)
        report = _check(seen, target, on_scope)
    report.model = model.source
    report.judged = (
        f"the graph ONNX Runtime partitions, after its basic optimizations (constants folded, Constant nodes "
        f"made initializers, redundant nodes removed): {report.node_count} nodes of the file's {node_count}"
    )
    return report


def _check(
    model: Model, target: Target, on_scope: Callable[[Scope], None] | None, index: GraphIndex | None = None
) -> CheckReport:
    index = index if index is not None else GraphIndex(model.proto)
    return scan_model(model, Judge(target), index, on_scope=on_scope).report


def new_report(model: Model, target: Target) -> CheckReport:
    """An empty report of ``model`` for ``target``, with the model-level finding (its opset) if any."""
    report = CheckReport(target=target.name, model=model.source, node_count=0)
    if target.model_opsets is not None and not target.model_opsets[0] <= model.opset <= target.model_opsets[1]:
        low, high = target.model_opsets
        reason = f"opset {model.opset} outside the opsets {target.name} reads ({low} to {high})"
        report.add(Finding("(model opset)", "", "(model)", "main", None, Level.ERROR, reason))
    return report


#: Per scope, the nodes a rewrite may make legal: position, node, verdict, op version.
Work = list[tuple[Scope, list[tuple[int, onnx.NodeProto, Verdict, int | None]]]]


class ModelScan(NamedTuple):
    """A check as the legalizer keeps it: the report, each finding's node position, each scope's record."""

    report: CheckReport
    #: Per kind of finding, its nodes' positions (beside the report's labels); empty unless kept.
    positions: dict[_Kind, array[int]]
    records: list[ScopeRecord]

    @property
    def work(self) -> Work:
        """Per scope, the nodes a rewrite may make legal (kept scans only)."""
        return [(kept.scope, kept.illegal) for kept in self.records]


def scan_model(
    model: Model,
    judge: Judge,
    index: GraphIndex,
    *,
    keep: bool = False,
    on_scope: Callable[[Scope], None] | None = None,
) -> ModelScan:
    """``check`` of the file's own graph, as a scan legalize can start from (``keep``: what it needs too)."""
    report = new_report(model, judge.target)
    positions: dict[_Kind, array[int]] = {}
    records = []
    for scope in index.scopes:
        if on_scope is not None:
            on_scope(scope)
        kept = ScopeRecord(scope) if keep else None
        record(report, judge, index, scope, positions if keep else None, kept)
        if kept is not None:
            records.append(kept)
    # A QDQ model's facts cost a pass over the graph: only when the scan met a Q or DQ.
    if index.ops & QDQ_KEYS:
        report.quantization = quantization_check(model.proto, report)
    return ModelScan(report, positions, records)


@dataclass
class ScopeRecord:
    """What the legalizer keeps of one scope's scan beyond the report (see ``record``)."""

    scope: Scope
    #: The nodes a rewrite may make legal: position, node, verdict, op version.
    illegal: list[tuple[int, onnx.NodeProto, Verdict, int | None]] = field(default_factory=list)
    #: Positions of the unnamed nodes with findings (their labels are positions).
    unnamed: list[int] = field(default_factory=list)


def record(
    report: CheckReport,
    judge: Judge,
    index: GraphIndex,
    scope: Scope,
    positions: dict[_Kind, array[int]] | None = None,
    kept: ScopeRecord | None = None,
) -> None:
    """Scan one scope into ``report``: the one loop of check, and of legalize's own check.

    Given ``positions``, each finding's node position is recorded beside its label (per kind); given
    ``kept``, the rewritable nodes and the unnamed ones are kept there (see ``legalize``).
    """
    report.node_count += len(scope.nodes)
    path = scope.path
    prefix = "" if path == "main" else f"{path}/"
    # Per group (an op judged once for all its nodes): where its labels and positions go, and
    # whether its nodes are the legalizer's to rewrite.
    by_group: dict[int, tuple[Callable[[str], None], Callable[[int], None] | None, bool]] = {}
    unnamed = kept.unnamed if kept is not None else None
    illegal = kept.illegal if kept is not None else None
    for position, node, verdict, since, group in judge.scan(scope, index):
        found = by_group.get(id(group)) if group is not None else None
        if found is None:
            kind = _Kind(node.op_type, node.domain, path, since, verdict.level, verdict.reason, verdict.static_only)
            at = None
            if positions is not None:
                at = positions.get(kind)
                if at is None:
                    at = positions[kind] = array("q")
            found = (report.labels(kind).append, at.append if at is not None else None, _is_rewritable(verdict))
            if group is not None:
                by_group[id(group)] = found
        add_label, add_position, rewritable = found
        name = node.name
        add_label(prefix + (name or f"{node.op_type}#{position}"))
        if add_position is not None:
            add_position(position)
        if unnamed is not None and not name:
            unnamed.append(position)
        if rewritable and illegal is not None:
            illegal.append((position, node, verdict, since))


#: ``GraphIndex.ops`` keys of QuantizeLinear and DequantizeLinear: a model holding one is QDQ-quantized.
QDQ_KEYS = {
    op if domain == "" else (op, domain)
    for op in ("QuantizeLinear", "DequantizeLinear")
    for domain in ("", "ai.onnx", "com.microsoft")
}


__all__ = ["CheckReport", "Finding", "FindingGroup", "Judge", "check", "judge", "op_name", "since_version"]
