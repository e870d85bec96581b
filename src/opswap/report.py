"""What users read: rich tables on a terminal, one JSON object for CI, progress bars on stderr."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from opswap.text import escape

if TYPE_CHECKING:
    from opswap.check import CheckReport, FindingGroup
    from opswap.convert import ConvertReport
    from opswap.converters import ConverterResult
    from opswap.export import ExportReport
    from opswap.fix import FixReport
    from opswap.matrix import MatrixReport
    from opswap.quant import QuantizeReport
    from opswap.verify import PerValue, VerifyReport
from opswap.targets import Level, Target, op_name

#: Node names shown per row before "+N more" (JSON output lists them all).
SHOWN_NODES = 3

_LEVEL_TITLES = {
    Level.ERROR: "[bold red]Illegal[/] — the converter rejects these",
    Level.WARNING: "[yellow]Warnings[/] — the converter warns and goes on",
    Level.CAVEAT: "[cyan]Caveats[/] — conditions the profile states that opswap cannot check",
}


def print_json(console: Console, data: dict[str, Any]) -> None:
    """One JSON object on stdout, nothing else."""
    console.file.write(json.dumps(data, indent=2, default=str) + "\n")


def _print_groups(console: Console, groups: list[FindingGroup], all_nodes: bool) -> None:
    """One line per op and reason, then its node names (the first few unless ``all_nodes``)."""
    width = max(len(op_name(g.op_type, g.domain)) for g in groups)
    for g in groups:
        name = op_name(g.op_type, g.domain)
        console.print(f"  [bold]{escape(name):<{width}}[/] × {g.count:<4} {escape(g.reason)}")
        shown = g.nodes if all_nodes else g.nodes[:SHOWN_NODES]
        for node in shown:
            console.print(f"      {escape(node)}", soft_wrap=True)
        if len(g.nodes) > len(shown):
            console.print(f"      [dim]… {len(g.nodes) - len(shown)} more (-v or --format json lists all)[/]")


#: How much ``-v`` it takes to list each level's findings (illegal ones are always listed).
_LISTED_FROM = {Level.ERROR: 0, Level.WARNING: 1, Level.CAVEAT: 2}

#: Per kind of warning or caveat (``targets.profile.finding_kind``): what it is, and what to do.
FINDING_ADVICE = {
    "version": ("version warnings", "the converter warns on op versions it does not list and goes on"),
    "shape": ("unknown input shapes", "give them with --input-shape NAME=D1,D2,..."),
    "kernel_shape": (
        "Convs with computed weights",
        "kernel_shape cannot be checked; fix folds weights computed from constants, which decides it",
    ),
    "note": ("under the profile's notes", "conditions its source states that the graph cannot show"),
}


def print_check(console: Console, report: CheckReport, verbose: int = 0) -> None:
    """The check report: illegal ops, then warnings (listed with ``verbose`` >= 1) and caveats (>= 2).

    A level not listed is summed up one line per kind, with what to do about it.
    """
    illegal = report.groups(Level.ERROR)
    count = sum(g.count for g in illegal)
    console.print(
        f"[bold]{escape(report.model)}[/] against [bold]{escape(report.target)}[/]: {report.node_count} nodes"
    )
    for level in (Level.ERROR, Level.WARNING, Level.CAVEAT):
        groups = report.groups(level)
        if not groups:
            continue
        if verbose < _LISTED_FROM[level]:
            _print_summary(console, report, level, groups)
            continue
        console.print()
        console.print(_LEVEL_TITLES[level])
        _print_groups(console, groups, verbose > 0)
        if level == Level.WARNING and report.lowering_advice:
            console.print(f"  {escape(report.lowering_advice)}")
    console.print()
    if report.legal:
        console.print(f"[bold green]LEGAL[/] for {escape(report.target)}")
    else:
        ops = list(report.per_op(Level.ERROR))
        console.print(
            f"[bold red]ILLEGAL[/] for {escape(report.target)}: {count} nodes of {len(ops)} op types "
            f"({', '.join(escape(op) for op in ops)})"
        )
        static = sum(g.count for g in illegal if g.static_only)
        if static:
            console.print(
                f"{static} of them only for computed inputs or dynamic shapes: fix first folds what is "
                "computed from constants (as ONNX Runtime does before it places nodes), which may make them legal"
            )
    _print_quantization_check(console, report)
    if report.judged:
        console.print(f"[dim]Judged: {escape(report.judged)}[/]")
    if report.lowering_advice and not report.groups(Level.WARNING):
        console.print(f"Op versions: {escape(report.lowering_advice)}")


def _print_summary(console: Console, report: CheckReport, level: Level, groups: list[FindingGroup]) -> None:
    """One line per kind of finding at ``level``: how many nodes, which ops, and what to do."""
    from opswap.targets.profile import finding_kind

    kinds: dict[str, dict[str, int]] = {}
    for g in groups:
        per_op = kinds.setdefault(finding_kind(g.reason), {})
        name = op_name(g.op_type, g.domain)
        per_op[name] = per_op.get(name, 0) + g.count
    what, flag = ("warnings", "-v") if level == Level.WARNING else ("caveats", "-vv")
    total = sum(g.count for g in groups)
    console.print(f"{total} node{'s' if total != 1 else ''} with {what} ({flag} lists them):")
    for kind, per_op in kinds.items():
        label, advice = FINDING_ADVICE[kind]
        if kind == "version" and report.lowering_advice:
            advice = report.lowering_advice
        ops = ", ".join(f"{escape(op)} × {n}" for op, n in sorted(per_op.items(), key=lambda item: -item[1])[:4])
        more = f", +{len(per_op) - 4} ops" if len(per_op) > 4 else ""
        console.print(f"  {sum(per_op.values())} {label} ({ops}{more}): {escape(advice)}", soft_wrap=True)


def _print_quantization_check(console: Console, report: CheckReport) -> None:
    """A QDQ model: its units, what a quantizing converter would run in float, what fix keeps quantized."""
    q = report.quantization
    if q is None:
        return
    console.print(f"Quantized (QDQ): {q.units} node units")
    if q.outside:
        ops = ", ".join(f"{escape(op)} × {n}" for op, n in q.outside_per_op().items())
        console.print(
            f"  {len(q.outside)} nodes outside any unit ({ops}): a quantizing converter runs them in float "
            "or refuses them"
        )
    if q.unencoded:
        console.print(f"  {len(q.unencoded)} float tensors have no encoding (no QuantizeLinear reads them)")
    if q.illegal_in_units:
        console.print(
            f"  {q.illegal_in_units} illegal nodes sit in units: fix gives every tensor and constant their "
            "rewrites add a Q/DQ pair, so the units stay quantized"
        )
    if q.illegal_outside:
        console.print(f"  {q.illegal_outside} illegal nodes sit outside units: their rewrites stay float, as they are")


#: Differing values listed by ``verify --per-node`` before "… N more" (JSON lists them all).
SHOWN_VALUES = 10


def _print_per_value(console: Console, per: PerValue) -> None:
    """Where the models part: the first differing value, then the next few."""
    if not per.values:
        console.print("Compared one by one: no value both models compute under one name (nothing rewritten to name)")
        return
    rewrites = all(v.route for v in per.values)
    what = "rewritten nodes' outputs" if rewrites else "values both models compute"
    console.print(f"Compared one by one: {len(per.values)} {what}")
    first = per.first
    if first is None:
        console.print(f"  all agree within {per.rtol:g}", soft_wrap=True)
        return
    lead = "the first rewrite whose outputs differ" if rewrites else "the first value that differs"
    console.print(f"  [bold]{lead}[/]: {escape(str(per))}", soft_wrap=True)
    for v in per.differing[1 : SHOWN_VALUES + 1]:
        how = f" ({escape(v.route)})" if v.route else ""
        console.print(
            f"    then {escape(v.name)} ({escape(v.op_type)}{how}): max |Δ| / max |out| {v.metrics.max_rel:.3g}",
            soft_wrap=True,
        )
    more = len(per.differing) - 1 - SHOWN_VALUES
    if more > 0:
        console.print(f"    [dim]… {more} more (--format json lists all)[/]")


def print_verification(console: Console, v: VerifyReport, title: str = "ONNX Runtime (CPU), original vs fixed") -> None:
    """The verification numbers and verdict, one per line."""
    top1 = v.top1_agreement
    top1_text = "n/a (no classifier-shaped output: rank 2 or 3)" if top1 is None else _share(top1)
    if v.near_ties:
        top1_text += f"   ({v.near_ties} near-ties within the tolerance flipped)"
    verdict = "[bold green]PASSED[/]" if v.passed else "[bold red]FAILED[/]"
    precision = "" if v.precision == "float32" else f" ({_PRECISION_TITLES.get(v.precision, v.precision)})"
    console.print(f"Verification: {escape(title)}, {v.samples} random inputs{escape(precision)}")
    for role, how in v.runtimes.items():
        console.print(f"  the {escape(role)} model ran on {escape(how)}")
    console.print(f"  max |Δ|               {v.max_abs:.3g}   (outputs reach {v.max_ref:.3g})")
    if v.precision != "qdq":
        ulps = "" if v.ulps is None else f" = {v.ulps:.1f} {v.precision} ULPs"
        console.print(f"  max |Δ| / max |out|   {v.max_rel:.3g}{ulps}   (tolerance {v.rtol:g})")
    least = "" if v.min_cosine is None else f"   (at least {v.min_cosine:g})"
    console.print(f"  cosine similarity     {v.cosine:.9f}{least}")
    required = "" if v.min_top1 == 1.0 else f"   (at least {v.min_top1:.0%})"
    console.print(f"  top-1 agreement       {top1_text}{required}")
    for o in v.outputs:
        if o.step is not None and o.elements:
            console.print(
                f"  output {escape(o.name)} in steps of {o.step:.3g}: max {o.max_steps:.0f}, "
                f"identical {_share(o.identical / o.elements)}, within one step {_share(o.within_one / o.elements)}"
            )
    spread = v.spread
    if spread is not None and spread.within_one is not None and spread.max_steps is not None:
        console.print(
            f"  the runtime's own spread (original there vs ONNX Runtime's CPU): max {spread.max_steps:.0f} steps, "
            f"within one step {_share(spread.within_one)}, top-1 {_share(spread.top1_agreement or 0.0)}"
        )
        console.print(
            f"  [dim]the verdict: within one step on at most {_spread_margin():.0%} fewer outputs than that, and "
            "a largest change at most twice its own[/]"
        )
    q = v.quantized
    if q is not None:
        console.print(
            f"  rewritten units       {len(q.units)}, on the original's quantized inputs: max {q.max_steps} "
            f"step, {_share(q.changed)} of codes changed   (at most 1 step on at most {_share(q.max_changed)})"
        )
        console.print(
            "  [dim]the verdict is the units'; the outputs' figures include one-step changes carried "
            "through every later layer[/]"
        )
    if v.vacuous:
        console.print(
            "  [bold red]nothing was compared[/]: every output is empty or all zeros, on every input "
            "(give inputs that exercise the model with --inputs)"
        )
    elif v.max_ref < 1e-6:
        console.print(
            "  [yellow]the outputs are all near zero, so this comparison says little[/] "
            "(untrained weights? calibrate BatchNorm, or verify with --inputs)"
        )
    console.print(f"  {verdict}")
    if v.per_value is not None:
        _print_per_value(console, v.per_value)


_PRECISION_TITLES = {"qdq": "quantized, QDQ", "float16": "float16", "bfloat16": "bfloat16", "float64": "float64"}


def _spread_margin() -> float:
    from opswap.verify import SPREAD_MARGIN

    return SPREAD_MARGIN


def _share(value: float) -> str:
    """A share as a percentage that never rounds to 100% (or 0%) unless it is exactly that."""
    if value >= 1.0:
        return "100%"
    if value <= 0.0:
        return "0%"
    text = f"{value:.1%}"
    if text == "100.0%":
        return f"{value:.4%}" if f"{value:.4%}" != "100.0000%" else ">99.9999%"
    if text == "0.0%":
        return f"{value:.4%}" if f"{value:.4%}" != "0.0000%" else "<0.0001%"
    return text


def print_converter(console: Console, result: ConverterResult | None, target: Target) -> None:
    """The converter's outcome, or the command to run."""
    if result is None:
        return
    if result.in_process:
        console.print(
            f"{escape(result.tool)} runs inside opswap; to convert for {escape(target.name)} and check it, run:"
        )
        console.print(f"  {escape(result.command_line)}")
        return
    if result.held:
        console.print(f"[yellow]Not run[/]: {escape(result.held)}; pass --convert to run it, or run it yourself:")
        console.print(f"  {escape(result.command_line)}", soft_wrap=True)
        return
    if not result.found:
        console.print(f"{escape(result.tool)} is not on PATH; to convert for {escape(target.name)}, run:")
        console.print(f"  {escape(result.command_line)}")
        return
    if result.succeeded:
        console.print(f"[green]{escape(result.tool)} converted it[/]: {escape(str(result.output))}")
        return
    console.print(f"[red]{escape(result.tool)} failed (exit {result.returncode})[/]: {escape(result.command_line)}")
    if result.rejected_ops:
        console.print(f"  it reports no translation for: {escape(', '.join(result.rejected_ops))}")
    for line in result.log_tail.splitlines():
        console.print(escape(line))


