"""Probing a converter: which ONNX ops does it really accept, and compute right?

Each of ONNX's node tests (generated in memory from the onnx wheel's test cases) is one small model
with inputs and expected outputs. ``probe`` hands each to the converter; a test that is rejected is
tried again at lower opsets (opswap's own lowering) so that an op is not marked unsupported for its
version alone, and the versions that passed are recorded. Where the converter's runtime is at hand
(OpenVINO, onnx2torch's torch module), the converted model runs on the test inputs, and an op that
converts but computes wrong counts as unsupported. The result is a profile, with the converter's
version and the date.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import shlex
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from opswap.errors import OpswapError
from opswap.jsonout import schema_id
from opswap.model import atomic_write_text, from_proto
from opswap.opsets import LOWEST, LoweringError, lower
from opswap.schemas import since_version
from opswap.targets import Target, load_target
from opswap.targets.profile import plain

#: Tolerance for "computes right": ONNX's backend tests use rtol 1e-3, atol 1e-7; converters get more room.
RTOL, ATOL = 1e-3, 1e-4

#: "accepted"; "rejected" (not converted, or the runtime cannot run the result, e.g. for a dtype);
#: "wrong" (converted and ran, but the outputs differ from the test's: this vetoes the op).
Outcome = str

#: Model opsets every rejected test is also retried at.
MODEL_OPSETS = (17, 13, 11)

#: What the in-process converters write.
SUFFIXES = {"openvino": ".xml", "onnx2torch": ".pt", "mnn": ".mnn", "qnn-htp": ".dlc"}


@dataclass
class _AttributeTrials:
    default: Any
    default_passed: bool = False
    other_passed: bool = False
    other_failed: bool = False


@dataclass
class OpResult:
    """What the converter did with one op's node tests."""

    op_type: str
    tests: int = 0
    accepted: int = 0
    wrong: int = 0
    versions: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    #: Node tests that converted but computed wrong in every form tried.
    wrong_tests: list[str] = field(default_factory=list)
    #: Tests that passed only with their secondary inputs constant, and those passing as generated.
    const_only: int = 0
    as_generated: int = 0
    #: Input positions made constant in the const-only tests.
    const_positions: set[int] = field(default_factory=set)
    #: Judged from a one-node common form, not node tests (see ``ONE_NODE_FORMS``).
    one_node: bool = False
    #: Per attribute the tests set: its default value, and whether tests passed or failed with it at
    #: the default and away from it (see ``attribute_limits``).
    attribute_trials: dict[str, _AttributeTrials] = field(default_factory=dict)

    @property
    def attribute_limits(self) -> dict[str, Any]:
        """Attributes that convert only at their default: some test passed there, every test away failed.

        A controlled reading of what the node tests vary (Selu's alpha and gamma for onnx2torch, which
        accepts only the defaults); a value no passing test used but that some passing test
        varied is not a limit.
        """
        return {
            name: trials.default
            for name, trials in sorted(self.attribute_trials.items())
            if trials.default_passed and trials.other_failed and not trials.other_passed
        }

    @property
    def supported(self) -> bool:
        """Some configuration converted and computed right."""
        return self.accepted > 0

    #: A test computed wrong with its secondary inputs computed, and right with them constant.
    wrong_unless_constant: bool = False

    @property
    def static_inputs(self) -> list[int]:
        """Inputs that must be constant: no test passed with them computed, or one computed wrong then."""
        needed = (self.const_only and not self.as_generated) or self.wrong_unless_constant
        return sorted(self.const_positions) if needed else []


