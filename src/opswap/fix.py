"""The whole job on one model: check, legalize, check again, verify, write, hand to the converter."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opswap.check import CheckReport, Judge, ModelScan, check, scan_model
from opswap.converters import ConverterResult, converter_outputs, run_converter
from opswap.cut import DATA_DEPENDENT, CutReport, cut, suggest_cut
from opswap.dims import fix_dims
from opswap.errors import OpswapError
from opswap.graphs import no_gc, node_label
from opswap.index import GraphIndex
from opswap.jsonout import schema_id
from opswap.legalize import LegalizeReport, legalize
from opswap.model import Model, check_output, copy, protected_files, save
from opswap.opsets import Lowering, LoweringError, best_opset, lower, raise_target
from opswap.opsets import raise_opset as raise_opset_to
from opswap.targets import Level, Target
from opswap.verify import (
    DEFAULT_SAMPLES,
    Draw,
    PerValue,
    VerifyReport,
    calibrator,
    compare_values,
    shared_values,
    verify,
)

#: ``stage(description, total)`` returns a function to call once per unit of work done.
StageFactory = Callable[[str, int | None], Callable[[], None]]


@dataclass
class FixReport:
    """Everything ``fix`` did, for people (see report.py) and for CI (``to_dict``)."""

    target: str
    model: str
    before: CheckReport
    legalization: LegalizeReport
    after: CheckReport
    verification: VerifyReport | None
    #: The file written, or None when nothing was written (see ``not_written``).
    output: Path | None
    not_written: str = ""
    converter: ConverterResult | None = None
    lowering: Lowering | None = None
    #: Why the opset could not be lowered when that was tried automatically.
    lowering_failed: str = ""
    #: Symbolic dimensions written as the values ``input_shapes`` gave (targets that need fixed shapes).
    fixed_dims: dict[str, int] = field(default_factory=dict)
    #: The cut made before fixing (``opswap.cut``, the CLI's ``--outputs``): what was verified is the cut.
    cut: CutReport | None = None
    #: Where a dead end is data-dependent post-processing: values to cut at (``--outputs``), tried on
    #: a copy of the model as it was read and found to leave a model the target takes; None when there
    #: is no such cut, or nothing to try it on (``run_verify=False`` keeps no copy).
    cut_hint: list[str] | None = None

    @property
    def post_processing(self) -> list[str]:
        """Ops left without a route whose outputs depend on the data (where a cut helps), sorted."""
        return sorted({u.op_type for u in self.legalization.unresolved if not u.domain} & DATA_DEPENDENT)

    @property
    def unchanged(self) -> bool:
        """Nothing was rewritten, folded, fused, lowered or fixed: the model is written as it was read."""
        return _nothing_changed(self.legalization, self.fixed_dims, self.lowering)

    @property
    def legal(self) -> bool:
        """Whether the fixed model is legal for the target."""
        return self.after.legal

    def __str__(self) -> str:
        """The outcome in a few lines: legality, verification, the file written or why not."""
        lines = [f"{self.model}: {self.after}"]
        if self.verification is not None:
            lines.append(f"verification: {self.verification}")
        elif self.unchanged and self.legal:
            lines.append("nothing changed, so nothing to verify")
        lines.append(self.written)
        return "\n".join(lines)

    @property
    def written(self) -> str:
        """``wrote PATH``, or ``not written: why``."""
        return f"wrote {self.output}" if self.output else f"not written: {self.not_written or 'no output given'}"

    def _repr_html_(self) -> str:
        """What a notebook shows: the verdict, each rewrite's route, the verification, the file written."""
        from opswap.html import fix_html

        return fix_html(self)

    @property
    def ok(self) -> bool:
        """Legal and verified (or verification skipped), and not held back from writing."""
        verified = self.verification is None or self.verification.passed
        return self.legal and verified and not self.not_written

    def to_dict(self) -> dict[str, Any]:
        """JSON form: legal, output, rewrites, verification, and the rest."""
        return {
            "schema": schema_id("fix"),
            "target": self.target,
            "model": self.model,
            "legal": self.legal,
            "ok": self.ok,
            "output": str(self.output) if self.output else None,
            "not_written": self.not_written or None,
            "rewrites": [r.to_dict() for r in self.legalization.rewrites],
            "unresolved": [u.to_dict() for u in self.legalization.unresolved],
            "nodes_removed": self.legalization.nodes_removed,
            "nodes_added": self.legalization.nodes_added,
            "initializers_added": self.legalization.initializers_added,
            "folded": self.legalization.folded,
            "fused": self.legalization.fused,
            "quantization": self.legalization.quantization.to_dict() if self.legalization.quantization else None,
            "verification": self.verification.to_dict() if self.verification else None,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "converter": self.converter.to_dict() if self.converter else None,
            "opset": self.lowering.to_dict() if self.lowering else None,
            "opset_not_lowered": self.lowering_failed or None,
            "fixed_dims": self.fixed_dims,
            "unchanged": self.unchanged,
            "cut": self.cut.to_dict() if self.cut else None,
            "cut_hint": self.cut_hint,
        }