def print_fix(console: Console, report: FixReport, verbose: int = 0) -> None:
    """The fix report: what was illegal, the rewrites, what is left, verification, output."""
    _print_fix_header(console, report, verbose)
    rewrites = report.legalization.rewrites
    _print_shape_changes(console, report)
    if rewrites:
        console.print()
        console.print("Rewrites (route: the node's rule > the rule for what it emits)")
        width = max(len(op_name(r.op_type, r.domain)) for r in rewrites)
        count = max(len(str(len(r.nodes))) for r in rewrites)
        for r in rewrites:
            name = escape(f"{op_name(r.op_type, r.domain):<{width}}")
            exact = "exact" if r.exact else "approximate"
            console.print(f"  {name} × {len(r.nodes):<{count}}  {escape(r.route)}  ({exact})", soft_wrap=True)
        for r in rewrites:
            for bound in r.bounds:
                console.print(f"  [yellow]approximate[/] {escape(bound)}")
        changes = report.legalization
        made = f" and {changes.initializers_added} initializers" if changes.initializers_added else ""
        console.print(
            f"{changes.nodes_removed} nodes replaced by {changes.nodes_added}{made}; "
            f"{report.after.node_count} nodes now"
        )
        _print_quantization(console, changes.quantization)
    for u in report.legalization.unresolved:
        console.print()
        name = escape(op_name(u.op_type, u.domain))
        console.print(f"[bold red]No legal route[/] for {len(u.nodes)} {name} nodes:")
        for line in u.explanation.splitlines():  # one line per route tried; each line escaped
            console.print(escape(line))
    _print_cut_hint(console, report)
    if report.lowering is not None:
        low = report.lowering
        adapted = ", ".join(f"{n} {op}" for op, n in sorted(low.adapted.items())) or "no node needed changes"
        moved = "Raised" if low.to_opset > low.from_opset else "Lowered"
        console.print(f"{moved} opset {low.from_opset} -> {low.to_opset} (adapted: {escape(adapted)})")
    elif report.lowering_failed:
        console.print(f"[yellow]Could not lower the opset[/]: {escape(report.lowering_failed)}")
    console.print()
    if report.after.legal:
        changed = (
            rewrites
            or report.legalization.folded
            or report.legalization.fused
            or report.fixed_dims
            or report.lowering is not None
        )
        how = "after rewriting" if changed else "as it is"
        console.print(f"[bold green]LEGAL[/] for {escape(report.target)} {how}")
    else:
        console.print(f"[bold red]Still illegal[/] for {escape(report.target)}")
    if report.verification is not None:
        print_verification(console, report.verification)
    elif report.unchanged and report.after.legal:
        console.print("Nothing changed, so nothing to verify: the output is the model as it was read")
    if report.output is not None:
        console.print(f"Wrote {escape(str(report.output))}")
    elif report.not_written:
        console.print(f"[bold red]Not written[/]: {escape(report.not_written)}")


