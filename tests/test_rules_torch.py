"""The ONNX rules run on torch tensors (the PyTorch path), held to ONNX's own node tests.

The same routes the ONNX path plans (``legalize.plan_node``) are replayed with ``TorchBuilder`` on
each single-node test of every op some rule rewrites, for the bare profile and for "every op but this
one"; the torch results must match the tests' expected outputs at the backend tests' tolerances.
Where no route exists, or torch has no form of an op or element type, that is counted and named.
"""

from __future__ import annotations

import collections
import functools
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from conftest import node_tests_of, read_test_data
from opswap.rules import all_rules

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from opswap.frontends.torch_ops import TorchLacksOp, onnx_dtype, replay  # noqa: E402
from opswap.legalize import DeadEnd, plan_node  # noqa: E402
from opswap.rules.values import RuleNotApplicable, Value  # noqa: E402
from test_rules_conformance import BARE, everything_but  # noqa: E402

#: Single-node tests whose route torch reproduces (745 when written): the floor only rises.
MIN_PASSED = 745

#: Tests with a route that torch cannot compute (an op or element type ``TORCH_OPS`` lacks: 91 when
#: written, mostly uint and bfloat16 inputs, and Pad): the ceiling only falls.
MAX_TORCH_LACKS = 91


def _outcome(op_type: str, case: Path, target_name: str) -> tuple[str, str]:
    model = onnx.load(str(case / "model.onnx"))
    graph = model.graph
    if len(graph.node) != 1 or [i.name for i in graph.input] != [i for i in graph.node[0].input if i]:
        return "other", ""  # another op's test, or an expanded one
    node = graph.node[0]
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    target = BARE if target_name == "bare" else everything_but(op_type)
    tolerance = json.loads((case / "tolerance.json").read_text())
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    for inputs, expected in read_test_data(case, model):
        try:
            tensors = [torch.from_numpy(np.array(inputs[name], copy=True)) if name else None for name in node.input]
            values = [
                Value(name, onnx_dtype(t.dtype), tuple(t.shape)) if t is not None else None
                for name, t in zip(node.input, tensors, strict=True)
            ]
        except (TorchLacksOp, TypeError) as exc:  # element types torch has no form of (bfloat16 from numpy)
            return "torch lacks", str(exc).split(".")[0][:80]
        plan = plan_node(op_type, values, attrs, len(node.output), opset, target, allow_approx=True)
        if plan.route is None:
            return "legal", ""
        if isinstance(plan.route, DeadEnd):
            return "no route", plan.route.explain().splitlines()[0][:160]
        try:
            got = replay(plan.route, plan.node, plan.inputs, tensors, opset)
        except TorchLacksOp as exc:
            return "torch lacks", str(exc)
        except RuleNotApplicable as exc:
            return "error", f"the planned route does not replay: {exc}"
        except Exception as exc:  # a crash is reported with the case, and fails the test below
            return "error", f"{plan.route.describe()}: {type(exc).__name__}: {exc}"[:300]
        named = dict(zip(node.output, got, strict=True))
        for want, info in zip(expected, graph.output, strict=True):
            actual = named[info.name].detach().numpy()
            try:
                np.testing.assert_allclose(actual, want, rtol=tolerance["rtol"], atol=tolerance["atol"])
            except (AssertionError, TypeError, ValueError) as exc:
                if _within_a_float16_step(actual, want, tolerance):
                    return "float16 rounding", plan.route.describe()
                return "mismatch", f"{plan.route.describe()}: {str(exc).strip().splitlines()[-1][:200]}"
    return "passed", ""


def _within_a_float16_step(actual: np.ndarray, want: np.ndarray, tolerance: dict[str, float]) -> bool:
    """A float16 result off by at most one float16 step beyond the tolerance.

    torch's CPU kernels round every float16 op to float16, as ONNX defines it; ONNX's expected
    outputs were computed in float32 and rounded once. Counted and named, not passed.
    """
    if want.dtype != np.float16 or actual.shape != want.shape:
        return False
    step = np.spacing(np.abs(want)).astype(np.float32)
    allowed = tolerance["atol"] + tolerance["rtol"] * np.abs(want.astype(np.float32)) + step
    return bool(np.all(np.abs(actual.astype(np.float32) - want.astype(np.float32)) <= allowed))


@functools.cache
def _summary() -> dict[str, list[str]]:
    found: dict[str, list[str]] = collections.defaultdict(list)
    for op_type in sorted({r.op_type for r in all_rules()}):
        for case in node_tests_of(op_type):
            for target_name in ("bare", "all-but-op"):
                status, detail = _outcome(op_type, case, target_name)
                if status == "other":
                    break
                found[status].append(f"{case.name} [{target_name}] {detail}".strip())
    return found


def test_routes_replayed_in_torch_reproduce_onnx_node_tests(capsys: pytest.CaptureFixture[str]) -> None:
    found = _summary()
    with capsys.disabled():
        counts = ", ".join(f"{status} {len(cases)}" for status, cases in sorted(found.items()))
        print(f"\nrules on torch tensors, ONNX node tests: {counts}")
        lacks = collections.Counter(c.split("] ", 1)[-1] for c in found.get("torch lacks", []))
        print(f"torch lacks: {dict(lacks.most_common())}")
    wrong = found.get("mismatch", []) + found.get("error", [])
    assert not wrong, "\n".join(wrong[:40])
    assert len(found["passed"]) >= MIN_PASSED
    assert len(found.get("torch lacks", [])) <= MAX_TORCH_LACKS


def test_a_multi_step_route_runs_in_torch_as_planned() -> None:
    """HardSwish on SNPE 2.7 plans two rules; the torch replay computes HardSwish with them."""
    from opswap.targets import load_target

    x = torch.linspace(-5, 5, 2 * 8 * 9).reshape(2, 8, 9).to(torch.float32)
    plan = plan_node("HardSwish", [Value("x", onnx.TensorProto.FLOAT, (2, 8, 9))], {}, 1, 14, load_target("snpe-2.7"))
    assert not isinstance(plan.route, DeadEnd) and plan.route is not None
    assert " > " in plan.route.describe()
    (got,) = replay(plan.route, plan.node, plan.inputs, [x], 14)
    assert got is not None
    np.testing.assert_allclose(got.numpy(), torch.nn.functional.hardswish(x).numpy(), rtol=1e-6, atol=1e-7)


def test_a_layer_with_no_legal_route_is_left_to_the_onnx_fix() -> None:
    """An op with no exact route on the target (Gelu on the bare profile) says so; it is not computed some other way."""
    from opswap.frontends.torch_ops import Legalizer, NoLegalRoute

    legalizer = Legalizer(BARE, 20)
    with pytest.raises(NoLegalRoute, match="Gelu"):
        legalizer.run(lambda op, x: op.Gelu(x), [torch.randn(2, 3)], 20)
