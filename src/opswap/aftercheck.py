"""The check of a legalized model, derived from the legalizer's own verdicts instead of judging it again.

The legalizer scans the model once (``check.record``, the loop ``check`` runs), keeping each
finding's node position. Rewriting then replaces some nodes by copies of a route's template, whose
nodes the planner judged while searching (``Route.verdicts``). The check after rewriting is that
scan with the replaced nodes' findings taken out and the template nodes' put in where they now
stand: per kind of finding, the untouched labels are copied in slices between replacements, so the
cost follows the replacements, not the model's size. The result equals what ``check`` reports on
the rewritten model, finding for finding and in the same order (a test holds the two equal).

Where a rewrite can change what the model's own check would find, nothing is derived and ``fix``
checks the rewritten model the ordinary way: targets judged node by node on shapes (``fixed_shapes``,
``max_rank``) or on another graph (ONNX Runtime's view), models holding Q/DQ nodes, a route
whose verdicts read facts its key does not hold, outputs rewritten into constants (their consumers
may judge differently), and rewrites that add, remove or rename subgraphs.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import onnx

from opswap.check import CheckReport, ScopeRecord, _Kind
from opswap.targets import Level, Target, Verdict

_GRAPH_TYPES = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
_LAST = 1 << 62


def owns_subgraphs(node: onnx.NodeProto) -> bool:
    """Whether a node holds a subgraph (If, Loop, Scan...): rewriting it adds or removes scopes."""
    return any(a.type in _GRAPH_TYPES for a in node.attribute)


@dataclass
class _Inserted:
    """New nodes' findings of one kind, in scan order: where each was put, and its label.

    Parallel arrays, not a tuple per node: a million-node model may add as many findings.
    """

    #: Position of the node replaced.
    at: array[int] = field(default_factory=lambda: array("q"))
    #: Step in that node's replacement.
    step: array[int] = field(default_factory=lambda: array("q"))
    labels: list[str] = field(default_factory=list)


@dataclass
class _ScopeEdits:
    """What rewriting did to one scope, as the derivation needs it."""

    #: Positions of the replaced nodes, in order, and how many nodes now stand at each.
    starts: array[int] = field(default_factory=lambda: array("q"))
    lengths: array[int] = field(default_factory=lambda: array("q"))
    #: Per kind: positions of the replaced nodes whose findings are taken out.
    removed: dict[_Kind, array[int]] = field(default_factory=dict)
    #: Per kind: the new nodes' findings.
    inserted: dict[_Kind, _Inserted] = field(default_factory=dict)


class AfterCheck:
    """Builds the check of the rewritten model from the legalizer's scan and the routes' verdicts."""

    def __init__(
        self, report: CheckReport, positions: dict[_Kind, array[int]], records: list[ScopeRecord], target: Target
    ) -> None:
        self._report = report
        self._positions = positions
        self._unnamed = {r.scope.path: set(r.unnamed) for r in records}
        self._rank = {r.scope.path: k for k, r in enumerate(records)}
        self._scopes = [r.scope for r in records]
        self._edits: dict[str, _ScopeEdits] = {}
        #: Why the check cannot be derived ("" while it can).
        self.not_derived = ""
        if target.per_node:
            self.give_up("the target judges every node on its shapes")
        elif target.partitions_after:
            self.give_up("the target judges the graph its runtime partitions")
        elif report.quantization is not None:
            self.give_up("the model holds QuantizeLinear or DequantizeLinear (its QDQ facts are checked again)")

    def give_up(self, why: str) -> None:
        """Derive nothing: ``fix`` checks the rewritten model itself."""
        if not self.not_derived:
            self.not_derived = why
            self._edits.clear()

    def replaced(
        self,
        path: str,
        position: int,
        old: _Kind,
        new_nodes: list[onnx.NodeProto],
        kinds: list[_Kind | None],
    ) -> None:
        """Record that the node at ``position`` of scope ``path`` now stands as ``new_nodes``.

        ``old`` is the replaced node's finding, ``kinds`` the new nodes' (None where plainly legal).
        """
        if self.not_derived:
            return
        edits = self._edits.get(path)
        if edits is None:
            edits = self._edits[path] = _ScopeEdits()
        edits.starts.append(position)
        edits.lengths.append(len(new_nodes))
        removed = edits.removed.get(old)
        if removed is None:
            removed = edits.removed[old] = array("q")
        removed.append(position)
        prefix = "" if path == "main" else f"{path}/"
        inserted = edits.inserted
        for step, kind in enumerate(kinds):
            if kind is not None:
                found = inserted.get(kind)
                if found is None:
                    found = inserted[kind] = _Inserted()
                found.at.append(position)
                found.step.append(step)
                found.labels.append(prefix + new_nodes[step].name)

    def result(self) -> CheckReport | None:
        """The derived report, or None when it could not be derived (``not_derived`` says why)."""
        if self.not_derived:
            return None
        # A report of its own: the scan's may be the check before rewriting, kept as it was. Kinds
        # no rewrite touched share their label lists with it (neither is appended to again).
        before = self._report
        report = CheckReport(before.target, before.model, before.node_count, dict(before._found))
        report.judged, report.lowering_advice = before.judged, before.lowering_advice
        firsts: dict[_Kind, tuple[int, int]] = {}
        for kind, at in self._positions.items():
            if at:
                firsts[kind] = (self._rank[kind.scope], at[0])
        for path, edits in self._edits.items():
            self._apply(report, path, edits, firsts)
        found = report._found
        model_level = [k for k in found if k not in self._positions and k not in firsts]
        ordered = sorted((k for k in found if k in firsts), key=firsts.__getitem__)
        report._found = {k: found[k] for k in [*model_level, *ordered] if found[k]}
        report.node_count = sum(len(scope.nodes) for scope in self._scopes)
        return report

    def _apply(self, report: CheckReport, path: str, edits: _ScopeEdits, firsts: dict[_Kind, tuple[int, int]]) -> None:
        """Take the replaced findings out of one scope's kinds and put the new nodes' in."""
        starts = edits.starts
        shifts = [0]
        for length in edits.lengths:
            shifts.append(shifts[-1] + length - 1)

        def moved(p: int) -> int:
            return p + shifts[bisect.bisect_left(starts, p)]

        rank = self._rank[path]
        unnamed = self._unnamed.get(path)
        kinds = [k for k in report._found if k.scope == path]
        kinds += [k for k in edits.inserted if k not in report._found]
        for kind in kinds:
            at = self._positions.get(kind, _NONE)
            removed, inserted = edits.removed.get(kind, _NONE), edits.inserted.get(kind, _NO_INSERTS)
            if not removed and not inserted.labels and not unnamed:
                if at:  # untouched: only where it starts moved
                    firsts[kind] = (rank, moved(at[0]))
                continue
            labels = report.labels(kind)
            if unnamed:
                new, first = _merge_relabelled(at, labels, removed, inserted, moved, unnamed, kind.op_type, path)
            else:
                new, first = _merge(at, labels, removed, inserted, moved)
            report._found[kind] = new
            if new:
                firsts[kind] = (rank, first)
            else:
                firsts.pop(kind, None)


_NONE: array[int] = array("q")
_NO_INSERTS = _Inserted()


def _merge(
    at: array[int], labels: list[str], removed: array[int], inserted: _Inserted, moved: Callable[[int], int]
) -> tuple[list[str], int]:
    """One kind's labels after the edits, in order, and where its first node now stands.

    Untouched labels are copied in slices between the edits (``at`` is sorted: scan order).
    """
    new_at, new_step, new_labels = inserted.at, inserted.step, inserted.labels
    if not new_labels and len(removed) == len(at):
        return [], -1  # every node of the kind was replaced
    if not at:  # only new nodes: they came in scan order
        return list(new_labels), moved(new_at[0]) + new_step[0]
    out: list[str] = []
    first = -1
    n_removed, n_inserted, n_at = len(removed), len(new_labels), len(at)
    cursor, r, i = 0, 0, 0
    while r < n_removed or i < n_inserted:
        here = min(removed[r] if r < n_removed else _LAST, new_at[i] if i < n_inserted else _LAST)
        cut = bisect.bisect_left(at, here, cursor)
        if cut > cursor:
            if not out:
                first = moved(at[cursor])
            out.extend(labels[cursor:cut])
            cursor = cut
        if i < n_inserted and new_at[i] == here:
            if not out:
                first = moved(here) + new_step[i]
            end = bisect.bisect_right(new_at, here, i)
            out.extend(new_labels[i:end])
            i = end
        if r < n_removed and removed[r] == here:
            r += 1
            if cursor < n_at and at[cursor] == here:
                cursor += 1
    if cursor < n_at:
        if not out:
            first = moved(at[cursor])
        out.extend(labels[cursor:])
    return out, first


def _merge_relabelled(
    at: array[int],
    labels: list[str],
    removed: array[int],
    inserted: _Inserted,
    moved: Callable[[int], int],
    unnamed: set[int],
    op_type: str,
    path: str,
) -> tuple[list[str], int]:
    """``_merge`` for a scope with unnamed nodes, whose labels are their positions: each is moved too."""
    gone = set(removed)
    prefix = "" if path == "main" else f"{path}/"
    items = [
        (now, prefix + f"{op_type}#{now}" if p in unnamed else label)
        for p, label in zip(at, labels, strict=True)
        if p not in gone
        for now in (moved(p),)
    ]
    items += [
        (moved(p) + step, label) for p, step, label in zip(inserted.at, inserted.step, inserted.labels, strict=True)
    ]
    items.sort(key=lambda item: item[0])
    return [label for _, label in items], (items[0][0] if items else -1)


def kinds_of(path: str, judged: list[tuple[Verdict, int | None]], nodes: list[onnx.NodeProto]) -> list[_Kind | None]:
    """The finding kind of each new node from the planner's verdicts (None where plainly legal)."""
    return [
        None
        if verdict.level == Level.OK
        else _Kind(n.op_type, n.domain, path, since, verdict.level, verdict.reason, verdict.static_only)
        for (verdict, since), n in zip(judged, nodes, strict=True)
    ]


__all__ = ["AfterCheck", "kinds_of", "owns_subgraphs"]