def _print_fix_header(console: Console, report: FixReport, verbose: int) -> None:
    """What was illegal (each finding with ``verbose``), and the cut made first."""
    if verbose:
        print_check(console, report.before, verbose)
    else:
        ranked = report.before.per_op(Level.ERROR)
        console.print(
            f"[bold]{escape(report.model)}[/] against [bold]{escape(report.target)}[/]: "
            f"{report.before.node_count} nodes, "
            + (", ".join(f"{n} {escape(op)}" for op, n in ranked.items()) + " illegal" if ranked else "nothing illegal")
        )
    if report.cut is not None:
        console.print(f"Cut before fixing: {escape(str(report.cut))}")


def _print_cut_hint(console: Console, report: FixReport) -> None:
    """Where the dead end is post-processing: the cut that was tried and works."""
    if not report.cut_hint:
        return
    import shlex

    console.print()
    console.print(
        f"{escape(', '.join(report.post_processing))}: output sizes or control flow that depend on the input's values "
        "(post-processing), "
        f"which {escape(report.target)} cannot run. The network before it legalizes for "
        f"{escape(report.target)} (tried): cut there, verified up to the cut, and run the rest on the CPU:"
    )
    command = shlex.join(["--outputs", ",".join(report.cut_hint)])
    console.print(f"  {escape(command)}", soft_wrap=True)


