"""The ``opswap`` command: a thin layer over the Python API.

Exit codes: 0 success; 1 the model is illegal, has no route, or failed verification; 2 bad input or
usage (one line on stderr, no traceback); 3 an internal error (``OPSWAP_DEBUG=1`` shows the traceback).
Heavy modules (onnx, onnxruntime, torch) are imported inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from opswap.jsonout import schema_id
from opswap.text import escape, printable

if TYPE_CHECKING:
    from opswap.cut import CutReport
    from opswap.model import Model

app = typer.Typer(
    name="opswap",
    help="Make an ONNX or PyTorch model convertible to the edge runtime it targets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
targets_app = typer.Typer(help="List the shipped target profiles, or show one.", invoke_without_command=True)
app.add_typer(targets_app, name="targets")

# Piped (a log, grep, CI): lines are never wrapped, so commands and paths stay whole for copy and paste.
out = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())


class Format(str, enum.Enum):
    """Output format."""

    text = "text"
    json = "json"


ModelArg = Annotated[
    str,
    typer.Argument(
        help="An .onnx file, or a PyTorch spec: torchvision:NAME, file.py:factory (Python: it runs, as "
        "'python file.py' would), a TorchScript .pt (refused if it writes files) or a .pt2 (refused if it "
        "holds pickled objects)."
    ),
]
TargetOpt = Annotated[
    str, typer.Option("--target", "-t", help="A shipped profile name (see `opswap targets`) or a .toml path.")
]
FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="text for people, json for CI (one object on stdout).")
]
VerboseOpt = Annotated[
    int,
    typer.Option("--verbose", "-v", count=True, help="-v lists every warning and every node, -vv the caveats too."),
]
WeightsOpt = Annotated[
    Path | None, typer.Option(help="PyTorch specs: a state dict file, loaded with weights_only=True.")
]
OpsetOpt = Annotated[int | None, typer.Option(help="PyTorch specs: the ONNX opset to export at (default 14).")]
InputShapeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--input-shape",
        metavar="NAME=D1,D2,...",
        help="NAME=D1,D2,... for a model input (repeatable); sets symbolic dims (fix writes them into the "
        "model for targets that need fixed shapes).",
    ),
]
SamplesOpt = Annotated[int, typer.Option(min=1, help="How many random inputs to verify on.")]
OutputsOpt = Annotated[
    str | None,
    typer.Option(
        "--outputs",
        help="NAME,NAME,...: cut the model at these values first (they become its outputs; what only "
        "the rest needs is removed), e.g. before a detector's post-processing. Verified up to the cut.",
    ),
]
InputsOpt = Annotated[Path | None, typer.Option(help="A .npz file of inputs to verify on instead of random ones.")]
RtolOpt = Annotated[
    float | None,
    typer.Option(
        help="Verification tolerance on max|Δ|/max|ref|. Default by the model's precision: 1e-5 for float32 "
        "and float64, 10 ULPs for float16 and bfloat16; a QDQ model is judged in quantization steps."
    ),
]


ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Also write a self-contained HTML report here (.html): the verdict, findings, each rewrite "
        "drawn before and after, the verification plotted. It loads nothing from anywhere.",
    ),
]


def _guard_report(
    path: Path | None,
    source: str,
    output: Path | None = None,
    *,
    weights: Path | None = None,
    inputs: Path | None = None,
    calibrate: Path | None = None,
) -> None:
    """Check a --report path before any work, as -o is.

    An .html file in an existing folder that is none of the files read (the model, weights, inputs,
    calibration) nor the output model; links count.
    """
    if path is None:
        return
    from opswap.errors import ModelError
    from opswap.model import check_output

    if path.suffix.lower() not in (".html", ".htm"):
        raise ModelError(f"{path}: --report writes an HTML file; name it .html")
    _guard_output(source, path, weights=weights, inputs=inputs, calibrate=calibrate)
    if output is not None:
        check_output(path, [(output, "the output model")])


def _guard_report_data(path: Path | None, model: Model) -> None:
    """Once the model is loaded: the report is not one of its external data files either."""
    if path is not None:
        from opswap.model import check_output, protected_files

        check_output(path, protected_files(model))


def _write_report(path: Path | None, **reports: Any) -> None:
    """Write the HTML report atomically, then read it back and check it holds its report (else exit 2)."""
    if path is None:
        return
    import json
    import re

    from opswap.errors import OpswapError
    from opswap.html import report_page
    from opswap.model import atomic_write_text

    atomic_write_text(path, report_page(**reports))
    found = re.search(
        r'<script id="opswap-report" type="application/json">(.*?)</script>', path.read_text("utf-8"), re.S
    )
    if found is None or "schema" not in json.loads(found.group(1)):
        raise OpswapError(f"{path}: the report written does not read back")
    err.print(f"Report: {printable(str(path))}", markup=False)


def _finish(result: Any, format: Format, print_text: Callable[[], None], ok: bool) -> None:
    """Print ``result`` as one JSON object or as text, then exit 0 when ``ok`` and 1 otherwise."""
    from opswap import report as rp

    if format is Format.json:
        rp.print_json(out, result.to_dict())
    else:
        print_text()
    raise typer.Exit(0 if ok else 1)


def _open(
    source: str, weights: Path | None, opset: int | None, input_shape: list[str] | None, background_check: bool = False
) -> Model:
    from opswap.frontends import is_torch_spec, open_model
    from opswap.verify import parse_input_shapes

    shape = None
    if is_torch_spec(source) and input_shape:
        shapes = parse_input_shapes(input_shape)
        shape = next(iter(shapes.values()))
    if is_torch_spec(source):
        with err.status(f"Building and exporting {escape(source)} …"):
            return open_model(source, weights=weights, input_shape=shape, opset=opset)
    return open_model(source, weights=weights, opset=opset, background_check=background_check)


def _guard_output(
    source: str,
    output: Path,
    *,
    weights: Path | None = None,
    inputs: Path | None = None,
    in_place: bool = False,
    artifact_of: Any = None,
    calibrate: Path | None = None,
) -> None:
    """Check an output path before any work: its folder exists, and it overwrites nothing we read.

    Nothing the user gave us to read may be written over: the ONNX input (unless ``in_place``), a
    PyTorch spec's source or program, the weights, ``--inputs`` and ``--calibrate`` files; nor, when ``artifact_of``
    (a target) names a converter, the file that converter writes beside the output. The model's
    external data files are checked once the model is loaded (``fix.guard_outputs``).
    """
    from opswap.errors import ModelError
    from opswap.fix import guard_paths
    from opswap.frontends import is_torch_spec, source_files
    from opswap.model import output_folder

    output_folder(output)
    if output.is_dir():
        raise ModelError(f"{output}: cannot write (Is a directory; name the output file)")
    files = source_files(source)
    read = ((weights, "the weights file"), (inputs, "the --inputs file"), (calibrate, "the --calibrate file"))
    files += [(p, what) for p, what in read if p is not None]
    guard_paths(output, files, artifact_of, in_place=in_place and not is_torch_spec(source))


def _say_resolved(profile: Any) -> Any:
    """Tell (stderr) when the target asked for resolved to another shipped release; pass it on."""
    if profile.requested:
        err.print(
            f"{printable(profile.requested)}: no profile of that release; using {printable(profile.name)}, the "
            "nearest shipped one at or below it (an op added since may show as illegal)",
            markup=False,
        )
    return profile


def _expand_models(items: list[str]) -> list[str]:
    """Paths as given, folders as the .onnx files inside (sorted, recursive), globs expanded."""
    import glob

    from opswap.errors import ModelError
    from opswap.frontends import is_torch_spec

    found: list[str] = []
    for item in items:
        path = Path(item)
        if not is_torch_spec(item) and path.is_dir():
            inside = sorted(str(p) for p in path.rglob("*.onnx") if p.is_file())
            if not inside:
                raise ModelError(f"{item}: a folder with no .onnx file")
            found += inside
        elif not path.exists() and any(c in item for c in "*?[") and not is_torch_spec(item):
            matched = sorted(glob.glob(item, recursive=True))
            if not matched:
                raise ModelError(f"{item}: no file matches")
            found += matched
        else:
            found.append(item)
    return list(dict.fromkeys(found))


def _check_matrix(
    sources: list[str],
    names: list[str],
    format: Format,
    weights: Path | None,
    opset: int | None,
    input_shape: list[str] | None,
) -> None:
    """Every model against every target (see ``opswap.matrix``)."""
    from opswap import report as rp
    from opswap.matrix import matrix
    from opswap.targets import load_target

    profiles = [_say_resolved(load_target(name)) for name in names]
    models = [(source, lambda source=source: _open(source, weights, opset, input_shape)) for source in sources]
    with rp.progress(err) as stage:
        result = matrix(models, profiles, stage("check", len(models) * len(profiles)))
    _finish(result, format, lambda: rp.print_matrix(out, result), result.all_legal)


def _announce(argv: list[str]) -> None:
    """Say exactly what program runs, before it runs (stderr, so JSON on stdout stays one object)."""
    import shlex

    from opswap.text import printable

    err.print(f"Running: {printable(shlex.join(argv))}", markup=False, soft_wrap=True)


@app.command()
def check(
    models: Annotated[
        list[str],
        typer.Argument(
            help="One or more .onnx files, folders (every .onnx inside), globs, or PyTorch specs "
            "(torchvision:NAME, file.py:factory, .pt, .pt2)."
        ),
    ],
    targets: Annotated[
        list[str],
        typer.Option(
            "--target",
            "-t",
            metavar="T[,T...]",
            help="A shipped profile name (see `opswap targets`) or a .toml path; repeat it, or give a "
            "comma list, for several.",
        ),
    ],
    format: FormatOpt = Format.text,
    verbose: VerboseOpt = 0,
    weights: WeightsOpt = None,
    opset: OpsetOpt = None,
    input_shape: InputShapeOpt = None,
    outputs: OutputsOpt = None,
    report: ReportOpt = None,
) -> None:
    """Report every node the target rejects, at once. Exit 0 if legal, 1 if not.

    With several models or targets: a matrix, model by target, of legal / fixable / fixable with
    --allow-approx / no route; exit 0 only when every model is legal for every target.
    """
    from opswap import report as rp
    from opswap.check import check as run_check
    from opswap.targets import Level, load_target

    names = [name for item in targets for name in item.split(",") if name]
    sources = _expand_models(models)
    if len(names) != 1 or len(sources) != 1:
        if outputs is not None or report is not None:
            from opswap.errors import OpswapError

            flag = "--outputs names values" if outputs is not None else "--report describes one check"
            raise OpswapError(f"{flag} of one model: check one model against one target at a time with it")
        _check_matrix(sources, names, format, weights, opset, input_shape)
        return
    (model,), (target,) = sources, names
    profile = _say_resolved(load_target(target))
    cut_at = _value_names(outputs)
    _guard_report(report, model, weights=weights)
    loaded = _open(model, weights, opset, input_shape, background_check=True)
    _guard_report_data(report, loaded)
    cut_report = _cut(loaded, cut_at)
    if cut_report is not None:
        err.print(f"Checking the cut: {escape(str(cut_report))}")
    result = run_check(loaded, profile)
    if result.count(Level.WARNING) or not result.legal:
        from opswap.opsets import lowering_advice

        result.lowering_advice = lowering_advice(loaded, profile)

    def print_text() -> None:
        rp.print_check(out, result, verbose)
        if not result.legal:
            import shlex

            from opswap.text import printable

            command = shlex.join(["opswap", "fix", model, "--target", target, "-o", "fixed.onnx"])
            out.print(f"Fix with: {printable(command)}", markup=False, soft_wrap=True)

    _write_report(report, check=result)
    _finish(result, format, print_text, result.legal)


@app.command()
def fix(
    model: ModelArg,
    target: TargetOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the fixed model (atomically).")],
    verify: Annotated[bool, typer.Option(help="Compare outputs with ONNX Runtime before writing.")] = True,
    samples: SamplesOpt = 8,
    input_shape: InputShapeOpt = None,
    inputs: InputsOpt = None,
    rtol: RtolOpt = None,
    calibrate: Annotated[
        Path | None,
        typer.Option(
            help="A .npz of inputs for the encodings of new tensors in a QDQ model that no bound fixes "
            "(default: --inputs, else seeded random inputs).",
        ),
    ] = None,
    allow_partial: Annotated[bool, typer.Option(help="Write the output even if some nodes stay illegal.")] = False,
    allow_approx: Annotated[
        bool, typer.Option(help="Also use approximate rules (each states its error bound; the report shows it).")
    ] = False,
    lower_opset: Annotated[
        str | None,
        typer.Option(help="Lower the model's opset: a number, or 'auto' for the highest the target fully lists."),
    ] = None,
    raise_opset: Annotated[
        str | None,
        typer.Option(
            help="Raise the model's opset first (before any rewrite): a number, or 'auto' for the lowest "
            "at which the target lists more of its versions (e.g. 20, to use Gelu).",
        ),
    ] = None,
    in_place: Annotated[bool, typer.Option(help="Allow the output to overwrite the input file.")] = False,
    convert: Annotated[
        bool | None,
        typer.Option(
            "--convert/--no-convert",
            help="Run the target's converter on the output when it is on PATH. Default: only converters of "
            "shipped profiles; a program named by your own .toml profile runs only with --convert.",
            show_default=False,
        ),
    ] = None,
    format: FormatOpt = Format.text,
    verbose: VerboseOpt = 0,
    weights: WeightsOpt = None,
    opset: OpsetOpt = None,
    outputs: OutputsOpt = None,
    report: ReportOpt = None,
) -> None:
    """Rewrite illegal nodes into exact equivalents, verify, and write OUTPUT.

    Exit 0 when OUTPUT is legal, verified and written; 1 when an op has no route or verification
    fails (nothing written); 2 on bad input.
    """
    from opswap import report as rp
    from opswap.fix import check_opset_choice
    from opswap.fix import fix as run_fix
    from opswap.frontends import is_torch_spec
    from opswap.model import copy
    from opswap.targets import load_target
    from opswap.verify import load_inputs, parse_input_shapes

    shapes = parse_input_shapes(input_shape or [])
    raise_to = _opset_choice(raise_opset, "--raise-opset")
    lower_to = _opset_choice(lower_opset)
    check_opset_choice(lower_to, raise_to)  # before any work
    profile = _say_resolved(load_target(target))
    _guard_output(
        model,
        output,
        weights=weights,
        inputs=inputs,
        in_place=in_place,
        artifact_of=profile if convert is not False else None,
        calibrate=calibrate,
    )
    _guard_report(report, model, output, weights=weights, inputs=inputs, calibrate=calibrate)
    cut_at = _value_names(outputs)
    loaded = _open(model, weights, opset, input_shape, background_check=True)
    _guard_report_data(report, loaded)
    cut_report = _cut(loaded, cut_at)
    before = copy(loaded).proto if report is not None else None  # each rewrite is drawn from it
    if is_torch_spec(model):
        shapes = {}
    feeds = load_inputs(inputs, loaded.proto) if inputs else None
    calibration = load_inputs(calibrate, loaded.proto) if calibrate else None
    with rp.progress(err) as stage:
        result = run_fix(
            loaded,
            profile,
            output,
            run_verify=verify,
            samples=samples,
            input_shapes=shapes,
            inputs=feeds,
            rtol=rtol,
            calibration=calibration,
            allow_partial=allow_partial,
            allow_approx=allow_approx,
            lower_opset=lower_to,
            raise_opset=raise_to,
            in_place=in_place,
            convert=convert,
            stage=stage,
            announce=_announce,
        )

    result.cut = cut_report
    _write_report(report, fix=result, original=before, fixed=loaded.proto)

    def print_text() -> None:
        rp.print_fix(out, result, verbose)
        rp.print_converter(out, result.converter, profile)

    _finish(result, format, print_text, result.ok and result.output is not None)


def _value_names(text: str | None) -> list[str] | None:
    from opswap.errors import OpswapError

    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise OpswapError("--outputs: give value names, NAME,NAME,...")
    return names


def _cut(model: Model, names: list[str] | None) -> CutReport | None:
    from opswap.cut import cut

    return cut(model, names) if names else None


def _opset_choice(text: str | None, flag: str = "--lower-opset") -> int | str | None:
    from opswap.errors import OpswapError

    if text is None or text == "auto":
        return text
    if not text.isdigit():
        raise OpswapError(f"{flag} {text!r}: expected a number or 'auto'")
    return int(text)


@app.command("convert")
def convert_command(
    model: ModelArg,
    target: TargetOpt,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the fixed ONNX model; the converter writes beside it, named from its stem "
            "(qnn-htp: STEM.dlc, QNN's IR of the graph, and STEM_ctx.onnx, the EPContext model holding the "
            "compiled HTP context binary; openvino: STEM.xml/.bin; mnn: STEM.mnn; onnx2torch: STEM.pt).",
        ),
    ],
    samples: SamplesOpt = 8,
    input_shape: InputShapeOpt = None,
    inputs: InputsOpt = None,
    rtol: RtolOpt = None,
    allow_approx: Annotated[bool, typer.Option(help="Also use approximate rules.")] = False,
    lower_opset: Annotated[str | None, typer.Option(help="Lower the opset: a number, or 'auto'.")] = None,
    verify: Annotated[
        bool,
        typer.Option(
            help="Compare the fixed model with ONNX Runtime before converting (the converted one is "
            "compared where it runs either way)."
        ),
    ] = True,
    allow_partial: Annotated[
        bool, typer.Option(help="Convert even if some nodes stay illegal (the converter's rejections are fed back).")
    ] = False,
    max_rounds: Annotated[int, typer.Option(min=1, help="Converter runs at most, feeding its rejections back.")] = 5,
    format: FormatOpt = Format.text,
    verbose: VerboseOpt = 0,
    weights: WeightsOpt = None,
    opset: OpsetOpt = None,
    outputs: OutputsOpt = None,
    report: ReportOpt = None,
) -> None:
    """Fix, then run the target's converter (its rejections are fed back); compare where it can run.

    qnn-htp compiles with Qualcomm's HTP backend (onnxruntime-qnn, simulated on x86, fp16, CPU fallback
    disabled): nodes it refuses are legalized again, and the compiled model runs on the HTP against the
    original on ONNX Runtime's CPU (max|Δ|/max|ref| at most 5e-2, cosine 0.999, top-1 99%).
    Exit 0 when the model was fixed, converted, and (where it runs) computes the same; 1 otherwise.
    """
    from opswap import report as rp
    from opswap.convert import convert as run_convert
    from opswap.frontends import is_torch_spec
    from opswap.model import copy
    from opswap.targets import load_target
    from opswap.verify import load_inputs, parse_input_shapes

    shapes = parse_input_shapes(input_shape or [])
    profile = _say_resolved(load_target(target))
    _guard_output(model, output, weights=weights, inputs=inputs, artifact_of=profile)
    _guard_report(report, model, output, weights=weights, inputs=inputs)
    cut_at = _value_names(outputs)
    loaded = _open(model, weights, opset, input_shape)
    _guard_report_data(report, loaded)
    cut_report = _cut(loaded, cut_at)
    before = copy(loaded).proto if report is not None else None  # each rewrite is drawn from it
    if cut_report is not None:
        err.print(f"Converting the cut: {escape(str(cut_report))}")
    if is_torch_spec(model):
        shapes = {}
    feeds = load_inputs(inputs, loaded.proto) if inputs else None
    with rp.progress(err) as stage:
        result = run_convert(
            loaded,
            profile,
            output,
            samples=samples,
            input_shapes=shapes,
            inputs=feeds,
            rtol=rtol,
            allow_approx=allow_approx,
            lower_opset=_opset_choice(lower_opset),
            run_verify=verify,
            allow_partial=allow_partial,
            max_rounds=max_rounds,
            stage=stage,
            announce=_announce,
        )
    _write_report(report, convert=result, original=before, fixed=loaded.proto)
    _finish(result, format, lambda: rp.print_convert(out, result, verbose), result.ok)


@app.command()
def probe(
    converter: Annotated[
        str,
        typer.Option(
            help="openvino, onnx2torch, mnn, qnn-htp, ort-nnapi, ort-coreml-neuralnetwork, ort-coreml-mlprogram, "
            "snpe, qnn, "
            "or a command template such as 'my-converter {input} {output}'."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the probed profile (.toml).")],
    ops: Annotated[
        str | None, typer.Option(help="Comma-separated ops to probe (default: every op with a node test).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="The profile's name (default: the file name).")] = None,
    compare: Annotated[str | None, typer.Option(help="A profile to compare the probe with.")] = None,
    format: FormatOpt = Format.text,
) -> None:
    """Run ONNX's node tests through a converter and write a profile of what it accepted."""
    from opswap import report as rp
    from opswap.probe import node_tests, trial_for, write_profile
    from opswap.probe import probe as run_probe
    from opswap.targets import load_target

    wanted = {o.strip() for o in ops.split(",") if o.strip()} if ops else None
    reference = load_target(compare) if compare else None
    from opswap.model import check_output, output_folder

    output_folder(output)
    if reference is not None and reference.path is not None:
        check_output(output, [(reference.path, "the profile to compare with")])
    trial = trial_for(converter)  # an unknown, missing or malformed converter is one line, before any work
    total = sum(1 for _ in node_tests(wanted))
    with rp.progress(err) as stage:
        result = run_probe(converter, wanted, on_test=stage("probe", total), trial=trial)
    write_profile(result, output, name or output.stem)
    differences = result.compare(reference) if reference is not None else None
    if format is Format.json:
        rp.print_json(out, {**result.to_dict(), "profile": str(output), "compare": differences})
        return
    supported = sorted(op for op, r in result.ops.items() if r.supported)
    wrong = sorted(op for op, r in result.ops.items() if r.wrong_tests)
    out.print(
        f"{result.converter} {result.version}: {len(supported)} of {len(result.ops)} probed ops accepted", markup=False
    )
    if wrong:
        out.print(
            f"computed wrong in some node tests (a caveat, or unsupported if none passed): {', '.join(wrong)}",
            markup=False,
        )
    out.print(f"Wrote {output}", markup=False)
    if differences is not None and reference is not None:
        agree = len(differences["agree"])
        out.print(f"Against {reference.name}: {agree} of {len(result.ops)} probed ops agree", markup=False)
        out.print(
            f"  accepted but not listed: {', '.join(differences['accepted_but_not_listed']) or '-'}", markup=False
        )
        out.print(f"  listed but rejected: {', '.join(differences['listed_but_rejected']) or '-'}", markup=False)


