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

import datetime
import json
import shlex
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from opswap.errors import OpswapError
from opswap.model import atomic_write_text, from_proto
from opswap.opsets import LoweringError, lower
from opswap.schemas import since_version
from opswap.targets import Target, load_target

#: Opsets a rejected test is retried at (when the op exists there).
RETRY_OPSETS = (17, 13, 11)
#: Tolerance for "computes right": ONNX's backend tests use rtol 1e-3, atol 1e-7; converters get more room.
RTOL, ATOL = 1e-3, 1e-4

Outcome = str  # "accepted", "rejected", "wrong"


@dataclass
class OpResult:
    """What the converter did with one op's node tests."""

    op_type: str
    tests: int = 0
    accepted: int = 0
    wrong: int = 0
    versions: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def supported(self) -> bool:
        """At least one test converted and computed right, and none converted to something wrong."""
        return self.accepted > 0 and self.wrong == 0


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
            "# outputs (where the converter's runtime was at hand). Versions are the ones that passed;",
            "# other versions were not tried, so they only warn.",
            "",
            "[target]",
            f"name = {json.dumps(name)}",
            f"description = {json.dumps(f'{self.converter} {self.version}, as probed')}",
            f"source = {json.dumps(f'opswap probe of {tested}')}",
            f"converter = {json.dumps(self.converter)}",
            'unlisted_opset = "warning"',
        ]
        for op in sorted(self.ops):
            result = self.ops[op]
            if result.supported:
                lines += ["", f"[ops.{op}]", f"opsets = {json.dumps(sorted(result.versions))}"]
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
            "converter": self.converter,
            "version": self.version,
            "ops": {
                op: {
                    "tests": r.tests,
                    "accepted": r.accepted,
                    "wrong": r.wrong,
                    "versions": sorted(r.versions),
                    "supported": r.supported,
                    "notes": r.notes[:3],
                }
                for op, r in sorted(self.ops.items())
            },
        }


# --- converters ---------------------------------------------------------------------------------

#: Tries one model: returns "accepted", "rejected" or "wrong", and a note.
Trial = Callable[[onnx.ModelProto, list[tuple[dict[str, np.ndarray], list[np.ndarray]]]], tuple[Outcome, str]]


def _openvino() -> tuple[Trial, str]:
    import openvino as ov

    core = ov.Core()

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        with tempfile.TemporaryDirectory(prefix="opswap-probe-") as tmp:
            path = Path(tmp) / "model.onnx"
            onnx.save(model, str(path))
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
            module = onnx2torch.convert(model)
        except Exception as exc:  # onnx2torch raises NotImplementedError, KeyError, ...
            return "rejected", _first(exc)
        names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        for inputs, expected in data:
            try:
                with torch.no_grad():
                    out = module(*[torch.from_numpy(np.array(inputs[n])) for n in names])
            except Exception as exc:
                return "wrong", f"converted, but running it failed: {_first(exc)}"
            outs = out if isinstance(out, (tuple, list)) else [out]
            if not _close(expected, [o.numpy() for o in outs]):
                return "wrong", "outputs differ from the test's"
        return "accepted", ""

    return trial, importlib.metadata.version("onnx2torch")


def _ort_mobile(target_name: str) -> tuple[Trial, str]:
    import onnxruntime

    from opswap.converters.ort_mobile import partitions

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        del data
        with tempfile.TemporaryDirectory(prefix="opswap-probe-") as tmp:
            path = Path(tmp) / "model.onnx"
            onnx.save(model, str(path))
            try:
                found = partitions(path, target_name)
            except Exception as exc:
                return "rejected", _first(exc)
        core = [n for n in model.graph.node if n.op_type != "Constant"]
        return ("accepted", "") if found.supported_nodes >= len(core) and found.partitions == 1 else ("rejected", "")

    return trial, f"onnxruntime {onnxruntime.__version__}"


def _command(template: str) -> tuple[Trial, str]:
    words = shlex.split(template)
    if "{input}" not in " ".join(words):
        raise OpswapError(f"--converter {template!r}: the command needs an {{input}} placeholder")

    def trial(
        model: onnx.ModelProto, data: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]
    ) -> tuple[Outcome, str]:
        del data
        with tempfile.TemporaryDirectory(prefix="opswap-probe-") as tmp:
            source, target = Path(tmp) / "model.onnx", Path(tmp) / "converted"
            onnx.save(model, str(source))
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


def trial_for(converter: str) -> tuple[Trial, str, str]:
    """The trial function for a converter name or command template, its version, and its name."""
    if converter == "openvino":
        trial, version = _openvino()
        return trial, version, "openvino"
    if converter == "onnx2torch":
        trial, version = _onnx2torch()
        return trial, version, "onnx2torch"
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


# --- the probe ------------------------------------------------------------------------------------


def node_tests(
    ops: set[str] | None,
) -> Iterator[tuple[str, onnx.ModelProto, list[tuple[dict[str, np.ndarray], list[np.ndarray]]]]]:
    """Single-op node tests from the onnx wheel: (op, model, [(inputs, expected outputs)])."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases()
    for case in cases:
        model = case.model
        if model is None or "expanded" in case.name or not case.data_sets:
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
            yield op, model, data


def probe(converter: str, ops: set[str] | None = None, on_test: Callable[[], None] | None = None) -> ProbeReport:
    """Run the node tests of ``ops`` (all when None) through ``converter``."""
    trial, version, name = trial_for(converter)
    results: dict[str, OpResult] = {}
    for op, model, data in node_tests(ops):
        result = results.setdefault(op, OpResult(op))
        result.tests += 1
        for variant, opset in _variants(model):
            outcome, note = trial(variant, data)
            if outcome == "accepted":
                result.accepted += 1
                version_then = since_version(op, "", opset)
                if version_then is not None:
                    result.versions.add(version_then)
                break
            if outcome == "wrong":
                result.wrong += 1
            if note:
                result.notes.append(note)
        if on_test is not None:
            on_test()
    return ProbeReport(name, version, results)


def _variants(model: onnx.ModelProto) -> Iterator[tuple[onnx.ModelProto, int]]:
    opset = next(int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx"))
    yield model, opset
    for lower_opset in RETRY_OPSETS:
        if lower_opset >= opset:
            continue
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        wrapped = from_proto(copy)
        try:
            lower(wrapped, lower_opset)
        except (LoweringError, OpswapError):
            continue
        yield wrapped.proto, lower_opset


def _close(expected: list[np.ndarray], actual: list[Any]) -> bool:
    if len(actual) < len(expected):
        return False
    for want, raw in zip(expected, actual, strict=False):
        got = np.asarray(raw)
        if want.dtype.name == "bfloat16":
            continue  # runtimes hand bfloat16 back in other array types; not compared
        if want.shape != got.shape:
            return False
        if want.dtype.kind in "fc":
            if not np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=RTOL, atol=ATOL, equal_nan=True):
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