def _print_quantization(console: Console, q: QuantizeReport | None) -> None:
    """How the rewritten QDQ units were kept quantized."""
    if q is None or not (q.pairs or q.constants or q.skipped):
        return
    how = ", ".join(f"{n} {kind}" for kind, n in sorted(q.tensors.items())) or "none"
    console.print(
        f"Kept quantized: {q.pairs} new tensors given Q/DQ pairs (encodings: {escape(how)}), "
        f"{q.constants} new constants quantized"
    )
    for line in q.skipped:
        console.print(f"  [yellow]left in float[/]: {escape(line)}")


def _print_shape_changes(console: Console, report: FixReport) -> None:
    """Dimensions written from --input-shape, and nodes folded, before any rewrite."""
    if report.fixed_dims:
        dims = ", ".join(f"{name}={value}" for name, value in report.fixed_dims.items())
        console.print()
        console.print(
            f"Fixed symbolic dimensions as given ({escape(report.target)} needs fixed shapes or values computed "
            f"from them as constants): {escape(dims)}"
        )
    if report.legalization.folded:
        console.print()
        console.print(f"Folded {report.legalization.folded} nodes computed from constants into initializers")
    for pattern, count in report.legalization.fused.items():
        console.print()
        console.print(
            f"Fused {count} × {escape(pattern)}: the same function as one node, since {escape(report.target)} "
            "lacks Erf (a lone Erf has only approximate routes)"
        )