@app.command("verify")
def verify_command(
    original: Annotated[Path, typer.Argument(help="The reference .onnx model.")],
    candidate: Annotated[Path, typer.Argument(help="The .onnx model to compare with it.")],
    samples: SamplesOpt = 8,
    input_shape: InputShapeOpt = None,
    inputs: InputsOpt = None,
    rtol: RtolOpt = None,
    per_node: Annotated[
        bool,
        typer.Option(
            "--per-node",
            help="Also compare every value both models compute under the same name, in the reference's order, "
            "and name the first that differs (where the models part).",
        ),
    ] = False,
    format: FormatOpt = Format.text,
) -> None:
    """Compare two models' outputs with ONNX Runtime. Exit 0 if they agree, 1 if not."""
    from opswap import report as rp
    from opswap.model import load
    from opswap.verify import compare_values, load_inputs, parse_input_shapes, random_inputs, shared_values, verify

    shapes = parse_input_shapes(input_shape or [])
    a, b = load(original), load(candidate)
    feeds = load_inputs(inputs, a.proto) if inputs else None
    with rp.progress(err) as stage:
        result = verify(
            a, b, samples=samples, input_shapes=shapes, inputs=feeds, rtol=rtol, on_sample=stage("verify", samples)
        )
        if per_node:
            names = shared_values(a.proto, b.proto)
            drawn = feeds if feeds is not None else random_inputs(a.proto, samples, shapes)
            result.per_value = compare_values(a, b, names, drawn, result.rtol)
    title = f"ONNX Runtime (CPU), {a.source} vs {b.source}"
    _finish(result, format, lambda: rp.print_verification(out, result, title), result.passed)


