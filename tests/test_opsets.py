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


# --- Raising -------------------------------------------------------------------------------------------

RAISED_TO = 21


def _node_tests_between(low: int, high: int) -> list[Path]:
    from conftest import onnx_node_test_dir

    cases = []
    for case in sorted(onnx_node_test_dir().iterdir()):
        header = onnx.load(str(case / "model.onnx"), load_external_data=False)
        version = next((o.version for o in header.opset_import if o.domain in ("", "ai.onnx")), 0)
        if low <= version <= high and not header.functions:
            cases.append(case)
    return cases


def test_raising_onnx_node_tests_keeps_what_onnx_runtime_computes() -> None:
    """Every node test written at opsets 11-19, raised to 21: where raising succeeds, the raised model
    is valid where the original was (onnx's full check) and ORT computes what it computed for the
    original, at the test's tolerance; refusals are counted."""
    import json

    from conftest import read_test_data

    raised, refused, skipped, wrong = 0, 0, 0, []
    for case in _node_tests_between(11, 19):
        original = onnx.load(str(case / "model.onnx"))
        data = read_test_data(case, original)
        try:
            onnx.checker.check_model(original, full_check=True)
            before = [ort_run(original, inputs) for inputs, _ in data]
        except Exception:
            skipped += 1  # invalid as written, or ORT cannot run it: nothing to compare with
            continue
        model = opswap.model.from_proto(original)
        try:
            opswap.opsets.raise_opset(model, RAISED_TO)
        except LoweringError:
            refused += 1
            continue
        raised += 1
        tolerance = json.loads((case / "tolerance.json").read_text())
        try:
            onnx.checker.check_model(model.proto, full_check=True)
            for (inputs, _), want in zip(data, before, strict=True):
                for w, got in zip(want, ort_run(model.proto, inputs), strict=True):
                    np.testing.assert_allclose(got, w, rtol=tolerance["rtol"], atol=tolerance["atol"])
        except Exception as exc:
            wrong.append(f"{case.name}: {str(exc).strip().splitlines()[-1][:160]}")
    print(f"\nraised to {RAISED_TO}: {raised} node tests compute the same, {refused} refused, {skipped} not comparable")
    assert not wrong, "\n".join(wrong)
    assert raised > 300


def _raisable() -> onnx.ModelProto:
    """Opset 11: every form that moved on the way up (axes, split sizes, Softmax's axis, Dropout's ratio)."""
    return make_model(
        [
            helper.make_node("ReduceMean", ["x"], ["m"], axes=[2], keepdims=1),
            helper.make_node("Sub", ["x", "m"], ["c"]),
            helper.make_node("Split", ["c"], ["a", "b"], axis=1, split=[1, 3]),
            helper.make_node("Squeeze", ["a"], ["a1"], axes=[1]),
            helper.make_node("Softmax", ["a1"], ["s"], axis=1),
            helper.make_node("Dropout", ["s"], ["d"], ratio=0.25),
            helper.make_node("ReduceSum", ["b"], ["r"], axes=[1], keepdims=0),
            helper.make_node("Add", ["d", "r"], ["y"]),
            helper.make_node("Split", ["y"], ["y1", "y2"], axis=1),
        ],
        [tensor("x", [2, 4, 6])],
        [tensor("y1", [2, 3]), tensor("y2", [2, 3])],
        opset=11,
    )


def test_raising_11_to_20_moves_attributes_to_inputs_and_keeps_outputs() -> None:
    original = _raisable()
    model = opswap.model.from_proto(original)
    report = opswap.opsets.raise_opset(model, 20)
    assert (report.from_opset, report.to_opset) == (11, 20) and model.opset == 20
    assert report.adapted["Split"] == 2 and report.adapted["ReduceMean"] == 1
    onnx.checker.check_model(model.proto, full_check=True)
    nodes = {n.output[0]: n for n in model.proto.graph.node}
    assert not [a for a in nodes["m"].attribute if a.name == "axes"] and len(nodes["m"].input) == 2
    assert [a.i for a in nodes["y1"].attribute if a.name == "num_outputs"] == [2]
    x = np.random.default_rng(0).normal(size=(2, 4, 6)).astype(np.float32)
    for want, got in zip(ort_run(original, {"x": x}), ort_run(model.proto, {"x": x}), strict=True):
        np.testing.assert_array_equal(want, got)


def test_raising_is_all_or_nothing_and_names_the_blocker() -> None:
    original = make_model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=1)],
        [tensor("x", [2, 3, 4])],
        [tensor("y", [2, 3, 4])],
        opset=11,
    )
    model = opswap.model.from_proto(original)
    with pytest.raises(LoweringError, match=r"Softmax over axis 1 \(not the last\) changes meaning at opset 13"):
        opswap.opsets.raise_opset(model, 13)
    assert model.proto == original
    with pytest.raises(LoweringError, match="lower than the model's"):
        opswap.opsets.raise_opset(model, 10)