@dataclass
class ProbeReport:
    """Per op, what the converter accepted."""

    converter: str
    version: str
    ops: dict[str, OpResult]

    def profile_toml(self, name: str) -> str:
        """The accepted ops as a profile."""
        today = datetime.date.today().isoformat()
        tested = f"{self.converter} {self.version} on onnx {onnx.__version__} node tests, {today}"
        lines = [
            f"# Probed by opswap: {tested}.",
            "# An op is listed when at least one of its node tests converted and none converted to wrong",
            "# outputs (where the converter's runtime was at hand). Versions are the ones that passed (each",
            "# test as generated and lowered to each older version of its op); converters reject versions they do not",
            "# know, so other versions are errors, and fix lowers the model's opset to listed ones.",
            "",
            "[target]",
            f"name = {json.dumps(name)}",
            f"description = {json.dumps(f'{self.converter} {self.version}, as probed')}",
            f"source = {json.dumps(f'opswap probe of {tested}')}",
            f"converter = {json.dumps(self.converter)}",
            f"converter_output_suffix = {json.dumps(SUFFIXES.get(self.converter, '.out'))}",
            'unlisted_opset = "error"',
        ]
        for op in sorted(self.ops):
            result = self.ops[op]
            if not result.supported:
                continue
            if result.one_node:
                lines += [
                    "",
                    "# no single-op node test: its common form checked with a one-node graph (probe.ONE_NODE_FORMS)",
                ]
                lines += [f"[ops.{op}]", f"opsets = {json.dumps(sorted(result.versions))}"]
            else:
                lines += ["", f"[ops.{op}]", f"opsets = {json.dumps(sorted(result.versions))}"]
            if result.static_inputs:
                lines.append(f"static_inputs = {json.dumps(result.static_inputs)}")
            limits = result.attribute_limits
            if limits:
                shown = ", ".join(f"{name} = [{json.dumps(value)}]" for name, value in limits.items())
                lines.append(f"attributes = {{ {shown} }}")
                varied = ", ".join(limits)
                lines.append(f"# attributes: only the default converted in the node tests that vary {varied}")
            if result.wrong_tests:
                tests = ", ".join(result.wrong_tests[:6]) + (", ..." if len(result.wrong_tests) > 6 else "")
                lines.append(f"note = {json.dumps(f'converts but computes wrong in ONNX node tests {tests}')}")
        return "\n".join(lines) + "\n"

    def compare(self, target: Target) -> dict[str, list[str]]:
        """Where a shipped profile disagrees with the probe, over the probed ops."""
        probed = set(self.ops)
        listed = {op for (domain, op) in target.ops if domain == ""} & probed
        accepted = {op for op, r in self.ops.items() if r.supported}
        return {
            "accepted_but_not_listed": sorted(accepted - listed),
            "listed_but_rejected": sorted(listed - accepted),
            "agree": sorted(probed - (accepted ^ listed)),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "schema": schema_id("probe"),
            "converter": self.converter,
            "version": self.version,
            "ops": {
                op: {
                    "tests": r.tests,
                    "accepted": r.accepted,
                    "wrong": r.wrong,
                    "versions": sorted(r.versions),
                    "supported": r.supported,
                    "static_inputs": r.static_inputs,
                    "wrong_tests": r.wrong_tests,
                    "notes": r.notes[:3],
                }
                for op, r in sorted(self.ops.items())
            },
        }


@contextlib.contextmanager
def _model_file(model: onnx.ModelProto) -> Iterator[Path]:
    """``model`` saved as ``model.onnx`` in a temporary folder of its own (the converter's outputs go beside it)."""
    with tempfile.TemporaryDirectory(prefix="opswap-probe-") as tmp:
        path = Path(tmp) / "model.onnx"
        onnx.save(model, str(path))
        yield path


# --- converters ---------------------------------------------------------------------------------

#: Tries one model: returns "accepted", "rejected" or "wrong", and a note.
Trial = Callable[[onnx.ModelProto, list[tuple[dict[str, np.ndarray], list[np.ndarray]]]], tuple[Outcome, str]]


def _openvino() -> tuple[Trial, str]:
    from opswap.converters.openvino import import_openvino

    ov = import_openvino()

    core = ov.Core()

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        with _model_file(model) as path:
            try:
                converted = ov.convert_model(str(path))
                compiled = core.compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
            except Exception as exc:  # OpenVINO raises its own types for unsupported ops
                return "rejected", _first(exc)
        for inputs, expected in data:
            try:
                results = compiled.create_infer_request().infer(inputs)
            except Exception as exc:
                return "rejected", _first(exc)
            actual = [results[port] for port in compiled.outputs]
            if not _close(expected, actual):
                return "wrong", "outputs differ from the test's"
        return "accepted", ""

    return trial, ov.__version__


def _onnx2torch() -> tuple[Trial, str]:
    import importlib.metadata

    import onnx2torch
    import torch

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        try:
            module = onnx2torch.convert(model).eval()
        except Exception as exc:  # onnx2torch raises NotImplementedError, KeyError, ...
            return "rejected", _first(exc)
        names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        for inputs, expected in data:
            try:
                with torch.no_grad():
                    out = module(*[torch.from_numpy(np.array(inputs[n])) for n in names])
            except Exception as exc:
                return "rejected", f"converted, but the runtime could not run it: {_first(exc)}"
            outs = out if isinstance(out, (tuple, list)) else [out]
            if not _close(expected, [o.numpy() for o in outs]):
                return "wrong", "outputs differ from the test's"
        return "accepted", ""

    return trial, importlib.metadata.version("onnx2torch")


