"""Lowering the opset so every node is at a version the target registers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import opswap
from conftest import make_model, ort_run, save_model, tensor
from opswap.opsets import LoweringError, best_opset, lower
from opswap.targets.profile import parse_profile


def _dynamo_like(softmax_axis: int = -1) -> onnx.ModelProto:
    """The forms the dynamo exporter writes at opset 18: axes as inputs, allowzero, num_outputs."""
    consts = [
        numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes"),
        numpy_helper.from_array(np.array([1, 4, 1, 1], dtype=np.int64), "shape"),
    ]
    return make_model(
        [
            helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1, name="mean"),
            helper.make_node("Reshape", ["m", "shape"], ["r"], allowzero=1, name="view"),
            helper.make_node("Split", ["r"], ["a", "b"], axis=1, num_outputs=2, name="split"),
            helper.make_node("Add", ["a", "b"], ["s"], name="add"),
            helper.make_node("Softmax", ["s"], ["y"], axis=softmax_axis, name="softmax"),
        ],
        [tensor("x", [1, 4, 5, 6])],
        [tensor("y", [1, 2, 1, 1])],
        opset=18,
        initializers=consts,
    )


def test_lowering_18_to_13_keeps_outputs(tmp_path: Path) -> None:
    original = _dynamo_like()
    model = opswap.model.from_proto(original)
    report = lower(model, 13)
    assert model.opset == 13
    # Add-14 to Add-13 only narrows types; the others change form.
    assert report.adapted == {"ReduceMean": 1, "Reshape": 1, "Split": 1, "Add": 1}
    mean = next(n for n in model.proto.graph.node if n.op_type == "ReduceMean")
    assert list(mean.input) == ["x"]
    assert [list(a.ints) for a in mean.attribute if a.name == "axes"] == [[2, 3]]
    onnx.checker.check_model(model.proto, full_check=True)
    x = np.random.default_rng(0).standard_normal((1, 4, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(model.proto, {"x": x})[0], ort_run(original, {"x": x})[0])


def test_lowering_is_all_or_nothing() -> None:
    # Softmax over a non-last axis changes meaning before opset 13: nothing may change.
    model = opswap.model.from_proto(_dynamo_like(softmax_axis=1))
    before = model.proto.SerializeToString()
    with pytest.raises(LoweringError, match="Softmax over axis 1"):
        lower(model, 12)
    assert model.proto.SerializeToString() == before


def test_computed_axes_cannot_be_lowered() -> None:
    model = make_model(
        [helper.make_node("ReduceMean", ["x", "axes"], ["y"], name="mean")],
        [tensor("x", [2, 3]), tensor("axes", [1], TensorProto.INT64)],
        [tensor("y", [2, 1])],
        opset=18,
    )
    with pytest.raises(LoweringError, match="computed, not constant"):
        lower(opswap.model.from_proto(model), 13)


def test_best_opset_for_a_target() -> None:
    target = parse_profile(
        '[target]\nname = "t"\nsource = "test"\n'
        "[ops.ReduceMean]\nopsets = [13]\n[ops.Reshape]\nopsets = [5, 13]\n[ops.Split]\nopsets = [13]\n"
        "[ops.Add]\nopsets = [7, 13, 14]\n[ops.Softmax]\nopsets = [13]\n",
        "t.toml",
    )
    # Reshape-14 (opsets 14 to 17) is unlisted; at 13 every version is listed.
    assert best_opset(opswap.model.from_proto(_dynamo_like()), target) == 13


def test_fix_lowers_automatically_when_the_target_rejects_versions(cli, tmp_path: Path) -> None:
    source = save_model(_dynamo_like(), tmp_path / "m.onnx")
    profile = tmp_path / "strict.toml"
    profile.write_text(
        '[target]\nname = "strict"\nsource = "test"\nunlisted_opset = "error"\n'
        "[ops.ReduceMean]\nopsets = [13]\n[ops.Reshape]\nopsets = [5, 13]\n[ops.Split]\nopsets = [13]\n"
        "[ops.Add]\nopsets = [7, 13, 14]\n[ops.Softmax]\nopsets = [13]\n"
    )
    assert cli("check", source, "--target", profile).code == 1
    out = tmp_path / "fixed.onnx"
    result = cli("fix", source, "--target", profile, "-o", out, "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert report["opset"]["from"] == 18 and report["opset"]["to"] == 13
    assert report["verification"]["passed"]
    assert cli("check", out, "--target", profile).code == 0


@pytest.mark.torch
def test_mobilenet_for_snpe_without_version_warnings(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed.onnx"
    result = cli("fix", mnv3_onnx, "--target", "snpe-2.7", "-o", out, "--lower-opset", "auto", "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["opset"]["to"] == 12
    assert report["after"]["warnings"] == [] and report["after"]["illegal"] == []
    assert report["verification"]["passed"]
    assert onnx.load(str(out)).opset_import[0].version == 12


def test_check_says_when_lower_opset_auto_clears_version_warnings(tmp_path: Path) -> None:
    from conftest import hardswish_model, run_cli, save_model

    source = save_model(hardswish_model(opset=14), tmp_path / "m.onnx")
    assert run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx").code == 0
    report = run_cli("check", tmp_path / "fixed.onnx", "-t", "snpe-2.7", "--format", "json").json()
    advice = report["lowering_advice"]
    assert report["warnings"] and advice.startswith("fix --lower-opset auto lowers the model to opset 12")
    lowered = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "low.onnx", "--lower-opset", "auto")
    assert lowered.code == 0
    after = run_cli("check", tmp_path / "low.onnx", "-t", "snpe-2.7", "--format", "json").json()
    assert not after["warnings"] and after["lowering_advice"] is None  # the hint led where it said


def test_lowering_drops_attributes_a_newer_version_added_when_at_their_default() -> None:
    """The dynamo exporter writes Resize-18's antialias and keep_aspect_ratio_policy at their defaults."""

    def resize(**attrs: object) -> opswap.Model:
        node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest", **attrs)
        scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
        model = make_model([node], [tensor("x", [1, 1, 2, 2])], [tensor("y", [1, 1, 4, 4])], 18, [scales])
        return opswap.model.from_proto(model)

    model = resize(antialias=0, keep_aspect_ratio_policy="stretch")
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    before = ort_run(model.proto, {"x": x})
    lower(model, 13)
    (node,) = model.proto.graph.node
    assert {a.name for a in node.attribute} == {"mode"}
    assert np.array_equal(ort_run(model.proto, {"x": x})[0], before[0])
    with pytest.raises(LoweringError, match="antialias"):
        lower(resize(antialias=1), 13)