@dataclass(frozen=True)
class FixOptions:
    """How ``fix`` works (its keywords, one value): what ``convert`` and ``matrix`` pass on."""

    #: Compare the fixed model with the original (ONNX Runtime) before writing it.
    run_verify: bool = True
    #: The inputs verification runs on: the user's, else seeded random ones.
    draw: Draw = field(default_factory=Draw)
    #: Tolerance on verification's ``max_rel``; None: the model's precision's (``verify.default_rtol``).
    rtol: float | None = None
    #: Inputs that calibrate a QDQ model's new encodings (default: the draw's).
    calibration: list[dict[str, np.ndarray]] | None = None
    #: Write the model even when illegal nodes remain.
    allow_partial: bool = False
    #: Use approximate rules too (each states its bound).
    allow_approx: bool = False
    #: Lower the opset afterwards ("auto" or a number).
    lower_opset: int | str | None = None
    #: Raise the opset first ("auto" or a number).
    raise_opset: int | str | None = None
    #: The output may be the input file itself.
    in_place: bool = False
    #: Run the target's converter on the output: None, only a converter opswap ships a profile for.
    convert: bool | None = None


def fix(
    model: Model | str | os.PathLike[str],
    target: Target | str,
    output: str | os.PathLike[str] | None = None,
    *,
    run_verify: bool = True,
    samples: int = DEFAULT_SAMPLES,
    input_shapes: Mapping[str, list[int]] | None = None,
    inputs: list[dict[str, np.ndarray]] | None = None,
    rtol: float | None = None,
    calibration: list[dict[str, np.ndarray]] | None = None,
    allow_partial: bool = False,
    allow_approx: bool = False,
    lower_opset: int | str | None = None,
    raise_opset: int | str | None = None,
    in_place: bool = False,
    convert: bool | None = None,
    stage: StageFactory | None = None,
    announce: Callable[[list[str]], None] | None = None,
) -> FixReport:
    """Legalize ``model`` for ``target`` (in place), verify it against the original, and write it.

    Only exact rules are used unless ``allow_approx``. ``lower_opset`` ("auto" or a number) lowers
    the model's opset afterwards so nodes are at versions the target lists; "auto" is also tried when
    the target rejects unlisted versions and the model is still illegal. ``raise_opset`` (a number, or
    "auto": the lowest opset at which the target lists more of the model's versions) raises it first,
    before any rewrite, so rules and fusions see the newer versions (Gelu-20). The output is written
    only when the result is legal (or ``allow_partial``) and verification passed (or was skipped); otherwise
    ``FixReport.not_written`` says why. When written and the target's converter is on PATH, the
    converter runs on it: by default (``convert=None``) only a converter opswap ships a profile
    for; one named by a user's profile file only with ``convert=True``; none with ``convert=False``.
    ``announce`` receives a program's exact argument list before it runs.

    ``model`` may be a path, ``target`` a profile name or path, ``output`` a str.
    ``rtol`` defaults to the tolerance for the model's precision (see ``verify``). In a quantized
    (QDQ) model, rewritten units get Q/DQ pairs; encodings that no bound fixes come from running the
    float graph on ``calibration`` (default: ``inputs``, else seeded random inputs other than the
    ones verification draws). The keywords are :class:`FixOptions`; :func:`fix_with` takes them as one.
    """
    options = FixOptions(
        run_verify=run_verify,
        draw=Draw(samples, dict(input_shapes or {}), inputs),
        rtol=rtol,
        calibration=calibration,
        allow_partial=allow_partial,
        allow_approx=allow_approx,
        lower_opset=lower_opset,
        raise_opset=raise_opset,
        in_place=in_place,
        convert=convert,
    )
    return fix_with(model, target, output, options, stage=stage, announce=announce)