def _mnn() -> tuple[Trial, str]:
    import importlib.metadata

    from opswap.converters.runtimes import mnn_convert, mnn_run

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        with _model_file(model) as source:
            artifact = source.with_name("model.mnn")
            failed = mnn_convert(source, artifact)
            if failed is not None:
                return "rejected", failed.message
            outputs = [o.name for o in model.graph.output]
            for feed, expected in data:
                try:
                    actual = mnn_run(source, artifact, feed, outputs)
                except (RuntimeError, OSError, KeyError) as exc:
                    return "rejected", f"converted, but the runtime could not run it: {_first(exc)}"
                if not _close(expected, actual):
                    return "wrong", "outputs differ from the test's"
        return "accepted", ""

    return trial, importlib.metadata.version("MNN")


def _ort_mobile(target_name: str) -> tuple[Trial, str]:
    import onnxruntime

    from opswap.converters.ort_mobile import partitions

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        del data
        with _model_file(model) as path:
            try:
                found = partitions(path, target_name)
            except Exception as exc:
                return "rejected", _first(exc)
        core = [n for n in model.graph.node if n.op_type != "Constant"]
        return ("accepted", "") if found.supported_nodes >= len(core) and found.partitions == 1 else ("rejected", "")

    return trial, f"onnxruntime {onnxruntime.__version__}"


#: One op on the HTP in fp16 against the node test's reference: fp16 keeps 11 significant bits (a
#: relative step of 4.9e-4 for one rounding); a few roundings inside one op stay within 1e-2.
HTP_RTOL, HTP_ATOL = 1e-2, 1e-3


def _qnn_htp() -> tuple[Trial, str]:
    """Each test compiled (CPU fallback disabled) and run on the HTP, in a worker: QNN can crash."""
    import importlib.metadata

    from opswap.converters import qnn_htp as htp
    from opswap.converters.runtimes import Worker

    worker = Worker("opswap.converters.qnn_worker")

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        with _model_file(model) as path:
            inputs, outputs = [], []
            for k, (feed, _) in enumerate(data):
                inputs.append(str(path.with_name(f"in{k}.npz")))
                outputs.append(str(path.with_name(f"out{k}.npz")))
                np.savez(inputs[-1], **feed)  # type: ignore[arg-type]  # numpy's stub mistypes **arrays
            answer = worker.ask({"model": str(path), "inputs": inputs, "outputs": outputs})
            if answer.get("died"):
                return "rejected", "the HTP backend crashed on it"
            if not answer.get("ok"):
                return "rejected", str(answer.get("log", ""))[:200]
            for (_, expected), result in zip(data, outputs, strict=True):
                with np.load(result, allow_pickle=False) as saved:
                    actual = [saved[f"out{k}"] for k in range(len(saved.files))]
                floats = [float(np.abs(e).max()) for e in expected if e.dtype.kind == "f" and e.size]
                scale = max([1.0, *floats])
                if not _close(expected, actual, rtol=HTP_RTOL, atol=HTP_ATOL * scale):
                    return "wrong", "outputs differ from the test's at fp16 tolerance"
        return "accepted", ""

    package = importlib.metadata.version("onnxruntime-qnn")
    version = f"onnxruntime-qnn {package} (QNN {htp.qnn_version()}, soc_model {htp.SOC_MODEL}, fp16)"
    return trial, version