@app.command()
def export(
    spec: Annotated[str, typer.Argument(help="A PyTorch spec such as torchvision:mobilenet_v3_large.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the .onnx file.")],
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="Make the export legal for this target (see --via).")
    ] = None,
    via: Annotated[
        str, typer.Option(help="swap: replace layers in PyTorch before exporting; onnx: fix the exported graph.")
    ] = "swap",
    dynamo: Annotated[bool, typer.Option(help="Use the dynamo exporter instead of the TorchScript one.")] = False,
    weights: WeightsOpt = None,
    opset: OpsetOpt = None,
    input_shape: InputShapeOpt = None,
    allow_approx: Annotated[
        bool, typer.Option(help="With --target: also use approximate rules on the exported graph.")
    ] = False,
    lower_opset: Annotated[
        str | None, typer.Option(help="With --target: lower the opset after legalizing: a number, or 'auto'.")
    ] = None,
    format: FormatOpt = Format.text,
) -> None:
    """Export a PyTorch model to ONNX; with --target, legal for it and verified (exit 1 if not)."""
    from opswap import report as rp
    from opswap.errors import FrontendError
    from opswap.frontends import is_torch_spec
    from opswap.model import save

    if not is_torch_spec(spec):
        raise FrontendError(f"{spec!r}: export takes a PyTorch spec such as torchvision:mobilenet_v3_large")
    if via not in ("swap", "onnx"):
        raise FrontendError(f"--via {via!r}: expected swap or onnx")
    from opswap.text import printable
    from opswap.verify import parse_input_shapes

    parse_input_shapes(input_shape or [])
    lower_to = _opset_choice(lower_opset)
    _guard_output(spec, output, weights=weights)
    if target is None and (allow_approx or lower_to is not None):
        raise FrontendError("--allow-approx and --lower-opset apply to an export for a target: add --target")
    if target is None:
        model = _open(spec, weights, opset, input_shape)
        save(model, output)
        nodes = len(model.proto.graph.node)
        out.print(f"Wrote {printable(output)} (opset {model.opset}, {nodes} nodes)", markup=False, soft_wrap=True)
        return
    from opswap.export import export_for_target
    from opswap.targets import load_target

    profile = _say_resolved(load_target(target))
    shape = next(iter(parse_input_shapes(input_shape).values())) if input_shape else None
    with err.status(f"Building, {'swapping and ' if via == 'swap' else ''}exporting {escape(spec)} …"):
        result = export_for_target(
            spec,
            profile,
            output,
            via=via,
            dynamo=dynamo,
            weights=weights,
            input_shape=shape,
            opset=opset,
            allow_approx=allow_approx,
            lower_opset=lower_to,
        )
    _finish(result, format, lambda: rp.print_export(out, result), result.ok)