def fix_with(
    model: Model | str | os.PathLike[str],
    target: Target | str,
    output: str | os.PathLike[str] | None,
    options: FixOptions,
    *,
    stage: StageFactory | None = None,
    announce: Callable[[list[str]], None] | None = None,
    reference: Model | None = None,
) -> FixReport:
    """:func:`fix` with its options as one value: the passes below, in turn, over one job.

    ``reference``: the model to verify against instead of ``model`` as read (``export`` gives the
    unchanged network's export, ``model`` being its swapped one); it is verified against always,
    changed or not, legal or not.
    """
    from opswap.arguments import as_model, as_target

    out = Path(output) if output is not None else None
    job = _Job(as_model(model), as_target(target), options, out, stage, reference=reference)
    check_opset_choice(options.lower_opset, options.raise_opset)
    if job.output is not None:
        guard_outputs(
            job.model, job.target, job.output, in_place=options.in_place, convert=options.convert is not False
        )
    with no_gc(), job.model.checked():  # one pause for the whole job (see graphs.no_gc)
        # onnx's checker may still run in the background (load): the model is judged and rewritten
        # while it runs (check and legalize, inside this block, leave it running), and it is waited
        # for before anything is verified, reported or written.
        for step in (_judge, _rewrite, _lower, _verify):
            step(job)
        report = job.report()
        _decide(job, report)
        if not report.not_written and job.output is not None:
            _write(job, report, announce)
        return report


@dataclass
class _Job:
    """One fix in progress: what each pass reads and what it leaves for the next."""

    model: Model
    target: Target
    options: FixOptions
    output: Path | None
    stage: StageFactory | None
    #: What is known of the model's graph, shared by the passes (each invalidates it when it changes the graph).
    index: GraphIndex = field(init=False)
    #: The check before rewriting as legalize starts from it (None once the graph changed since).
    scan: ModelScan | None = None
    #: What to verify against, when not the model as read (see ``fix_with``).
    reference: Model | None = None
    original: Model | None = None
    before: CheckReport | None = None
    #: The check the rewrite starts from (after raising the opset, if asked).
    current: CheckReport | None = None
    after: CheckReport | None = None
    fixed_dims: dict[str, int] = field(default_factory=dict)
    raised: Lowering | None = None
    legalization: LegalizeReport | None = None
    lowering: Lowering | None = None
    lowering_failed: str = ""
    verification: VerifyReport | None = None

    def __post_init__(self) -> None:
        self.index = GraphIndex(self.model.proto)

    def report(self) -> FixReport:
        """What was done, as the FixReport the passes filled (nothing written yet)."""
        assert self.before is not None and self.after is not None and self.legalization is not None
        return FixReport(
            self.target.name,
            self.model.source,
            self.before,
            self.legalization,
            self.after,
            self.verification,
            None,
            lowering=self.lowering,
            lowering_failed=self.lowering_failed,
            fixed_dims=self.fixed_dims,
        )


def _judge(job: _Job) -> None:
    """Check the model; keep the original to verify against; fix dims and raise the opset if asked."""
    model, target, draw = job.model, job.target, job.options.draw
    if target.partitions_after:  # judged on another graph: nothing to start the rewrite from
        job.before = check(model, target, index=job.index)
    else:
        job.scan = scan_model(model, Judge(target), job.index, keep=True)
        job.before = job.scan.report
    if job.reference is not None:
        job.original = job.reference
    else:
        job.original = copy(model) if job.options.run_verify else None
    static = any(f.static_only for f in job.before.at(Level.ERROR))
    if draw.shapes and (target.fixed_shapes or static) and not job.before.legal:
        # The target needs fixed shapes, or a constant computed from the dimensions: the user gave them.
        job.fixed_dims = fix_dims(model, draw.shapes)
        job.index.invalidate()
        job.scan = None
    job.raised = _raise_if_asked(model, target, job.options.raise_opset)
    if job.raised is not None:
        job.index.invalidate()
        job.scan = None
        job.current = check(model, target, index=job.index)
    else:
        job.current = job.before


