"""Reports as HTML: notebook views and the self-contained page ``--report report.html`` writes.

``_repr_html_`` of check, fix and verify reports shows them in a notebook; :func:`report_page` is the
whole page.

Every string from the model (node, op and output names, reasons) is escaped: a node named
``<script>`` is shown, not run. Nothing needs a stylesheet, script, font or image from elsewhere: the
page's content security policy lets the browser load nothing, and the drawings are inline SVG.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any

from opswap.targets import Level

if TYPE_CHECKING:
    from opswap.check import CheckReport
    from opswap.convert import ConvertReport
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
    written = report.written
    parts.append(f"<div>{escape(written)}</div>")
    return "".join(parts) + "</div>"


# --- The report file (``--report report.html``) ------------------------------------------------------

#: Nodes drawn per rewrite before "… N more".
DRAWN_NODES = 40
_BOX_W, _BOX_H, _GAP_X, _GAP_Y = 132, 30, 36, 14

#: The page may load nothing: no script, no font, no image from anywhere (a browser enforces it).
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; max-width: 1200px }
h1 { font-size: 20px } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #d0d7de }
code { font-size: 12px } .rewrite { margin: 12px 0 20px } .plots { display: flex; flex-wrap: wrap; gap: 16px }
figure { margin: 0 } figcaption { font-size: 12px; color: #57606a }
svg text { font: 11px system-ui, sans-serif }
"""


def _svg_box(x: float, y: float, label: str, fill: str) -> str:
    shown = label if len(label) <= 20 else label[:19] + "…"
    return (
        f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="5" fill="{fill}" stroke="#57606a"/>'
        f'<text x="{x + _BOX_W / 2}" y="{y + _BOX_H / 2 + 4}" text-anchor="middle">{escape(shown)}</text>'
    )


def _svg_arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#57606a" marker-end="url(#arrow)"/>'


def draw_rewrite(before: Any, after: list[Any]) -> str:
    """An SVG of one node (left, red) and the nodes that replace it (right, green), wired as they are.

    ``before`` and ``after`` are ``onnx.NodeProto``s; the new nodes are laid out by depth (a node sits
    one column right of the deepest new node it reads).
    """
    shown = after[:DRAWN_NODES]
    made = {out: k for k, n in enumerate(shown) for out in n.output if out}
    depth: list[int] = []
    for n in shown:
        depth.append(1 + max((depth[made[i]] for i in n.input if i in made), default=-1))
    rows: dict[int, int] = {}
    place: list[tuple[float, float]] = []
    left = _BOX_W + 2 * _GAP_X + 30
    for d in depth:
        row = rows.get(d, 0)
        rows[d] = row + 1
        place.append((left + d * (_BOX_W + _GAP_X), 20 + row * (_BOX_H + _GAP_Y)))
    height = max([20 + max(rows.values(), default=1) * (_BOX_H + _GAP_Y), 2 * _BOX_H + 40])
    width = left + (max(depth, default=0) + 1) * (_BOX_W + _GAP_X)
    parts = [
        f'<svg class="rewrite" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>'
        f"<title>{escape(before.op_type)} replaced by {len(after)} nodes</title>",
        _svg_box(10, 20, before.op_type, "#ffebe9"),
        _svg_arrow(10 + _BOX_W + 6, 20 + _BOX_H / 2, left - 6, 20 + _BOX_H / 2),
    ]
    for k, n in enumerate(shown):
        x, y = place[k]
        for i in n.input:
            if i in made:
                px, py = place[made[i]]
                parts.append(_svg_arrow(px + _BOX_W, py + _BOX_H / 2, x, y + _BOX_H / 2))
        parts.append(_svg_box(x, y, n.op_type, "#dafbe1"))
    parts.append("</svg>")
    more = f"<div>… {len(after) - DRAWN_NODES} more nodes</div>" if len(after) > DRAWN_NODES else ""
    return "".join(parts) + more