_MATRIX_WORDS = {
    "legal": "[green]legal[/]",
    "fixable": "[cyan]fixable[/]",
    "fixable_approx": "[yellow]fixable ≈[/]",
    "no_route": "[red]no route[/]",
}


def print_matrix(console: Console, report: MatrixReport) -> None:
    """Models by targets: legal, fixable (exact rules), fixable ≈ (approximate rules), no route (which ops)."""
    table = Table(show_edge=False, box=None, pad_edge=False)
    table.add_column("model", overflow="fold")
    for name in report.targets:
        table.add_column(escape(name), overflow="fold")
    for model in report.models:
        row = [escape(model)]
        for target in report.targets:
            cell = report.cell(model, target)
            word = _MATRIX_WORDS[cell.verdict]
            if cell.unresolved:
                word += f": {escape(', '.join(cell.unresolved))}"
            row.append(word)
        table.add_row(*row)
    console.print(table)
    counts = {v: sum(c.verdict == v for c in report.cells) for v in _MATRIX_WORDS}
    console.print(
        f"{len(report.cells)} pairs: {counts['legal']} legal, {counts['fixable']} fixable with exact rules "
        f"(opswap fix), {counts['fixable_approx']} only with --allow-approx, {counts['no_route']} with no route"
    )


def print_targets(console: Console, targets: list[Target]) -> None:
    """One entry per profile: name, op count and converter, then what it is and its sources, indented.

    Not a table: its last column wrapped into a tall strip on an 80-column terminal.
    """
    width = max(len(t.name) for t in targets)
    for t in targets:
        console.print(
            f"[bold]{escape(t.name):<{width}}[/]  {len(t.ops):>3} ops  converter: {escape(t.converter or '-')}"
        )
        console.print(Padding(f"{escape(t.description)}\n[dim]{escape(t.source)}[/]", (0, 0, 0, 4), expand=False))


@contextlib.contextmanager
def progress(console: Console) -> Iterator[Callable[[str, int | None], Callable[[], None]]]:
    """Progress bars on stderr (only on a terminal); yields ``stage(description, total) -> advance``."""
    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )

    def stage(description: str, total: int | None) -> Callable[[], None]:
        task = bars.add_task(description, total=total)
        return lambda: bars.advance(task)

    with bars:
        yield stage