def _rewrite(job: _Job) -> None:
    """Legalize what the check found illegal, then check again."""
    assert job.current is not None
    if job.current.legal:
        # Nothing to rewrite. (For ONNX Runtime's EPs the judged graph is the one ORT partitions:
        # the Constant nodes and shape arithmetic it folds itself are not opswap's to change.)
        job.legalization, job.after = LegalizeReport(target=job.target.name), job.current
        return
    options, draw = job.options, job.options.draw
    advance = job.stage("legalize", job.current.count(Level.ERROR)) if job.stage else None
    feeds = options.calibration if options.calibration is not None else draw.inputs
    calibrate = calibrator(feeds, samples=draw.samples, input_shapes=draw.shapes, base_dir=job.model.base_dir)
    job.legalization = legalize(
        job.model,
        job.target,
        advance,
        allow_approx=options.allow_approx,
        calibrate=calibrate,
        index=job.index,
        scan=job.scan,
    )
    job.scan = None  # what legalize started from: not needed again
    job.model.ensure_valid()
    # The legalizer's own verdicts give the check after it, where that is sound (see aftercheck).
    job.after = job.legalization.checked or check(job.model, job.target)


def _lower(job: _Job) -> None:
    """Lower the opset when asked (or when the target rejects versions it does not list)."""
    assert job.after is not None
    job.lowering, job.lowering_failed, job.after = lower_if_asked(
        job.model, job.target, job.after, job.options.lower_opset, job.raised
    )


def _verify(job: _Job) -> None:
    """Compare the fixed model with the original; when they part, find the rewrite that made them."""
    options, draw, original = job.options, job.options.draw, job.original
    assert job.after is not None and job.legalization is not None
    # Nothing is written when illegal nodes remain (without allow_partial): verifying would only
    # fail on ops ONNX Runtime lacks (a custom domain) and hide the real answer, "no route".
    # Nor is a model verified against itself: when nothing changed, there is nothing to compare.
    if original is None:
        return
    changed = not _nothing_changed(job.legalization, job.fixed_dims, job.lowering)
    if job.reference is None and not ((job.after.legal or options.allow_partial) and changed):
        return
    count = draw.samples if draw.inputs is None else len(draw.inputs)
    verification = verify(
        original,
        job.model,
        samples=draw.samples,
        input_shapes=draw.shapes,
        inputs=draw.inputs,
        rtol=options.rtol,
        on_sample=job.stage("verify", count) if job.stage else None,
    )
    if not verification.passed and not verification.vacuous and verification.precision != "qdq":
        # Which rewrite made them part: its outputs, on the same inputs (random ones are seeded).
        feeds = draw.feeds(original.proto)
        verification.per_value = rewritten_values(original, job.model, job.legalization, feeds, verification.rtol)
    job.verification = verification


def _decide(job: _Job, report: FixReport) -> None:
    """Whether the result may be written, and why not (``report.not_written``); a cut to try."""
    verification, allow_partial = report.verification, job.options.allow_partial
    if not report.legal and job.original is not None and report.post_processing:
        report.cut_hint = _cut_hint(job.original, job.target, report.post_processing, job.options.allow_approx)
    if not report.legal and not allow_partial:
        report.not_written = "some illegal nodes have no legal route (pass --allow-partial to write anyway)"
    elif verification is not None and verification.vacuous:
        report.not_written = (
            "not verified: every output is empty or zero on these inputs (give inputs that exercise "
            "the model with --inputs)"
        )
    elif verification is not None and not verification.passed:
        report.not_written = "verification failed: the fixed model's outputs differ from the original's"


def _write(job: _Job, report: FixReport, announce: Callable[[list[str]], None] | None) -> None:
    """Save the model, then run the target's converter on it (unless told not to)."""
    assert job.output is not None
    report.output = save(job.model, job.output)
    convert = job.options.convert
    if convert is False:
        return
    model = job.model
    source = str(model.path) if model.path is not None else model.label or None
    shapes = [f"--input-shape={name}={','.join(map(str, dims))}" for name, dims in job.options.draw.shapes.items()]
    report.converter = run_converter(
        job.target, report.output, source=source, options=shapes, asked=convert is True, announce=announce
    )


