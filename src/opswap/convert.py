"""fix, then the target's real converter, with the converter's verdict fed back into the fix.

Qualcomm's converters stop at the first op they cannot translate ("No translation registered for op
type onnx_<op>"), one per run. ``convert`` reads that message, treats the op as illegal for this
target even if the profile listed it, legalizes again from the original, and reruns the converter,
until it succeeds, fails for another reason (reported in its own words, not blamed on an op), or
the rounds run out. OpenVINO converts in-process and its outputs are compared with ORT's on the
original; ONNX Runtime's mobile EPs report the partitions ORT's own checker estimates.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opswap.converters import ConverterResult, converter_output, run_converter, runtimes
from opswap.converters.ort_mobile import Partitions
from opswap.fix import FixOptions, FixReport, StageFactory, fix_with, guard_outputs
from opswap.fold import fold
from opswap.jsonout import schema_id
from opswap.model import Model, copy, load, save
from opswap.targets import Target
from opswap.verify import DEFAULT_SAMPLES, Draw, VerifyReport, verify

MAX_ROUNDS = 5


@dataclass
class Round:
    """One run of a command converter: what it said, and which ops it rejected."""

    result: ConverterResult
    #: Rejected ops, as op types of the model (the converter prints them lower-cased).
    rejected: list[str] = field(default_factory=list)
    #: After a failure not over an op: nodes computed from constants, folded before the next round.
    folded: int = 0
    #: That folded model against the original.
    folded_verification: VerifyReport | None = None


@dataclass
class ConvertReport:
    """The fix and what the converter made of it."""

    target: str
    tool: str
    fix: FixReport
    converted: bool = False
    found: bool = True
    artifact: Path | None = None
    #: Why conversion did not happen or failed, in the converter's words where it gave some.
    message: str = ""
    rounds: list[Round] = field(default_factory=list)
    partitions_before: Partitions | None = None
    partitions_after: Partitions | None = None
    #: The converted model's outputs against ORT's on the original (OpenVINO, MNN, onnx2torch, the QNN HTP).
    runtime: VerifyReport | None = None
    #: The unmodified model on that runtime against the same reference, where it runs there (qnn-htp).
    runtime_original: VerifyReport | None = None
    original_note: str = ""
    #: Every file the converter wrote.
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Fixed and written, converted, and (where it ran) the converted model computes the same.

        With ``allow_partial`` the fix may leave nodes the profile calls illegal: the converter's own
        verdict (it converted them) is then the one that counts.
        """
        return self.fix.output is not None and self.converted and (self.runtime is None or self.runtime.passed)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "schema": schema_id("convert"),
            "target": self.target,
            "tool": self.tool,
            "ok": self.ok,
            "converted": self.converted,
            "found": self.found,
            "artifact": str(self.artifact) if self.artifact else None,
            "message": self.message or None,
            "rounds": [
                {
                    **r.result.to_dict(),
                    "rejected": r.rejected,
                    "folded": r.folded,
                    "folded_verification": r.folded_verification.to_dict() if r.folded_verification else None,
                }
                for r in self.rounds
            ],
            "partitions_before": self.partitions_before.to_dict() if self.partitions_before else None,
            "partitions_after": self.partitions_after.to_dict() if self.partitions_after else None,
            "runtime": self.runtime.to_dict() if self.runtime else None,
            "runtime_original": self.runtime_original.to_dict() if self.runtime_original else None,
            "original_note": self.original_note or None,
            "files": [str(f) for f in self.files],
            "fix": self.fix.to_dict(),
        }