def print_convert(console: Console, report: ConvertReport, verbose: int = 0) -> None:
    """The fix, each converter round, and what the converted model was checked against."""
    print_fix(console, report.fix, verbose)
    console.print()
    for number, round_ in enumerate(report.rounds, 1):
        result = round_.result
        if not result.found:
            break
        state = "converted" if result.succeeded else f"failed (exit {result.returncode})"
        line = f"{escape(result.tool)} round {number}: {state}"
        if round_.rejected:
            line += f"; no translation for {escape(', '.join(round_.rejected))}: treated as illegal, legalized again"
        elif round_.folded and round_.folded_verification is not None:
            check = round_.folded_verification
            line += (
                f", not over an op: folded {round_.folded} nodes computed from constants into initializers "
                f"(max |Δ| {check.max_abs:.3g} vs the original, {'PASSED' if check.passed else 'FAILED'})"
            )
            if check.passed:
                line += ", ran it again"
        console.print(line)
    if report.partitions_before is not None and report.partitions_after is not None:
        before, after = report.partitions_before, report.partitions_after
        console.print(
            f"ONNX Runtime's {escape(before.ep)} check: {before.partitions} partitions "
            f"({before.supported_nodes}/{before.nodes} nodes) before, {after.partitions} "
            f"({after.supported_nodes}/{after.nodes} nodes, {after.suitability}) after"
        )
    if report.runtime is not None and report.runtime.spread is not None:
        print_verification(console, report.runtime, "the QNN HTP (int8, simulated), fixed vs original, both there")
    elif report.runtime is not None:
        where = "the QNN HTP (fp16, simulated)" if report.tool == "qnn-htp" else f"{report.tool} (f32)"
        print_verification(console, report.runtime, f"{where}, fixed, vs ONNX Runtime (CPU, fp32) on the original")
    if report.runtime_original is not None:
        print_verification(console, report.runtime_original, "the same runtime, original as it is, for comparison")
    elif report.original_note:
        console.print(f"Original on {escape(report.tool)}: {escape(report.original_note)}")
    for written in report.files[1:]:
        console.print(f"Also wrote {escape(str(written))}")
    if report.converted:
        console.print(f"[bold green]Converted[/]: {escape(str(report.artifact))}")
    else:
        console.print(f"[bold red]Not converted[/]: {escape(report.message)}")


def print_export(console: Console, report: ExportReport) -> None:
    """What was swapped or rewritten, the legality, and both comparisons."""
    console.print(
        f"[bold]{escape(report.spec)}[/] for [bold]{escape(report.target)}[/], "
        f"via {escape(report.via)}, {escape(report.exporter)}"
    )
    if report.swapped is not None:
        replaced = report.swapped["replaced"]
        kinds: dict[str, int] = {}
        for what in replaced.values():
            kinds[what] = kinds.get(what, 0) + 1
        for what, count in sorted(kinds.items()):
            console.print(f"  swapped {count} × {escape(what)}")
        for name, count in report.swapped["functional"].items():
            console.print(f"  swapped {count} call(s) to {escape(name)} (torch.fx)")
        for note in report.swapped["notes"]:
            console.print(f"  [yellow]{escape(note)}[/]")
        if report.torch_check is not None:
            print_verification(console, report.torch_check, "PyTorch eager, original vs swapped")
    for r in report.legalization.rewrites:
        console.print(f"  rewrote {len(r.nodes)} {escape(r.op_type)} in the ONNX graph: {escape(r.route)}")
    for u in report.legalization.unresolved:
        console.print(f"  [red]no legal route[/] for {len(u.nodes)} {escape(u.op_type)}: {escape(u.reason)}")
    if report.lowering is not None:
        low = report.lowering
        adapted = ", ".join(f"{n} {op}" for op, n in sorted(low.adapted.items())) or "no node needed changes"
        console.print(f"  lowered opset {low.from_opset} -> {low.to_opset} (adapted: {escape(adapted)})")
    console.print(f"[bold green]LEGAL[/] for {escape(report.target)}" if report.after.legal else "[bold red]ILLEGAL[/]")
    print_verification(console, report.verification, "ONNX Runtime, exported original vs exported result")
    if report.output is not None:
        console.print(f"Wrote {escape(str(report.output))}")
    else:
        console.print("[bold red]Not written[/]: not legal or not verified")


def print_rules(console: Console, rows: list[dict[str, Any]]) -> None:
    """One block per rule (readable at any width): op, id, versions, exactness and certificate, what it emits."""
    width = max((len(r["op_type"]) for r in rows), default=0)
    for row in rows:
        versions = "all versions" if row["versions"] is None else "versions " + ", ".join(map(str, row["versions"]))
        found = row["certificate"]
        measured = ""
        if found is not None:
            nan = f", {found['mismatches']:,} NaN/inf apart" if found["mismatches"] else ""
            measured = f"; {found['max_ulp']:,} ULP vs ORT{nan}"
        how = "exact" if row["exact"] else f"approximate: {row['bound']}"
        console.print(
            f"[bold]{escape(row['op_type']):<{width}}[/]  {escape(row['id'])}  ({versions})  {escape(how)}{measured}",
            soft_wrap=True,
        )
        produces = row["produces"]
        emits = "(depends on the node)" if produces is None else ", ".join(produces) or "(an initializer)"
        console.print(f"{'':<{width}}  [dim]emits {escape(emits)}[/]", soft_wrap=True)
