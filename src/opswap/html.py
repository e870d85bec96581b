"""Reports as HTML fragments: what a notebook shows for ``check``, ``fix`` and ``verify`` results.

Every string from the model (node, op and output names, reasons) is escaped: a node named
``<script>`` is shown, not run. The fragments need no stylesheet or script beyond their inline styles.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from opswap.targets import Level

if TYPE_CHECKING:
    from opswap.check import CheckReport
    from opswap.fix import FixReport
    from opswap.verify import VerifyReport

#: Findings shown per group before "… N more".
SHOWN = 5

_GOOD, _BAD, _NOTE = "#1a7f37", "#cf222e", "#9a6700"
_TABLE = 'style="border-collapse:collapse;margin:4px 0"'
_CELL = 'style="border:1px solid #d0d7de;padding:2px 8px;text-align:left;vertical-align:top"'


def _verdict(text: str, good: bool) -> str:
    return f'<div style="font-weight:bold;color:{_GOOD if good else _BAD}">{escape(text)}</div>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th {_CELL}>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}><tr>{head}</tr>{body}</table>"


def _nodes(nodes: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(f"<code>{escape(n)}</code>" for n in nodes[:SHOWN])
    return shown + (f" … {len(nodes) - SHOWN} more" if len(nodes) > SHOWN else "")


def check_html(report: CheckReport) -> str:
    """The verdict, then the findings of each level: op, nodes, reason."""
    parts = [
        f"<div><div>{escape(report.model)} against {escape(report.target)}: {report.node_count} nodes</div>",
        _verdict(str(report), report.legal),
    ]
    for level, title in ((Level.ERROR, "Illegal"), (Level.WARNING, "Warnings"), (Level.CAVEAT, "Caveats")):
        groups = report.groups(level)
        if not groups:
            continue
        parts.append(f'<div style="margin-top:6px"><b>{title}</b> ({report.count(level)} nodes)</div>')
        rows = [[escape(g.op_type), str(g.count), escape(g.reason), _nodes(g.nodes)] for g in groups]
        parts.append(_table(["op", "nodes", "reason", "which"], rows))
    if report.judged:
        parts.append(f'<div style="color:{_NOTE}">judged: {escape(report.judged)}</div>')
    if report.lowering_advice:
        parts.append(f'<div style="color:{_NOTE}">{escape(report.lowering_advice)}</div>')
    return "".join(parts) + "</div>"


def verify_html(report: VerifyReport) -> str:
    """The verdict and the figures per output."""
    rows = [
        [escape(o.name), f"{o.max_abs:.3g}", f"{o.max_rel:.3g}", f"{o.cosine:.6f}", str(o.mismatches)]
        for o in report.outputs
    ]
    return (
        "<div>"
        + _verdict(str(report), report.passed)
        + _table(["output", "max |Δ|", "max |Δ| / max |out|", "cosine", "mismatches"], rows)
        + "</div>"
    )


def fix_html(report: FixReport) -> str:
    """Before and after, each rewrite with its route, the verification, and the file written."""
    parts = [f"<div><div>{escape(report.model)} against {escape(report.target)}</div>"]
    parts.append(_verdict(str(report.after), report.ok))
    rewrites = report.legalization.rewrites
    if rewrites:
        rows = [
            [escape(r.op_type), str(len(r.nodes)), escape(r.route), "exact" if r.exact else escape("; ".join(r.bounds))]
            for r in rewrites
        ]
        parts.append(_table(["op", "nodes", "route", "exact"], rows))
    for u in report.legalization.unresolved:
        parts.append(f'<div style="color:{_BAD}">{escape(u.op_type)}: {escape(u.explanation)}</div>')
    if report.verification is not None:
        parts.append(verify_html(report.verification))
    written = f"wrote {report.output}" if report.output else f"not written: {report.not_written or 'no output given'}"
    parts.append(f"<div>{escape(written)}</div>")
    return "".join(parts) + "</div>"