def plot_output(name: str, pairs: list[tuple[float, float]]) -> str:
    """An SVG scatter of the original's values (x) against the fixed model's (y), with the line y = x."""
    size, pad = 220, 28
    finite = [(a, b) for a, b in pairs if _finite(a) and _finite(b)]
    lo = min((min(a, b) for a, b in finite), default=0.0)
    hi = max((max(a, b) for a, b in finite), default=1.0)
    span = (hi - lo) or 1.0

    def at(v: float) -> float:
        return pad + (v - lo) / span * (size - 2 * pad)

    dots = "".join(
        f'<circle cx="{at(a):.1f}" cy="{size - at(b):.1f}" r="1.6" fill="#0969da" fill-opacity="0.6"/>'
        for a, b in finite
    )
    return (
        f'<figure><svg class="plot" role="img" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        f"<title>{escape(name)}: original vs fixed</title>"
        f'<rect x="{pad}" y="{pad}" width="{size - 2 * pad}" height="{size - 2 * pad}" fill="none" stroke="#d0d7de"/>'
        f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#cf222e" stroke-dasharray="4 3"/>'
        f"{dots}"
        f'<text x="{size / 2}" y="{size - 6}" text-anchor="middle">original</text>'
        f'<text x="10" y="{size / 2}" text-anchor="middle" transform="rotate(-90 10 {size / 2})">fixed</text>'
        f"</svg><figcaption>{escape(name)}: {len(finite)} values of the first input, range "
        f"{lo:.3g} to {hi:.3g}</figcaption></figure>"
    )


def _finite(v: float) -> bool:
    return math.isfinite(v)


def _rewrites_section(report: FixReport, original: Any, fixed: Any) -> str:
    """Each rewrite group: its route, exactness, each rule's certificate, one node drawn before -> after."""
    from opswap.graphs import iter_scopes, node_label
    from opswap.rules.certificates import describe, recorded

    certificates = recorded()
    by_label: dict[str, Any] = {}
    if original is not None:
        for scope in iter_scopes(original):
            for k, node in enumerate(scope.nodes):
                by_label.setdefault(node_label(node, k), node)
    made: dict[str, list[Any]] = {}
    if fixed is not None:
        for scope in iter_scopes(fixed):
            for node in scope.nodes:
                source = next((e.value for e in node.metadata_props if e.key == "opswap.source"), None)
                if source is not None:
                    made.setdefault(source, []).append(node)
    parts = ["<h2>Rewrites</h2>"]
    if not report.legalization.rewrites:
        parts.append("<div>No node was rewritten.</div>")
    for r in report.legalization.rewrites:
        exact = "exact" if r.exact else "approximate: " + "; ".join(r.bounds)
        parts.append(
            f'<div class="rewrite"><div><b>{escape(r.op_type)}</b> × {len(r.nodes)} via '
            f"<code>{escape(r.route)}</code> ({escape(exact)})</div>"
        )
        rules = [
            f"<li><code>{escape(rule)}</code>: {escape(describe(certificates[rule]))}</li>"
            for rule in r.route.split(" > ")
            if rule in certificates
        ]
        if rules:
            parts.append("<div>Certificates</div><ul>" + "".join(rules) + "</ul>")
        example = next((label for label in r.nodes if label in by_label and made.get(label)), None)
        if example is not None:
            parts.append(f"<div>{escape(example)}, before → after</div>")
            parts.append(draw_rewrite(by_label[example], made[example]))
        parts.append("</div>")
    for u in report.legalization.unresolved:
        parts.append(f'<div style="color:{_BAD}"><b>No legal route</b> for {len(u.nodes)} {escape(u.op_type)}:</div>')
        parts.append(f"<pre>{escape(u.explanation)}</pre>")
    return "".join(parts)