def _command(template: str) -> tuple[Trial, str]:
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise OpswapError(f"--converter {template!r}: not a command line ({exc})") from None
    if not words:
        raise OpswapError("--converter: empty command")
    if "{input}" not in " ".join(words):
        raise OpswapError(f"--converter {template!r}: the command needs an {{input}} placeholder")
    if shutil.which(words[0]) is None:
        raise OpswapError(f"--converter {template!r}: {words[0]} is not on PATH, so nothing can be probed")

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        del data
        with _model_file(model) as source:
            target = source.with_name("converted")
            args = [w.replace("{input}", str(source)).replace("{output}", str(target)) for w in words]
            try:
                done = subprocess.run(
                    args, capture_output=True, text=True, timeout=600, check=False, stdin=subprocess.DEVNULL
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return "rejected", _first(exc)
        log = (done.stdout + done.stderr).strip()
        return (
            ("accepted", "")
            if done.returncode == 0
            else ("rejected", log.splitlines()[-1] if log else f"exit {done.returncode}")
        )

    return trial, words[0]


#: The Python package each in-process converter needs.
_PACKAGES = {"openvino": "openvino", "onnx2torch": "onnx2torch", "mnn": "MNN", "qnn-htp": "onnxruntime_qnn"}


def trial_for(converter: str) -> tuple[Trial, str, str]:
    """The trial function for a converter name or command template, its version, and its name."""
    package = _PACKAGES.get(converter)
    if package is not None:
        import importlib.util

        if importlib.util.find_spec(package) is None or (converter == "onnx2torch" and not _has_torch()):
            extra = " torch" if converter == "onnx2torch" else ""
            raise OpswapError(f"--converter {converter}: {package} is not installed (pip install {package}{extra})")
    if converter == "openvino":
        trial, version = _openvino()
        return trial, version, "openvino"
    if converter == "onnx2torch":
        trial, version = _onnx2torch()
        return trial, version, "onnx2torch"
    if converter == "mnn":
        trial, version = _mnn()
        return trial, version, "mnn"
    if converter == "qnn-htp":
        trial, version = _qnn_htp()
        return trial, version, "qnn-htp"
    if converter.startswith("ort-"):
        load_target(converter)  # validates the name
        trial, version = _ort_mobile(converter)
        return trial, version, converter
    if converter in ("snpe", "qnn"):
        profile = load_target("snpe-latest" if converter == "snpe" else "qnn-latest")
        template = " ".join([profile.converter, *profile.converter_args])
        trial, _ = _command(template)
        return trial, profile.converter, profile.converter
    trial, name = _command(converter)
    return trial, "", name


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


# --- the probe ------------------------------------------------------------------------------------


def node_tests(
    ops: set[str] | None,
) -> Iterator[tuple[str, str, onnx.ModelProto, list[tuple[dict[str, np.ndarray], list[np.ndarray]]]]]:
    """Single-op node tests from the onnx wheel: (test name, op, model, [(inputs, expected outputs)])."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases()
    for case in cases:
        model = case.model
        # Expanded tests hold many ops; training-mode tests check random or running-statistics outputs.
        if model is None or "expanded" in case.name or "training" in case.name or not case.data_sets:
            continue
        core = [n for n in model.graph.node if n.op_type != "Constant"]
        if len(core) != 1 or core[0].domain not in ("", "ai.onnx"):
            continue
        op = core[0].op_type
        if ops is not None and op not in ops:
            continue
        if not all(v.type.HasField("tensor_type") for v in (*model.graph.input, *model.graph.output)):
            continue
        data = []
        for inputs, outputs in case.data_sets:
            if not all(isinstance(v, np.ndarray) for v in (*inputs, *outputs)):
                break
            data.append(({i.name: v for i, v in zip(model.graph.input, inputs, strict=False)}, list(outputs)))
        else:
            yield case.name, op, model, data


def probe(
    converter: str,
    ops: set[str] | None = None,
    on_test: Callable[[], None] | None = None,
    trial: tuple[Trial, str, str] | None = None,
) -> ProbeReport:
    """Run the node tests of ``ops`` (all when None) through ``converter``.

    ``trial``: what ``trial_for(converter)`` returned, when the caller has already made it.
    """
    run, version, name = trial if trial is not None else trial_for(converter)
    results: dict[str, OpResult] = {}
    for test_name, op, model, data in node_tests(ops):
        result = results.setdefault(op, OpResult(op))
        result.tests += 1
        passed, wrong, forms, first = False, False, set(), ""
        rejected_forms: list[tuple[onnx.ModelProto, Data]] = []
        for number, (variant, feeds, opset, kind) in enumerate(_variants(op, model, data)):
            version_then = since_version(op, "", opset)
            if number > 0 and version_then in result.versions:
                continue  # a retry at a version that already passed: nothing new to learn
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # converters warn about what they approximate; outcomes count
                outcome, note = run(variant, feeds)
            # Were the secondary inputs constants? (Not in the table-lookup form: its first input is.)
            constant = kind == _SECONDARY_CONSTANT
            first = first or outcome
            if outcome == "accepted":
                passed = True
                forms.add(constant)
                if version_then is not None:
                    result.versions.add(version_then)
                continue
            if outcome == "wrong":
                result.wrong += 1
                wrong = True
            elif number < 3:  # the test as generated and with constant inputs, at its own opset
                rejected_forms.append((variant, feeds))
            if note:
                result.notes.append(note)
        result.accepted += passed
        _record_attributes(result, model, passed, run, rejected_forms[-1] if rejected_forms else None)
        if wrong and not passed:
            result.wrong_tests.append(test_name)
        if passed and False in forms and len(model.graph.input) > 1:
            result.as_generated += 1  # passed with its secondary inputs computed at run time
        elif passed and False not in forms:
            result.const_only += 1
            result.const_positions.update(range(1, len(model.graph.input)))
            result.wrong_unless_constant |= first == "wrong"
        if on_test is not None:
            on_test()
    for op, form in ONE_NODE_FORMS.items():
        if (ops is None or op in ops) and op not in results:
            results[op] = _probe_form(run, op, form)
    return ProbeReport(name, version, results)


#: Ops no single-op node test shows (Constant's test has no other node; Cast's feed types the
#: harness cannot generate): a common form each, as (nodes, reference), run at each model opset.
ONE_NODE_FORMS: dict[str, tuple[Callable[[], list[onnx.NodeProto]], Callable[[np.ndarray], np.ndarray]]] = {
    "Constant": (
        lambda: [
            helper.make_node(
                "Constant", [], ["c"], value=onnx.numpy_helper.from_array(np.full((1, 4), 0.5, np.float32))
            ),
            helper.make_node("Add", ["x", "c"], ["y"]),
        ],
        lambda x: x + np.float32(0.5),
    ),
    "Cast": (
        lambda: [
            helper.make_node("Cast", ["x"], ["i"], to=onnx.TensorProto.INT64),
            helper.make_node("Cast", ["i"], ["y"], to=onnx.TensorProto.FLOAT),
        ],
        lambda x: np.trunc(x).astype(np.float32),
    ),
}


def _probe_form(
    run: Trial, op: str, form: tuple[Callable[[], list[onnx.NodeProto]], Callable[[np.ndarray], np.ndarray]]
) -> OpResult:
    """Run one op's common form (see ``ONE_NODE_FORMS``) at each model opset; what converted right."""
    make_nodes, reference = form
    result = OpResult(op, one_node=True)
    x = (np.random.default_rng(0).standard_normal((2, 4)) * 3).astype(np.float32)
    for opset in MODEL_OPSETS:
        graph = helper.make_graph(
            make_nodes(),
            op,
            [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 4])],
            [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 4])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        result.tests += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome, _ = run(model, [({"x": x}, [reference(x)])])
        if outcome == "accepted":
            result.accepted += 1
            version = since_version(op, "", opset)
            if version is not None:
                result.versions.add(version)
        elif outcome == "wrong":
            result.wrong += 1
    return result


