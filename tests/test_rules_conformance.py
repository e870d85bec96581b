"""Every rule against ONNX's own node tests of its source op.

For each node test containing the op: legalize it for a target that lacks the op, require the result
to be legal and valid, run it with ONNX Runtime, and compare with the test's expected outputs at the
tolerances ONNX's backend tests use. The rewrite is also compared with ORT's own kernel for the op:
exact rules must agree to within 2 ULP (float32: Mul then Add, as the kernel evaluates them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import opswap
from conftest import node_tests_of, ort_run, read_test_data
from opswap.targets.profile import parse_profile

# A bare target: elementwise primitives only, no Clip, no HardSigmoid, no HardSwish.
BARE = parse_profile(
    """
    [target]
    name = "bare"
    source = "test: primitive elementwise ops only"
    [ops.Add]
    [ops.Mul]
    [ops.Min]
    [ops.Max]
    """,
    "bare.toml",
)


def _cases() -> list[tuple[str, Path]]:
    from opswap.rules import all_rules

    ops = sorted({r.op_type for r in all_rules()})
    return [(op, case) for op in ops for case in node_tests_of(op)]


CASES = _cases()


def test_every_rule_source_op_has_node_tests() -> None:
    from opswap.rules import all_rules

    covered = {op for op, _ in CASES}
    assert covered == {r.op_type for r in all_rules()}
    print(f"\nconformance: {len(CASES)} node tests over {len(covered)} ops: {sorted(covered)}")


def _ulp_distance(a: np.ndarray, b: np.ndarray) -> int:
    if a.dtype != np.float32:
        return 0 if np.array_equal(a, b) else int(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))) > 0)
    ia, ib = a.view(np.int32).astype(np.int64), b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, np.int64(-(2**31)) - ia, ia)
    ib = np.where(ib < 0, np.int64(-(2**31)) - ib, ib)
    return int(np.max(np.abs(ia - ib))) if a.size else 0


@pytest.mark.parametrize("target_name", ["snpe-2.7", "bare"])
@pytest.mark.parametrize(("op_type", "case"), CASES, ids=[f"{op}-{c.name}" for op, c in CASES])
def test_rule_matches_onnx_node_test(op_type: str, case: Path, target_name: str) -> None:
    target = BARE if target_name == "bare" else opswap.load_target(target_name)
    assert target.support(op_type) is None, "the target must lack the op under test"
    original = onnx.load(str(case / "model.onnx"))
    model = opswap.load(case / "model.onnx")
    changes = opswap.legalize(model, target)

    assert changes.complete, [u.explanation for u in changes.unresolved]
    assert opswap.check(model, target).legal
    assert op_type not in {n.op_type for n in model.proto.graph.node}
    onnx.checker.check_model(model.proto, full_check=True)

    tolerance = json.loads((case / "tolerance.json").read_text())
    for inputs, expected in read_test_data(case, original):
        actual = ort_run(model.proto, inputs)
        for want, got in zip(expected, actual, strict=True):
            np.testing.assert_allclose(got, want, rtol=tolerance["rtol"], atol=tolerance["atol"])
        kernel = ort_run(original, inputs)
        for want, got in zip(kernel, actual, strict=True):
            assert _ulp_distance(want, got) <= 2, "exact rule differs from ORT's kernel by more than 2 ULP"


@pytest.mark.parametrize(
    ("op_type", "attrs"), [("HardSwish", {}), ("HardSigmoid", {}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.7})]
)
@pytest.mark.parametrize("target_name", ["snpe-2.7", "bare"])
def test_rule_is_bit_exact_against_ort_kernel(op_type: str, attrs: dict[str, float], target_name: str) -> None:
    """A dense float32 sweep through both kinks and the saturated tails: 0 ULP from ORT's own kernel."""
    from onnx import helper

    from conftest import make_model, tensor

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [np.linspace(-8, 8, 200_001, dtype=np.float32), (rng.standard_normal(100_000) * 10).astype(np.float32)]
    )
    original = make_model(
        [helper.make_node(op_type, ["x"], ["y"], **attrs)], [tensor("x", [x.size])], [tensor("y", [x.size])]
    )
    model = opswap.model.from_proto(original)
    opswap.legalize(model, BARE if target_name == "bare" else opswap.load_target(target_name))
    assert op_type not in {n.op_type for n in model.proto.graph.node}
    (want,) = ort_run(original, {"x": x})
    (got,) = ort_run(model.proto, {"x": x})
    assert _ulp_distance(want, got) == 0
