"""The check fix reports after rewriting is derived from the legalizer's verdicts: it must be the model's own.

The conformance suite holds the two equal on ONNX's node tests (test_rules_conformance); here, real
models over every shipped target, unnamed nodes whose labels move, subgraphs, and the cases where
deriving would not be sound and the model is checked again.
"""

from __future__ import annotations

import onnx
import pytest
from onnx import helper

import opswap
from conftest import hardswish_model, make_model, target_of, tensor
from opswap.check import check
from opswap.legalize import legalize
from opswap.model import Model
from opswap.targets import builtin_names, load_target
from opswap.targets.profile import parse_profile


def _profile(body: str) -> object:
    return parse_profile(f'[target]\nname = "t"\nsource = "test"\n{body}', "t.toml")


def _legalized(proto: onnx.ModelProto, target: object) -> tuple[object, object]:
    model = Model(proto, None, None)
    report = legalize(model, target)  # type: ignore[arg-type]
    return report, check(model, target)  # type: ignore[arg-type]


def test_seed_scenario_check_is_derived_and_equal_to_the_written_models(mnv3_onnx, tmp_path) -> None:
    out = tmp_path / "fixed.onnx"
    report = opswap.fix(mnv3_onnx, "snpe-2.7", out, run_verify=False, convert=False)
    assert report.legalization.checked is not None, report.legalization.not_derived
    assert report.after is report.legalization.checked
    written = opswap.check(out, "snpe-2.7")
    assert report.after.to_dict() | {"model": None} == written.to_dict() | {"model": None}
    assert report.legal and report.after.count(opswap.Level.WARNING) > 0  # not an empty comparison


@pytest.mark.parametrize("name", builtin_names())
def test_every_shipped_target_derived_or_checked_again_agrees(mnv3_onnx, name) -> None:
    target = load_target(name)
    model = opswap.load(mnv3_onnx)
    report = legalize(model, target)
    if report.checked is None:
        assert report.not_derived  # says why it was checked again
        return
    assert report.checked.to_dict() == check(model, target).to_dict()


def test_unnamed_nodes_are_labelled_where_they_now_stand() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("HardSwish", ["a"], ["b"]),
        helper.make_node("Abs", ["b"], ["c"]),
        helper.make_node("HardSwish", ["c"], ["d"]),
        helper.make_node("Neg", ["d"], ["y"]),
    ]
    proto = make_model(nodes, [tensor("x", [1, 4])], [tensor("y", [1, 4])])
    # Relu, Abs and Neg warn (a version the profile does not list): their labels are positions.
    listed = "".join(f"[ops.{op}]\nopsets = [1]\n" for op in ("Relu", "Abs", "Neg"))
    target = _profile(listed + "".join(f"[ops.{op}]\n" for op in ("HardSigmoid", "Mul", "Add", "Clip", "Div")))
    report, full = _legalized(proto, target)
    assert report.rewrites and report.checked is not None
    assert report.checked.to_dict() == full.to_dict()
    labels = {f.node for f in full.findings}
    assert "Neg#4" not in labels and any(label.startswith("Neg#") for label in labels)  # moved past new nodes


def test_subgraph_findings_keep_their_scope() -> None:
    branch = helper.make_graph(
        [helper.make_node("HardSwish", ["x"], ["t"], name="inner_hs"), helper.make_node("Abs", ["t"], ["o"])],
        "then",
        [],
        [tensor("o", [1, 4])],
    )
    other = helper.make_graph([helper.make_node("Abs", ["x"], ["o2"], name="e")], "else", [], [tensor("o2", [1, 4])])
    nodes = [
        helper.make_node("HardSwish", ["x"], ["h"], name="outer_hs"),
        helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=branch, else_branch=other),
    ]
    proto = make_model(
        nodes,
        [tensor("x", [1, 4]), tensor("cond", [], onnx.TensorProto.BOOL)],
        [tensor("y", [1, 4]), tensor("h", [1, 4])],
    )
    target = target_of("If", "HardSigmoid", "Mul", "Abs", "Add", "Clip", "Div")
    report, full = _legalized(proto, target)
    assert report.rewrites and report.checked is not None
    assert report.checked.to_dict() == full.to_dict()


def test_a_fixed_shape_target_is_checked_again_and_says_why() -> None:
    proto = hardswish_model()
    report, full = _legalized(proto, load_target("ort-nnapi"))
    assert report.checked is None and report.not_derived
    assert full.node_count > 0


def test_a_route_that_writes_an_output_as_a_constant_is_checked_again() -> None:
    # Shape of a static input is computed as a constant: its consumer's constant-input check may change.
    proto = make_model(
        [
            helper.make_node("Shape", ["x"], ["s"], name="shape"),
            helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape"),
        ],
        [tensor("x", [2, 3])],
        [tensor("y", [2, 3])],
    )
    target = _profile("[ops.Reshape]\nstatic_inputs = [1]\n")
    report, full = _legalized(proto, target)
    assert report.rewrites or report.folded
    if report.checked is not None:
        assert report.checked.to_dict() == full.to_dict()
    assert full.legal


def test_a_model_holding_qdq_nodes_is_checked_again() -> None:
    scale = onnx.numpy_helper.from_array(__import__("numpy").asarray(0.05, dtype="float32"), "scale")
    zero = onnx.numpy_helper.from_array(__import__("numpy").asarray(0, dtype="uint8"), "zero")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["q"], name="q"),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"], name="dq"),
        helper.make_node("HardSwish", ["dq"], ["y"], name="hs"),
    ]
    proto = make_model(nodes, [tensor("x", [1, 4])], [tensor("y", [1, 4])], initializers=[scale, zero])
    target = _profile("".join(f"[ops.{op}]\n" for op in ("QuantizeLinear", "DequantizeLinear", "HardSigmoid", "Mul")))
    report, full = _legalized(proto, target)
    assert report.rewrites and report.checked is None and "Dequantize" in report.not_derived
    assert full.quantization is not None  # what a derived report would have missed