def test_roialign_raised_past_16_keeps_its_old_coordinate_mode() -> None:
    rng = np.random.default_rng(0)
    original = make_model(
        [helper.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], output_height=2, output_width=2, sampling_ratio=2)],
        [tensor("x", [1, 2, 8, 8]), tensor("rois", [3, 4]), tensor("idx", [3], TensorProto.INT64)],
        [tensor("y", [3, 2, 2, 2])],
        opset=11,
    )
    model = opswap.model.from_proto(original)
    opswap.opsets.raise_opset(model, 16)
    feeds = {
        "x": rng.normal(size=(1, 2, 8, 8)).astype(np.float32),
        "rois": np.array([[0, 0, 4, 4], [1.5, 1.5, 6.2, 7], [2, 0, 7.5, 3]], np.float32),
        "idx": np.zeros(3, np.int64),
    }
    (want,) = ort_run(original, feeds)
    (got,) = ort_run(model.proto, feeds)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def _gelu_pattern() -> onnx.ModelProto:
    """GELU as the TorchScript exporter writes it below opset 20: x * 0.5 * (1 + Erf(x / sqrt(2)))."""
    consts = [
        numpy_helper.from_array(np.array(np.sqrt(2.0), np.float32), "root2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
    ]
    return make_model(
        [
            helper.make_node("Div", ["x", "root2"], ["scaled"]),
            helper.make_node("Erf", ["scaled"], ["erf"]),
            helper.make_node("Add", ["erf", "one"], ["shifted"]),
            helper.make_node("Mul", ["x", "shifted"], ["prod"]),
            helper.make_node("Mul", ["prod", "half"], ["y"]),
        ],
        [tensor("x", [2, 8])],
        [tensor("y", [2, 8])],
        opset=17,
        initializers=consts,
    )


def test_fix_raises_to_fuse_gelu_for_a_target_that_takes_gelu_not_erf(cli, tmp_path: Path) -> None:
    model = _gelu_pattern()
    source = save_model(model, tmp_path / "gelu.onnx")
    profile = tmp_path / "t.toml"
    profile.write_text(
        '[target]\nname = "t"\nsource = "test"\n' + "".join(f"[ops.{op}]\n" for op in ("Gelu", "Mul", "Add", "Div"))
    )
    stuck = cli("fix", source, "-t", profile, "-o", tmp_path / "out.onnx")
    assert stuck.code == 1 and "Erf" in stuck.stdout
    done = cli("fix", source, "-t", profile, "--raise-opset", "20", "-o", tmp_path / "out.onnx")
    assert done.code == 0, done.stdout + done.stderr
    assert "Raised opset 17 -> 20" in done.stdout and "PASSED" in done.stdout
    fixed = onnx.load(str(tmp_path / "out.onnx"))
    assert [n.op_type for n in fixed.graph.node] == ["Gelu"] and fixed.opset_import[0].version == 20
    both = cli("fix", source, "-t", profile, "--raise-opset", "20", "--lower-opset", "13", "-o", tmp_path / "x.onnx")
    assert both.code == 2 and "give one" in both.stderr


def test_a_raised_model_is_not_lowered_again_by_a_target_that_rejects_unlisted_versions() -> None:
    """unlisted_opset = "error" makes fix lower by itself; after --raise-opset it must not undo it."""
    from opswap.fix import fix

    target = parse_profile(
        '[target]\nname = "t"\nsource = "test"\nunlisted_opset = "error"\n'
        "[ops.Gelu]\nopsets = [20]\n[ops.Mul]\n[ops.Add]\n[ops.Div]\n",
        "t.toml",
    )
    model = opswap.model.from_proto(_gelu_pattern())
    report = fix(model, target, raise_opset=20)
    assert report.legal and report.lowering is not None and report.lowering.to_opset == 20
    assert model.opset == 20 and [n.op_type for n in model.proto.graph.node] == ["Gelu"]
    assert report.verification is not None and report.verification.passed
    with pytest.raises(opswap.OpswapError, match="give one"):
        fix(opswap.model.from_proto(_gelu_pattern()), target, raise_opset=20, lower_opset=13)


def test_dropouts_ratio_moves_between_input_and_attribute_across_opset_12() -> None:
    """One table (opswap.forms) says where an attribute became an input; lowering and raising both read it."""
    ratio = numpy_helper.from_array(np.asarray(0.25, dtype=np.float32), "ratio")
    original = make_model(
        [helper.make_node("Dropout", ["x", "ratio"], ["y"])], [tensor("x", [2, 3])], [tensor("y", [2, 3])], 13, [ratio]
    )
    model = opswap.model.from_proto(original)
    lower(model, 11)
    dropout = model.proto.graph.node[0]
    assert list(dropout.input) == ["x"] and [a.f for a in dropout.attribute if a.name == "ratio"] == [0.25]
    onnx.checker.check_model(model.proto, full_check=True)
    opswap.opsets.raise_opset(model, 13)
    again = model.proto.graph.node[0]
    assert len(again.input) == 2 and not [a for a in again.attribute if a.name == "ratio"]
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(model.proto, {"x": x})[0], ort_run(original, {"x": x})[0])


def test_every_form_change_a_lowering_crosses_has_an_adapter_or_a_table_entry() -> None:
    """forms.CHANGED lists what changed; each such op, lowered or raised across it, is handled (or refused)."""
    from opswap import forms

    handled = set(forms.ADAPTERS) | {m.op_type for m in forms.MOVED}
    # Slice, TopK, Upsample and Pad-11 changed below opswap's lowest opset (11); Resize-11/18 are
    # checked structurally (their new attributes and inputs must be absent).
    below_or_structural = {"Slice", "TopK", "Upsample"}
    assert set(forms.CHANGED) - handled - below_or_structural == set()