Data = list[tuple[dict[str, np.ndarray], list[np.ndarray]]]


def _record_attributes(
    result: OpResult,
    model: onnx.ModelProto,
    passed: bool,
    run: Trial,
    rejected: tuple[onnx.ModelProto, Data] | None,
) -> None:
    """Note, per attribute the op's schema gives a default, whether this test had it there, and how it went.

    A rejected test counts against an attribute's other values only when the same form converts
    (right or wrong: the expected outputs are for the other values) with its attributes at their
    defaults, and is rejected again with that one attribute back: the attribute is what the
    converter refused, not the test's inputs or types.
    """
    node = next(n for n in model.graph.node if n.op_type == result.op_type)
    opset = next(int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx"))
    since = since_version(result.op_type, "", opset)
    if since is None:
        return
    try:
        schema = onnx.defs.get_schema(result.op_type, since, "")
    except onnx.defs.SchemaError:
        return
    defaults = {name: _default_of(attr) for name, attr in schema.attributes.items() if attr.default_value.name}
    values = {a.name: plain(helper.get_attribute_value(a)) for a in node.attribute if a.name in defaults}
    away = sorted(name for name, value in values.items() if value != defaults[name])
    blamed: set[str] = set()
    # Blamed: the test converts with every such attribute at its default, and not with that one back.
    if not passed and away and rejected is not None and _converts_without(run, rejected, result.op_type, away):
        blamed = {a for a in away if not _converts_without(run, rejected, result.op_type, [b for b in away if b != a])}
    for name, default in defaults.items():
        trials = result.attribute_trials.setdefault(name, _AttributeTrials(default))
        at_default = name not in away
        if passed and at_default:
            trials.default_passed = True
        elif passed:
            trials.other_passed = True
        elif name in blamed:
            trials.other_failed = True


def _converts_without(run: Trial, rejected: tuple[onnx.ModelProto, Data], op: str, names: list[str]) -> bool:
    """Whether a rejected test form converts once attributes ``names`` of its ``op`` node are left out."""
    if not names:
        return False  # the form as it was: rejected
    form, feeds = rejected
    copy = onnx.ModelProto()
    copy.CopyFrom(form)
    node = next(n for n in copy.graph.node if n.op_type == op)
    kept = [a for a in node.attribute if a.name not in names]
    del node.attribute[:]
    node.attribute.extend(kept)
    for output in copy.graph.output:  # the shape may change with the attribute: let the runtime say
        output.type.tensor_type.ClearField("shape")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            outcome, _ = run(copy, feeds)
        except Exception:  # a form that is invalid without the attribute: nothing learned
            return False
    return outcome in ("accepted", "wrong")


def _default_of(attr: Any) -> Any:
    return plain(helper.get_attribute_value(attr.default_value))


#: The forms of a node test: as generated, secondary inputs constant, first input constant.
_GENERATED, _SECONDARY_CONSTANT, _FIRST_CONSTANT = "generated", "secondary constant", "first constant"


def _variants(op: str, model: onnx.ModelProto, data: Data) -> Iterator[tuple[onnx.ModelProto, Data, int, str]]:
    """The test as generated, with its secondary inputs constant, with its first input constant.

    Then each at lower opsets. Yields (model, data, opset, form). Converters often need weights,
    shapes or axes to be constants, which node tests feed as inputs;
    a table lookup (Gather of an embedding, indices computed) has its *first* input constant. The
    lower opsets are every older version of the op (down to opset 11), so each version the
    converter knows is found, and a few common model opsets, since some converters also reject a
    model for its opset alone.
    """
    opset = next(int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx"))
    versions = {v for o in range(LOWEST, opset) if (v := since_version(op, "", o)) is not None and v >= LOWEST}
    older = sorted(versions | set(MODEL_OPSETS), reverse=True)
    forms = [(model, data, _GENERATED)]
    names = [i.name for i in model.graph.input]
    for kind, moved in ((_SECONDARY_CONSTANT, names[1:]), (_FIRST_CONSTANT, names[:1])):
        constant = _with_constant_inputs(model, data, moved) if len(names) > 1 else None
        if constant is not None:
            forms.append((*constant, kind))
    for form, feeds, kind in forms:
        yield form, feeds, opset, kind
    for lower_opset in older:
        if lower_opset >= opset:
            continue
        for form, feeds, kind in forms:
            copy = onnx.ModelProto()
            copy.CopyFrom(form)
            wrapped = from_proto(copy)
            try:
                lower(wrapped, lower_opset)
            except (LoweringError, OpswapError, ValueError, onnx.checker.ValidationError):
                continue  # this test has no form at that opset
            yield wrapped.proto, feeds, lower_opset, kind


def _with_constant_inputs(model: onnx.ModelProto, data: Data, moved: list[str]) -> tuple[onnx.ModelProto, Data] | None:
    """The ``moved`` inputs become initializers holding the first data set's values."""
    if len(model.graph.input) < 2 or len(data) != 1 or not moved:
        return None
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    feed, expected = data[0]
    for name in moved:
        copy.graph.initializer.append(onnx.numpy_helper.from_array(np.asarray(feed[name]), name))
    kept = [i for i in copy.graph.input if i.name not in moved]
    del copy.graph.input[:]
    copy.graph.input.extend(kept)
    return copy, [({i.name: feed[i.name] for i in kept}, expected)]


def _close(expected: list[np.ndarray], actual: list[Any], rtol: float = RTOL, atol: float = ATOL) -> bool:
    if len(actual) < len(expected):
        return False
    for want, raw in zip(expected, actual, strict=False):
        got = np.asarray(raw)
        if want.dtype.name == "bfloat16":
            continue  # runtimes hand bfloat16 back in other array types; not compared
        if want.shape != got.shape:
            return False
        if want.dtype.kind in "fc":
            if not np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True):
                return False
        elif not np.array_equal(got, want):
            return False
    return True


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def write_profile(report: ProbeReport, path: Path, name: str) -> None:
    """Write the probe's profile atomically."""
    atomic_write_text(path, report.profile_toml(name))