def _verification_section(v: VerifyReport, title: str) -> str:
    plots = "".join(plot_output(o.name, o.plotted) for o in v.outputs if o.plotted)
    parts = [f"<h2>{escape(title)}</h2>", verify_html(v)]
    if v.per_value is not None:
        parts.append(f"<div>Compared one by one: {escape(str(v.per_value))}</div>")
    if plots:
        parts.append(f'<div class="plots">{plots}</div>')
    return "".join(parts)


def report_page(
    *,
    check: CheckReport | None = None,
    fix: FixReport | None = None,
    convert: ConvertReport | None = None,
    original: Any = None,
    fixed: Any = None,
) -> str:
    """One self-contained HTML page: the verdict, findings, rewrites drawn, verification plotted.

    Give the report of the command run (``check``, ``fix`` or ``convert``); ``original`` and ``fixed``
    (``onnx.ModelProto``s) let each rewrite be drawn. The page loads nothing from anywhere.
    """
    import json

    from opswap import __version__

    if convert is not None:
        fix = convert.fix
    if fix is not None:
        model, target, ok = fix.model, fix.target, fix.ok and (convert is None or convert.ok)
        verdict = str(fix.after)
        if fix.verification is not None:
            verdict += f"; verification {'PASSED' if fix.verification.passed else 'FAILED'}"
        verdict += f"; {fix.written}"
        if convert is not None:
            verdict += "; converted" if convert.converted else "; not converted"
        data = (convert or fix).to_dict()
    elif check is not None:
        model, target, ok, verdict, data = check.model, check.target, check.legal, str(check), check.to_dict()
    else:
        raise ValueError("report_page needs a check, fix or convert report")
    body = [
        f"<h1>opswap: {escape(model)} for {escape(target)}</h1>",
        f'<div style="font-size:18px;font-weight:bold;color:{_GOOD if ok else _BAD}">{escape(verdict)}</div>',
    ]
    if fix is not None:
        body.append("<h2>Before</h2>" + check_html(fix.before))
        body.append(_rewrites_section(fix, original, fixed))
        body.append("<h2>After</h2>" + check_html(fix.after))
        if fix.verification is not None:
            body.append(_verification_section(fix.verification, "Verification: ONNX Runtime (CPU), original vs fixed"))
        written = fix.written[:1].upper() + fix.written[1:]
        body.append(f"<div>{escape(written)}</div>")
    else:
        assert check is not None
        body.append("<h2>Check</h2>" + check_html(check))
    if convert is not None:
        body.append(_convert_section(convert))
    payload = json.dumps(data, default=str).replace("</", "<\\/")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        f"<title>opswap report: {escape(model)}</title><style>{_STYLE}</style></head><body>"
        + "".join(body)
        + f'<footer style="margin-top:32px;color:#57606a">opswap {escape(__version__)}; the JSON report is embedded '
        "(script#opswap-report, type application/json)</footer>"
        + f'<script id="opswap-report" type="application/json">{payload}</script>'
        + "</body></html>\n"
    )


def _convert_section(report: ConvertReport) -> str:
    parts = [f"<h2>Converter: {escape(report.tool)}</h2>"]
    status = "converted" if report.converted else ("not found" if not report.found else "not converted")
    parts.append(_verdict(status + (f": {report.artifact}" if report.artifact else ""), report.converted))
    if report.message:
        parts.append(f"<div>{escape(report.message)}</div>")
    rows = [
        [escape(which), escape(p.ep), str(p.partitions), f"{p.supported_nodes} of {p.nodes}", escape(p.suitability)]
        for which, p in (("before", report.partitions_before), ("after", report.partitions_after))
        if p is not None
    ]
    if rows:
        parts.append("<div>ONNX Runtime's partitions</div>")
        parts.append(_table(["model", "execution provider", "partitions", "nodes supported", "suitability"], rows))
    if report.runtime is not None:
        parts.append(_verification_section(report.runtime, f"On {report.tool}: the converted model vs the original"))
    return "".join(parts)