@targets_app.callback()
def targets(ctx: typer.Context, format: FormatOpt = Format.text) -> None:
    """List the shipped target profiles."""
    if ctx.invoked_subcommand is not None:
        return
    from opswap import report as rp
    from opswap.targets import aliases, builtin_names, load_target

    profiles = [load_target(name) for name in builtin_names()]
    other_names = aliases()
    if format is Format.json:
        rp.print_json(
            out,
            {"schema": schema_id("targets"), "targets": [t.to_dict() for t in profiles], "aliases": other_names},
        )
    else:
        rp.print_targets(out, profiles)
        listed = ", ".join(f"{n} (= {a['profile']}, {a['converter']})" for n, a in other_names.items())
        out.print(f"Also: {listed}", markup=False)


@targets_app.command("show")
def targets_show(
    target: Annotated[str, typer.Argument(help="A shipped profile name or a .toml path.")],
    format: FormatOpt = Format.text,
) -> None:
    """Show one profile: its source and every op it accepts."""
    from opswap import report as rp
    from opswap.targets import load_target

    profile = _say_resolved(load_target(target))
    if format is Format.json:
        rp.print_json(out, {"schema": schema_id("target"), **profile.to_dict()})
        return
    rp.print_targets(out, [profile])
    for (domain, op_type), entry in sorted(profile.ops.items()):
        versions = "all versions" if entry.opsets is None else "versions " + ", ".join(map(str, entry.opsets))
        extras = []
        if entry.attributes:
            extras.append("; ".join(f"{k} in {list(v)}" for k, v in entry.attributes.items()))
        if entry.static_inputs:
            extras.append(f"constant inputs {list(entry.static_inputs)}")
        if entry.note:
            extras.append(f"note: {entry.note}")
        name = f"{domain}:{op_type}" if domain else op_type
        out.print(f"  {name:<24} {versions}" + ("  — " + " | ".join(extras) if extras else ""), markup=False)


