"""Checking a model against a target: every node, in every scope, every problem at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import onnx

from opswap.graphs import Scope, iter_scopes, node_label
from opswap.model import Model
from opswap.schemas import since_version
from opswap.targets import Level, Target, Verdict, op_name
from opswap.typeinfo import TypeIndex


@dataclass(frozen=True)
class Finding:
    """One node that is not plainly legal for the target."""

    op_type: str
    domain: str
    node: str
    scope: str
    since_version: int | None
    level: Level
    reason: str


@dataclass(frozen=True)
class FindingGroup:
    """Findings of one op with one reason, as reported to users."""

    op_type: str
    domain: str
    level: Level
    reason: str
    nodes: tuple[str, ...]

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
        }


@dataclass
class CheckReport:
    """The result of checking a model against a target."""

    target: str
    model: str
    node_count: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def legal(self) -> bool:
        """True when no node is rejected (warnings and caveats allowed)."""
        return not any(f.level == Level.ERROR for f in self.findings)

    def groups(self, level: Level) -> list[FindingGroup]:
        """Findings at ``level`` grouped by op and reason, most frequent first."""
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for f in self.findings:
            if f.level == level:
                grouped.setdefault((f.op_type, f.domain, f.reason), []).append(f.node)
        groups = [FindingGroup(op, dom, level, reason, tuple(nodes)) for (op, dom, reason), nodes in grouped.items()]
        return sorted(groups, key=lambda g: (-g.count, g.op_type))

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the report."""
        return {
            "target": self.target,
            "model": self.model,
            "legal": self.legal,
            "nodes": self.node_count,
            "illegal": [g.to_dict() for g in self.groups(Level.ERROR)],
            "warnings": [g.to_dict() for g in self.groups(Level.WARNING)],
            "caveats": [g.to_dict() for g in self.groups(Level.CAVEAT)],
        }


class Judge:
    """Judges nodes of one model for one target, caching what does not depend on the node.

    Also the checker's source of facts about values (see ``ValueFacts``): element types and shapes
    are looked up, lazily, only for profiles that constrain them.
    """

    def __init__(self, proto: onnx.ModelProto, target: Target) -> None:
        self.target = target
        self._proto = proto
        self._static: set[str] | None = None
        self._added: set[str] = set()
        self._types: TypeIndex | None = None
        self._local_functions = {(f.domain, f.name) for f in proto.functions}
        self._cache: dict[tuple[str, str, int | None], Verdict] = {}

    def _index(self) -> TypeIndex:
        if self._types is None:
            self._types = TypeIndex(self._proto)
        return self._types

    def dtype(self, name: str) -> int | None:
        """The element type of a value."""
        return self._index().dtype(name)

    def shape(self, name: str) -> tuple[int | None, ...] | None:
        """The shape of a value."""
        return self._index().shape(name)

    def is_static(self, name: str) -> bool:
        """Whether a value is a constant: an initializer, a Constant node's output, or a rewrite's constant."""
        if name in self._added:
            return True
        if self._static is None:
            self._static = _static_names(self._proto)
        return name in self._static

    def mark_static(self, name: str) -> None:
        """Record a constant a rewrite creates (also while routes are only being planned)."""
        self._added.add(name)

    def verdict(self, node: onnx.NodeProto, opsets: dict[str, int]) -> Verdict:
        """Judge one node at the opsets of its scope."""
        domain = "" if node.domain == "ai.onnx" else node.domain
        version = self.since(node, opsets)
        entry = self.target.support(node.op_type, domain)
        if entry is not None and (entry.per_node or self.target.per_node):
            return self.target.verdict(node, version, self)
        key = (node.op_type, domain, version)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self.target.verdict(node, version, self)
        return cached

    def is_function_call(self, node: onnx.NodeProto) -> bool:
        """Calls to model-local functions are judged through the function's body."""
        return (node.domain, node.op_type) in self._local_functions

    def since(self, node: onnx.NodeProto, opsets: dict[str, int]) -> int | None:
        """The node's op version at its scope's opset."""
        domain = "" if node.domain == "ai.onnx" else node.domain
        return since_version(node.op_type, domain, opsets[domain]) if domain in opsets else None


def _static_names(proto: onnx.ModelProto) -> set[str]:
    names: set[str] = set()
    for scope in iter_scopes(proto):
        if isinstance(scope.owner, onnx.GraphProto):
            names.update(t.name for t in scope.owner.initializer)
        names.update(n.output[0] for n in scope.nodes if n.op_type == "Constant" and n.domain in ("", "ai.onnx"))
    return names


def check(model: Model, target: Target, on_scope: Callable[[Scope], None] | None = None) -> CheckReport:
    """Judge every node of every scope of ``model`` against ``target``."""
    judge = Judge(model.proto, target)
    report = CheckReport(target=target.name, model=model.name, node_count=0)
    if target.model_opsets is not None and not target.model_opsets[0] <= model.opset <= target.model_opsets[1]:
        low, high = target.model_opsets
        report.findings.append(
            Finding(
                "(model opset)",
                "",
                "(model)",
                "main",
                None,
                Level.ERROR,
                f"opset {model.opset} outside the opsets {target.name} reads ({low} to {high})",
            )
        )
    for scope in iter_scopes(model.proto):
        if on_scope is not None:
            on_scope(scope)
        report.node_count += len(scope.nodes)
        for index, node in enumerate(scope.nodes):
            if judge.is_function_call(node):
                continue
            verdict = judge.verdict(node, scope.opsets)
            if verdict.level != Level.OK:
                report.findings.append(
                    Finding(
                        op_type=node.op_type,
                        domain=node.domain,
                        node=_qualified(scope, node_label(node, index)),
                        scope=scope.path,
                        since_version=judge.since(node, scope.opsets),
                        level=verdict.level,
                        reason=verdict.reason,
                    )
                )
    return report


def _qualified(scope: Scope, label: str) -> str:
    return label if scope.path == "main" else f"{scope.path}/{label}"


__all__ = ["CheckReport", "Finding", "FindingGroup", "Judge", "check", "op_name", "since_version"]
