"""Cutting a model before its post-processing: the network converts, the rest runs on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import opswap
from conftest import make_model, ort_run, run_cli, save_model, tensor
from opswap.cut import cut, suggest_cut
from opswap.errors import OpswapError


def detector() -> onnx.ModelProto:
    """A toy detector: a Conv head with HardSwish (fixable), then NonZero over thresholded scores."""
    rng = np.random.default_rng(0)
    return make_model(
        [
            helper.make_node("Conv", ["x", "w"], ["features"], name="head", pads=[1, 1, 1, 1]),
            helper.make_node("HardSwish", ["features"], ["act"], name="act"),
            helper.make_node("Conv", ["act", "w2"], ["logits"], name="cls"),
            helper.make_node("Sigmoid", ["logits"], ["scores"], name="sigmoid"),
            helper.make_node("Greater", ["scores", "threshold"], ["keep"], name="threshold"),
            helper.make_node("NonZero", ["keep"], ["where"], name="nonzero"),
            helper.make_node("Transpose", ["where"], ["detections"], name="transpose", perm=[1, 0]),
        ],
        [tensor("x", [1, 3, 8, 8]), tensor("unused", [1])],
        [tensor("detections", ["n", 4], TensorProto.INT64), tensor("features", [1, 4, 8, 8])],
        initializers=[
            numpy_helper.from_array(rng.normal(0, 1, (4, 3, 3, 3)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.normal(0, 1, (2, 4, 1, 1)).astype(np.float32), "w2"),
            numpy_helper.from_array(np.array([0.5], np.float32), "threshold"),
        ],
    )


def test_cut_keeps_exactly_what_computes_the_named_values() -> None:
    model = opswap.model.from_proto(detector())
    report = cut(model, ["scores"])
    graph = model.proto.graph
    assert [n.name for n in graph.node] == ["head", "act", "cls", "sigmoid"]
    assert [o.name for o in graph.output] == ["scores"] and [i.name for i in graph.input] == ["x"]
    assert {t.name for t in graph.initializer} == {"w", "w2"}
    assert (report.kept, report.removed, report.inputs_dropped) == (4, 3, ["unused"])
    onnx.checker.check_model(model.proto, full_check=True)
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    whole = onnx.shape_inference.infer_shapes(detector())
    whole.graph.output.append(helper.make_tensor_value_info("scores", TensorProto.FLOAT, None))
    want = ort_run(whole, {"x": x, "unused": np.zeros(1, np.float32)})[-1]
    (got,) = ort_run(model.proto, {"x": x})
    assert np.array_equal(want, got)


def test_a_bad_cut_is_one_error() -> None:
    with pytest.raises(OpswapError, match="no value named 'nope'"):
        cut(opswap.model.from_proto(detector()), ["scores", "nope"])
    with pytest.raises(OpswapError, match="no value names"):
        cut(opswap.model.from_proto(detector()), [" "])


def test_the_suggested_cut_is_the_boundary_of_the_post_processing() -> None:
    model = opswap.model.from_proto(detector())
    # NonZero reads `keep`, which Greater computes from `scores`: Greater is upstream, so the boundary
    # is keep's producer's output; the graph output `features` is computed before the cut.
    assert suggest_cut(model, ["NonZero"]) == ["keep", "features"]
    assert suggest_cut(model, ["HardSwish"]) is None  # not post-processing: no cut suggested


def test_fix_names_the_cut_that_works_and_the_cut_converts(tmp_path: Path) -> None:
    source = save_model(detector(), tmp_path / "detector.onnx")
    dead_end = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx")
    assert dead_end.code == 1 and not (tmp_path / "fixed.onnx").exists()
    assert (
        "NonZero: output sizes or control flow that depend on the input's values (post-processing)" in dead_end.stdout
    )
    assert "--outputs keep,features" in dead_end.stdout
    as_json = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx", "--format", "json").json()
    assert as_json["cut_hint"] == ["keep", "features"]

    done = run_cli("fix", source, "-t", "snpe-2.7", "--outputs", "keep,features", "-o", tmp_path / "fixed.onnx")
    assert done.code == 0, done.stdout + done.stderr
    assert "Cut before fixing: cut at keep, features: 5 nodes kept, 2 after the cut removed" in done.stdout
    assert "PASSED" in done.stdout
    fixed = onnx.load(str(tmp_path / "fixed.onnx"))
    assert [o.name for o in fixed.graph.output] == ["keep", "features"]
    assert "HardSwish" not in {n.op_type for n in fixed.graph.node}
    report = run_cli(
        "fix", source, "-t", "snpe-2.7", "--outputs", "keep,features", "-o", tmp_path / "f2.onnx", "--format", "json"
    ).json()
    assert report["cut"]["nodes_removed"] == 2 and report["verification"]["passed"]
    checked = run_cli("check", source, "-t", "snpe-2.7", "--outputs", "keep,features")
    assert "Checking the cut" in checked.stderr and "HardSwish" in checked.stdout and "NonZero" not in checked.stdout


def test_no_cut_is_suggested_when_the_part_before_it_still_has_no_route(tmp_path: Path) -> None:
    model = detector()
    model.opset_import[0].version = 18
    model.graph.node[1].op_type = "Mish"  # no route for Mish to a target without Softplus, Tanh, Exp...
    source = save_model(model, tmp_path / "detector.onnx")
    target = tmp_path / "t.toml"
    target.write_text(
        '[target]\nname = "t"\nsource = "test"\n'
        + "".join(f"[ops.{op}]\n" for op in ("Conv", "Sigmoid", "Greater", "Transpose"))
    )
    report = run_cli("fix", source, "-t", target, "-o", tmp_path / "out.onnx", "--format", "json").json()
    assert {u["op_type"] for u in report["unresolved"]} == {"Mish", "NonZero"}
    assert report["cut_hint"] is None


def test_the_suggested_cut_moves_up_through_light_work_when_that_narrows_it() -> None:
    """Per-class post-processing (as torchvision's detectors unroll it): each class's scores are
    sliced from one Sigmoid and thresholded before its NonZero. Cutting at the NonZeros' inputs would
    take 5 values; the slices and compares only feed the post-processing, so the cut moves up to the
    classifier's output: 1 value, and the Conv stays before it."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["logits"], name="cls"),
        helper.make_node("Sigmoid", ["logits"], ["scores"], name="sigmoid"),
    ]
    initializers = [
        numpy_helper.from_array(rng.normal(0, 1, (5, 3, 1, 1)).astype(np.float32), "w"),
        numpy_helper.from_array(np.array([0.5], np.float32), "threshold"),
    ]
    outputs = []
    for c in range(5):
        initializers.append(numpy_helper.from_array(np.array(c, np.int64), f"c{c}"))
        nodes += [
            helper.make_node("Gather", ["scores", f"c{c}"], [f"s{c}"], axis=1),
            helper.make_node("Greater", [f"s{c}", "threshold"], [f"k{c}"]),
            helper.make_node("NonZero", [f"k{c}"], [f"where{c}"]),
        ]
        outputs.append(tensor(f"where{c}", [3, "n"], TensorProto.INT64))
    model = opswap.model.from_proto(make_model(nodes, [tensor("x", [1, 3, 4, 4])], outputs, initializers=initializers))
    assert suggest_cut(model, ["NonZero"]) == ["logits"]