@targets_app.command("diff")
def targets_diff(
    old: Annotated[str, typer.Argument(help="A profile name or .toml path.")],
    new: Annotated[str, typer.Argument(help="Another profile name or .toml path.")],
    format: FormatOpt = Format.text,
) -> None:
    """What changed between two profiles: ops added, removed, and changed."""
    from opswap import report as rp
    from opswap.targets import diff_targets, load_target

    a, b = load_target(old), load_target(new)
    changes = diff_targets(a, b)
    if format is Format.json:
        rp.print_json(out, {"schema": schema_id("target-diff"), "from": a.name, "to": b.name, **changes})
        return
    out.print(f"{a.name} ({len(a.ops)} ops) -> {b.name} ({len(b.ops)} ops)", markup=False)
    for label, key in (("added", "added"), ("removed", "removed")):
        out.print(f"{label} ({len(changes[key])}): {', '.join(changes[key]) or '-'}", markup=False)
    out.print(f"changed ({len(changes['changed'])}):", markup=False)
    for line in changes["changed"]:
        out.print(f"  {line}", markup=False)


@app.command()
def rules(
    format: FormatOpt = Format.text,
    certify: Annotated[
        bool, typer.Option(help="Measure unary rules against ONNX Runtime's kernels (max ULP difference).")
    ] = False,
    full: Annotated[bool, typer.Option(help="With --certify: all 2^32 float32 inputs (minutes per rule).")] = False,
    samples: Annotated[int, typer.Option(help="With --certify: random float32 inputs per rule.")] = 1 << 20,
    write: Annotated[
        Path | None,
        typer.Option(help="With --certify: write the certificates to this JSON file (merged into it with --rule)."),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--rule",
            metavar="ID[,ID...]",
            help="Only these rule ids: ID,ID,... or the option repeated (--certify too).",
        ),
    ] = None,
    op: Annotated[
        list[str] | None,
        typer.Option("--op", metavar="OP[,OP...]", help="Only rules for these ops: OP,OP,... or the option repeated."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Only rules for ops this target lacks (what fix may use for it; routes may chain)."
        ),
    ] = None,
) -> None:
    """List every rule: source op, ops produced, exact or its bound, and its certificate."""
    from opswap import catalogue
    from opswap import report as rp

    only = _listed(only)
    ops = _listed(op)
    lacking = _say_resolved(_load_target(target)) if target is not None else None
    certificates: dict[str, Mapping[str, Any]] = dict(catalogue.certificates())
    if certify:
        import json
        from datetime import date

        import onnxruntime

        from opswap import certify as cert

        unary = cert.unary_rules()
        if only:
            unknown = sorted(set(only) - {r.id for r in unary})
            if unknown:
                from opswap.errors import OpswapError

                raise OpswapError(f"--rule: not a unary rule that can be certified: {', '.join(unknown)}")
            unary = [r for r in unary if r.id in only]
        chunks = (1 << 32) // cert.CHUNK if full else max(1, -(-samples // cert.CHUNK))
        with rp.progress(err) as stage:
            advance = stage("certify", len(unary) * chunks)
            fresh = [cert.certify(r, full=full, samples=samples, on_chunk=advance) for r in unary]
        fresh_by_rule: dict[str, Mapping[str, Any]] = {f.rule: f.to_dict() for f in fresh}
        certificates = {**certificates, **fresh_by_rule} if only else fresh_by_rule
        if write is not None:
            payload = {
                "measured": date.today().isoformat(),
                "onnxruntime": onnxruntime.__version__,
                "opset": cert.ORT_OPSET,
                "certificates": sorted(certificates.values(), key=lambda c: str(c["rule"])),
            }
            from opswap.model import atomic_write_text

            atomic_write_text(write, json.dumps(payload, indent=1) + "\n")
    rows: list[dict[str, Any]] = [
        {**r, "certificate": certificates.get(r["id"])}
        for r in catalogue.rows()
        if (not only or r["id"] in only)
        and (not ops or r["op_type"] in ops)
        and (lacking is None or (r["domain"], r["op_type"]) not in lacking.ops)
    ]
    if not rows and (only or ops or lacking is not None):
        from opswap.errors import OpswapError

        raise OpswapError("no rule matches --rule, --op and --target together")
    if format is Format.json:
        rp.print_json(out, {"schema": schema_id("rules"), "rules": rows})
        return
    rp.print_rules(out, rows)