def convert(
    model: Model,
    target: Target,
    output: Path,
    *,
    samples: int = DEFAULT_SAMPLES,
    input_shapes: Mapping[str, list[int]] | None = None,
    inputs: list[dict[str, np.ndarray]] | None = None,
    rtol: float | None = None,
    allow_approx: bool = False,
    lower_opset: int | str | None = None,
    run_verify: bool = True,
    allow_partial: bool = False,
    max_rounds: int = MAX_ROUNDS,
    stage: StageFactory | None = None,
    announce: Callable[[list[str]], None] | None = None,
) -> ConvertReport:
    """Fix ``model`` for ``target``, write it to ``output`` and run the target's converter on it.

    Conversion is what the caller asked for, so a converter named by a user's profile runs too;
    ``announce`` receives its exact argument list before each run. ``inputs`` (else ``samples``
    random ones) are what the fix is verified on and the converted model compared on; ``rtol`` is
    the fix's tolerance (a runtime's own comparison keeps its precision's). ``run_verify=False``
    skips the fix's ONNX Runtime comparison (the converted model is still compared where it runs);
    ``allow_partial`` hands the converter a model with nodes left illegal (its rejections are fed
    back as usual).
    """
    guard_outputs(model, target, output, convert=True)
    original = copy(model)
    draw = Draw(samples, dict(input_shapes or {}), inputs)
    options = FixOptions(
        run_verify=run_verify,
        draw=draw,
        rtol=rtol,
        allow_partial=allow_partial,
        allow_approx=allow_approx,
        lower_opset=lower_opset,
        convert=False,  # run here, round by round, with the rejections fed back
    )
    report = ConvertReport(target.name, target.converter, fix_with(model, target, output, options, stage=stage))
    if report.fix.output is None:
        report.message = report.fix.not_written or "the fixed model is not legal"
        return report
    if target.converter == "ort-mobile-usability":
        _ort_mobile(report, original, output)
        return report
    current = target
    for _ in range(max_rounds):
        result, outcome = _run_once(current, output, original, draw, announce)
        present = _ops_in(output)
        rejected = sorted(op for op in present if op.lower() in {r.lower() for r in outcome.rejected})
        report.rounds.append(Round(result, rejected))
        if not result.found:
            report.found = False
            report.message = f"{result.tool} is not on PATH; run: {result.command_line}"
            return report
        if outcome.converted:
            report.converted, report.artifact, report.runtime = True, outcome.artifact, outcome.runtime
            report.runtime_original, report.original_note = outcome.runtime_original, outcome.original_note
            report.files = outcome.files or ([outcome.artifact] if outcome.artifact else [])
            return report
        if not rejected:
            # Converters often want what is computed from constants as initializers (onnx2torch reads a
            # Conv's bias from them): fold once, verify, and run it again before giving up.
            if not any(r.folded for r in report.rounds) and _fold_written(report.rounds[-1], output, original, options):
                continue
            report.message = f"{result.tool} failed, not over an op: {outcome.message}"
            return report
        # The converter knows better than the profile: drop what it rejected, legalize again from the original.
        current = dataclasses.replace(current, ops={k: e for k, e in current.ops.items() if k[1] not in rejected})
        report.fix = fix_with(copy(original), current, output, options, stage=stage)
        if report.fix.output is None:
            report.message = f"{result.tool} rejected {', '.join(rejected)}, and no legal route avoids it"
            return report
    report.message = f"{target.converter} still failing after {max_rounds} rounds"
    return report


def _fold_written(round_: Round, output: Path, original: Model, options: FixOptions) -> bool:
    """Fold the written model's constant computations (see ``fold``), verify, and write it again.

    Returns whether the converter should run again: something was folded and it still matches.
    """
    folded = load(output)
    round_.folded = fold(folded).nodes
    if not round_.folded:
        return False
    round_.folded_verification = verify(
        original,
        folded,
        samples=options.draw.samples,
        input_shapes=options.draw.shapes,
        inputs=options.draw.inputs,
        rtol=options.rtol,
    )
    if not round_.folded_verification.passed:
        return False
    save(folded, output)
    return True


def _run_once(
    target: Target,
    fixed: Path,
    original: Model,
    draw: Draw,
    announce: Callable[[list[str]], None] | None = None,
) -> tuple[ConverterResult, runtimes.Outcome]:
    """Run the target's converter once: what was run, and what came of it."""
    in_process = {
        "openvino": _openvino,
        "onnx2torch": runtimes.onnx2torch,
        "mnn": runtimes.mnn,
        "qnn-htp": runtimes.qnn_htp,
    }
    runner = in_process.get(target.converter)
    if runner is not None:
        artifact = converter_output(target, fixed)
        outcome = runner(fixed, artifact, original, draw)
        result = ConverterResult(target.converter, [target.converter, str(fixed)], True, 0 if outcome.converted else 1)
        result.output, result.rejected_ops = outcome.artifact, [r.lower() for r in outcome.rejected]
        return result, outcome
    command = run_converter(target, fixed, asked=True, announce=announce)
    if command is None:
        return ConverterResult("(none)", [], False), runtimes.Outcome(
            False, message=f"{target.name} names no converter"
        )
    return command, runtimes.Outcome(command.succeeded, command.output, command.rejected_ops, command.log_tail)


def _openvino(fixed: Path, artifact: Path, original: Model, draw: Draw) -> runtimes.Outcome:
    from opswap.converters import openvino

    try:
        saved, runtime = openvino.convert(fixed, artifact, original, draw)
    except Exception as exc:  # OpenVINO raises its own types; report its words
        return runtimes.Outcome(False, message=f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}")
    return runtimes.Outcome(True, saved, runtime=runtime)


def _ort_mobile(report: ConvertReport, original: Model, fixed: Path) -> None:
    from opswap.converters.ort_mobile import partitions

    with tempfile.TemporaryDirectory(prefix="opswap-original-") as tmp:
        source = original.path if original.path is not None else save(copy(original), Path(tmp) / "original.onnx")
        report.partitions_before = partitions(source, report.target)
    report.partitions_after = partitions(fixed, report.target)
    report.converted = True
    report.artifact = fixed


def _ops_in(path: Path) -> set[str]:
    import onnx

    from opswap.graphs import iter_scopes

    proto = onnx.load(str(path), load_external_data=False)
    return {n.op_type for scope in iter_scopes(proto) for n in scope.nodes}