def _cut_hint(original: Model, target: Target, stuck: list[str], allow_approx: bool) -> list[str] | None:
    """Values to cut ``original`` at, before the data-dependent ``stuck`` ops left without a route.

    Only when the part before the cut legalizes for ``target`` (tried on a copy); else None: a hint
    must lead somewhere.
    """
    names = suggest_cut(original, stuck)
    if names is None:
        return None
    trial = copy(original)
    cut(trial, names)
    legalize(trial, target, allow_approx=allow_approx)
    return names if check(trial, target).legal else None


def check_opset_choice(lower_opset: int | str | None, raise_opset: int | str | None) -> None:
    """An ``OpswapError`` when both a lowering and a raising are asked for (exit 2)."""
    if lower_opset is not None and raise_opset is not None:
        raise OpswapError("--raise-opset and --lower-opset: give one")


def _raise_if_asked(model: Model, target: Target, raise_opset: int | str | None) -> Lowering | None:
    """Raise the opset when asked (a number, or "auto"); None when it stays."""
    if raise_opset is None:
        return None
    opset = raise_target(model, target) if raise_opset == "auto" else int(raise_opset)
    if opset == model.opset:
        return None
    return raise_opset_to(model, opset)


def lower_if_asked(
    model: Model, target: Target, after: CheckReport, lower_opset: int | str | None, raised: Lowering | None
) -> tuple[Lowering | None, str, CheckReport]:
    """Lower the opset when asked, or ("auto") when the target rejects versions it does not list.

    Returns the lowering (None if none), why "auto" could not lower, and the check after it. A model
    whose opset was ``raised`` on purpose is not lowered again by itself: the raising is returned.
    """
    if raised is not None:
        return raised, "", after
    if lower_opset is None and not after.legal and target.unlisted_opset == Level.ERROR:
        lower_opset = "auto"  # the target rejects versions it does not list: try an opset it does
    if lower_opset is None:
        return None, "", after
    opset = best_opset(model, target) if lower_opset == "auto" else int(lower_opset)
    try:
        lowering = lower(model, opset) if opset < model.opset else None
    except LoweringError as exc:
        if lower_opset != "auto":
            raise
        return None, str(exc), after
    return lowering, "", check(model, target) if lowering is not None else after


def rewritten_values(
    original: Model, fixed: Model, legalization: LegalizeReport, inputs: list[dict[str, np.ndarray]], rtol: float
) -> PerValue:
    """The rewritten nodes' outputs compared between the two models: which rewrite made them part.

    A rewrite's last node keeps the replaced node's output names, so each such value is computed by
    both; values of subgraphs, and outputs folded into constants, are not compared.
    """
    route_of = {label: r.route for r in legalization.rewrites for label in r.nodes}
    routes = {
        name: route_of[label]
        for k, node in enumerate(original.proto.graph.node)
        if (label := node_label(node, k)) in route_of
        for name in node.output
        if name
    }
    names = [n for n in shared_values(original.proto, fixed.proto) if n in routes]
    return compare_values(original, fixed, names, inputs, rtol, routes)


def _nothing_changed(legalization: LegalizeReport, fixed_dims: dict[str, int], lowering: Lowering | None) -> bool:
    changed = legalization.rewrites or legalization.folded or legalization.fused or legalization.nodes_added
    return not changed and not fixed_dims and lowering is None


def guard_outputs(model: Model, target: Target, output: Path, *, in_place: bool = False, convert: bool = True) -> None:
    """Refuse outputs that would overwrite the input or any file it references (``ModelError``, exit 2)."""
    guard_paths(output, protected_files(model), target if convert else None, in_place=in_place)


def guard_paths(
    output: Path, protected: Sequence[tuple[Path, str]], target: Target | None = None, *, in_place: bool = False
) -> None:
    """Neither ``output`` nor a file ``target``'s converter writes beside it may be one of ``protected``.

    ``protected`` pairs each file the user gave us to read with what it is (the first may be the
    output when ``in_place``); a converter's file may not be the output itself either.
    """
    check_output(output, protected, in_place=in_place)
    if target is not None and target.converter:
        for artifact in converter_outputs(target, output):
            check_output(artifact, [(output, "the fixed model itself"), *protected])