def _listed(values: list[str] | None) -> list[str]:
    """Items of a list option, given as comma lists, repeated, or both (``--op A,B --op C``)."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def _load_target(name: str) -> Any:
    from opswap.targets import load_target

    return load_target(name)


def main() -> None:
    """Entry point: run the app, turning opswap's errors into one line and exit code 2."""
    import signal

    from opswap.errors import OpswapError
    from opswap.text import printable

    signal.signal(signal.SIGTERM, _terminated)
    try:
        command = typer.main.get_command(app)
        _plain_flags(command)
        command()
    except OpswapError as exc:
        message = printable(" ".join(str(exc).split()))
        sys.stderr.write(f"opswap: {message}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("opswap: interrupted\n")
        sys.exit(130)
    except Terminated:
        sys.stderr.write("opswap: terminated\n")
        sys.exit(143)
    except Exception as exc:
        if os.environ.get("OPSWAP_DEBUG"):
            raise
        first = printable(" ".join(str(exc).split()))
        sys.stderr.write(
            f"opswap: internal error: {type(exc).__name__}: {first} (OPSWAP_DEBUG=1 shows the traceback)\n"
        )
        sys.exit(3)


def _plain_flags(command: Any) -> None:
    """Show in --help what a parameter takes, not its Python type.

    Flags take no value (``--verbose``, ``--help``): no ``<bool>`` or ``<int>``; a list argument says
    ``MODELS...`` itself: no ``<list[str]>``.
    """
    help_option = command.get_help_option(typer.Context(command))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if param.param_type_name == "option" and (getattr(param, "is_flag", False) or getattr(param, "count", False)):
            param.metavar = ""
        elif param.param_type_name == "argument" and param.nargs != 1:
            param.display_type_rich = lambda ctx: None  # "MODELS..." says it: not <list[str]>
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)


class Terminated(BaseException):
    """SIGTERM arrived: unwound like Ctrl-C, so writes in progress remove their temporary files."""


def _terminated(signum: int, frame: object) -> None:
    del signum, frame
    from opswap.model import remove_temporary_files

    remove_temporary_files()  # also where the signal lands outside any write's cleanup block
    raise Terminated
