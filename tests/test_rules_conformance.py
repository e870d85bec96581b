"""Every rule against ONNX's own node tests of its source op.

For each op some rule rewrites, every node test containing that op is legalized for a target that
lacks the op (every other ai.onnx op allowed), and separately for a bare profile of primitives. A
route that is found must reproduce the test's expected outputs at the tolerances ONNX's backend tests
use; a wrong result fails. Where no route is found, that is counted and named, not hidden. An op is
*covered* when every one of its node tests is legalized and matches. Tests ORT cannot run even before
rewriting are counted and named.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

import opswap
from conftest import ROOT, make_model, node_tests_of, ort_run, read_test_data, tensor
from opswap.rules import all_rules
from opswap.targets import OpSupport, Target, load_target

#: Ops with every node test legalized and matching: the floor only rises.
MIN_COVERED_OPS = 73

#: Node tests with rewrites whose check after was derived from the legalizer's verdicts (True) or
#: made again (False), counted as the cases run.
DERIVED = {True: 0, False: 0}

#: Node tests with no route found (697 when issue 14 was filed): the ceiling only falls.
MAX_NO_ROUTE = 306


def everything_but(op_type: str) -> Target:
    """Every ai.onnx op at every version, except ``op_type``."""
    ops = {("", s.name): OpSupport(s.name) for s in onnx.defs.get_all_schemas() if s.domain == "" and s.name != op_type}
    return Target(name=f"all-but-{op_type}", description="", source="test", ops=ops)


BARE = load_target(ROOT / "tests" / "data" / "bare.toml")


@dataclasses.dataclass
class Outcome:
    op_type: str
    case: str
    target: str
    #: passed; "no route", "ort cannot run" and "ort lacks a kernel" are counted and named;
    #: mismatch, crash, invalid, undeclared (an op a rule's emits= leaves out) and error fail.
    status: str
    detail: str = ""


def _ulp_distance(a: np.ndarray, b: np.ndarray) -> int:
    ia, ib = a.view(np.int32).astype(np.int64), b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, np.int64(-(2**31)) - ia, ia)
    ib = np.where(ib < 0, np.int64(-(2**31)) - ib, ib)
    return int(np.max(np.abs(ia - ib))) if a.size else 0


DECLARED = {r.id: r.emits for r in all_rules()}


def _undeclared(model: onnx.ModelProto) -> list[str]:
    """Nodes a rule emitted whose op its ``emits=`` does not list (Identity renames and constants are the builder's)."""
    found = []
    for node in model.graph.node:
        rule_id = next((p.value for p in node.metadata_props if p.key == "opswap.rule"), None)
        emits = DECLARED.get(rule_id or "")
        if emits is not None and node.op_type not in emits | {"Identity", "Constant"}:
            found.append(f"{rule_id} emitted {node.op_type}")
    return sorted(set(found))


def run_case(op_type: str, case: Path, target: Target) -> Outcome:
    original = onnx.load(str(case / "model.onnx"))
    data = read_test_data(case, original)
    outcome = functools.partial(Outcome, op_type, case.name, target.name)
    try:
        for inputs, _ in data:
            ort_run(original, inputs)
    except Exception as exc:
        return outcome("ort cannot run", str(exc).splitlines()[0][:160])
    model = opswap.load(case / "model.onnx")
    try:
        changes = opswap.legalize(model, target, allow_approx=True)
    except Exception as exc:
        return outcome("crash", f"legalize raised {type(exc).__name__}: {exc}"[:300])
    undeclared = _undeclared(model.proto)
    if undeclared:
        return outcome("undeclared", f"emitted but not in the rule's emits=: {undeclared}")
    after = opswap.check(model, target)
    if changes.rewrites:
        DERIVED[changes.checked is not None] += 1
    if changes.checked is not None and changes.checked.to_dict() != after.to_dict():
        # The check fix reports, derived from the legalizer's verdicts, must be the model's own check.
        return outcome("derived check differs", f"{changes.checked.to_dict()} != {after.to_dict()}"[:300])
    if not changes.complete:
        return outcome("no route", changes.unresolved[0].explanation.splitlines()[0][:200])
    if not after.legal or op_type in {n.op_type for n in model.proto.graph.node}:
        return outcome("mismatch", "legalize reported success but the model is not legal")
    try:
        onnx.checker.check_model(model.proto, full_check=True)
    except Exception as exc:
        return outcome("invalid", f"{type(exc).__name__}: {exc}"[:300])
    tolerance = json.loads((case / "tolerance.json").read_text())
    for inputs, expected in data:
        try:
            actual = ort_run(model.proto, inputs)
        except Exception as exc:
            # The rewrite passed onnx's full check; ORT only lacks a kernel (old opsets): unverified here.
            status = "ort lacks a kernel" if "NOT_IMPLEMENTED" in str(exc) else "error"
            return outcome(status, f"ORT cannot run the rewritten model: {str(exc).splitlines()[0]}"[:300])
        for want, got in zip(expected, actual, strict=True):
            try:
                np.testing.assert_allclose(got, want, rtol=tolerance["rtol"], atol=tolerance["atol"])
            except AssertionError as exc:
                return outcome("mismatch", str(exc).strip().splitlines()[-1][:200])
    return outcome("passed")


def _cases() -> list[tuple[str, Path]]:
    ops = sorted({r.op_type for r in all_rules()})
    return [(op, case) for op in ops for case in node_tests_of(op)]


CASES = _cases()
COUNTED = ("passed", "no route", "ort cannot run", "ort lacks a kernel")
BARE_CASES = [(op, case) for op, case in CASES if BARE.support(op) is None]


@functools.cache
def outcome_of(op_type: str, case: Path, target_name: str) -> Outcome:
    target = BARE if target_name == "bare" else everything_but(op_type)
    return run_case(op_type, case, target)


@pytest.mark.parametrize(("op_type", "case"), CASES, ids=[f"{op}-{case.name}" for op, case in CASES])
def test_a_found_route_reproduces_onnx_node_test(op_type: str, case: Path) -> None:
    result = outcome_of(op_type, case, "all-but-op")
    assert result.status in COUNTED, f"{result.status}: {result.detail}"


@pytest.mark.parametrize(("op_type", "case"), BARE_CASES, ids=[f"{op}-{case.name}" for op, case in BARE_CASES])
def test_a_route_to_bare_primitives_reproduces_onnx_node_test(op_type: str, case: Path) -> None:
    result = outcome_of(op_type, case, "bare")
    assert result.status in COUNTED, f"{result.status}: {result.detail}"


def test_conformance_summary(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = [outcome_of(op, case, "all-but-op") for op, case in CASES]
    by_op: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_op.setdefault(o.op_type, []).append(o)
    runnable = {op: [o for o in os_ if o.status != "ort cannot run"] for op, os_ in by_op.items()}
    lacking = [o for o in outcomes if o.status == "ort lacks a kernel"]
    covered = sorted(op for op, os_ in runnable.items() if os_ and all(o.status == "passed" for o in os_))
    passed = sum(o.status == "passed" for o in outcomes)
    unrunnable = [o for o in outcomes if o.status == "ort cannot run"]
    no_route = [o for o in outcomes if o.status == "no route"]
    bare = [outcome_of(op, case, "bare") for op, case in BARE_CASES]
    with capsys.disabled():
        print(
            f"\nconformance: {len(outcomes)} node tests of {len(by_op)} ops with rules; "
            f"{passed} passed, {len(no_route)} without a route, {len(unrunnable)} ORT cannot run before rewriting"
        )
        print(f"covered ops ({len(covered)}): {', '.join(covered)}")
        for o in no_route:
            print(f"  no route: {o.case}: {o.detail}")
        for o in lacking:
            print(f"  rewritten, but ORT has no kernel to run it: {o.case}: {o.detail}")
        for o in outcomes:
            if o.status not in COUNTED:
                print(f"  {o.status.upper()}: {o.case}: {o.detail}")
        for o in unrunnable:
            print(f"  ORT cannot run: {o.case}: {o.detail}")
        print(
            f"check after rewriting: derived from the legalizer's verdicts in {DERIVED[True]} rewritten cases "
            f"(each equal to the model's own check), made again in {DERIVED[False]}"
        )
        bare_passed = sum(o.status == "passed" for o in bare)
        bare_ops = sorted({o.op_type for o in bare if o.status == "passed"})
        print(
            f"bare primitives profile ({len(BARE.ops)} ops): {bare_passed} of {len(bare)} node tests of ops it lacks "
            f"legalized and matching, over {len(bare_ops)} ops"
        )
    assert len(covered) >= MIN_COVERED_OPS
    assert DERIVED[True] > DERIVED[False]  # derivation is the common case, and was held to the full check
    assert len(no_route) <= MAX_NO_ROUTE


@pytest.mark.parametrize(
    ("op_type", "attrs"), [("HardSwish", {}), ("HardSigmoid", {}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.7})]
)
@pytest.mark.parametrize("target_name", ["snpe-2.7", "bare"])
def test_rule_is_bit_exact_against_ort_kernel(op_type: str, attrs: dict[str, float], target_name: str) -> None:
    """A dense float32 sweep through both kinks and the saturated tails: 0 ULP from ORT's own kernel."""
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


def test_an_op_a_rule_did_not_declare_is_caught() -> None:
    """The check behind the "undeclared" outcome: a node's op must be in its rule's emits=."""
    nodes = [helper.make_node("Mul", ["x", "x"], ["m"]), helper.make_node("Sub", ["m", "x"], ["y"])]
    for node in nodes:
        node.metadata_props.add(key="opswap.rule", value="hardsigmoid_via_clip")  # emits Add, Clip, Mul
    model = make_model(nodes, [tensor("x", [2])], [tensor("y", [2])])
    assert _undeclared(model) == ["hardsigmoid_via_clip emitted Sub"]


def test_a_rule_must_declare_what_it_emits() -> None:
    from opswap.rules.base import rule

    with pytest.raises(TypeError, match="emits"):
        rule("Relu")  # type: ignore[call-arg]
