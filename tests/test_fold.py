"""Constant folding: shape arithmetic computed once, so shapes are static where a target needs them."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import opswap
from conftest import make_model, ort_run, save_model, target_of, tensor
from opswap import fold as folding
from opswap.dims import fix_dims
from opswap.fold import MAX_FOLDED, fold
from opswap.targets import Level

INT64 = TensorProto.INT64


def fixed_shapes(*ops: str) -> opswap.Target:
    return target_of(*ops, header="fixed_shapes = true")  # type: ignore[no-any-return]


def const(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def shuffle(x: str, y: str, tag: str) -> list[onnx.NodeProto]:
    """ShuffleNet's channel shuffle as exporters write it: the batch size read at run time."""
    return [
        helper.make_node("Shape", [x], [f"{tag}_shape"], name=f"{tag}_shape"),
        helper.make_node("Gather", [f"{tag}_shape", "zero"], [f"{tag}_n"], name=f"{tag}_gather", axis=0),
        # onnx's data propagation stops at Div: the next shuffle's Shape is static one pass later.
        helper.make_node("Div", [f"{tag}_n", "one"], [f"{tag}_q"], name=f"{tag}_div"),
        helper.make_node("Unsqueeze", [f"{tag}_q", "axes0"], [f"{tag}_n1"], name=f"{tag}_unsqueeze"),
        helper.make_node("Concat", [f"{tag}_n1", "groups"], [f"{tag}_dims"], name=f"{tag}_concat", axis=0),
        helper.make_node("Reshape", [x, f"{tag}_dims"], [f"{tag}_grouped"], name=f"{tag}_reshape"),
        helper.make_node("Transpose", [f"{tag}_grouped"], [f"{tag}_t"], name=f"{tag}_transpose", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", [f"{tag}_t", "flat"], [f"{tag}_flat"], name=f"{tag}_flatten"),
        helper.make_node("Relu", [f"{tag}_flat"], [y], name=f"{tag}_relu"),
    ]


def shuffle_model(stages: int = 1) -> onnx.ModelProto:
    nodes = []
    for k in range(stages):
        nodes += shuffle("x" if k == 0 else f"y{k - 1}", f"y{k}" if k < stages - 1 else "y", f"s{k}")
    return make_model(
        nodes,
        [tensor("x", [2, 4, 3])],
        [tensor("y", [2, 4, 3])],
        initializers=[
            numpy_helper.from_array(np.asarray(0, dtype=np.int64), "zero"),
            numpy_helper.from_array(np.asarray(1, dtype=np.int64), "one"),
            const("axes0", [0]),
            const("groups", [2, 2, 3]),
            const("flat", [0, 4, 3]),
        ],
    )


def test_a_channel_shuffle_folds_and_the_model_becomes_legal(tmp_path: Path) -> None:
    original = shuffle_model()
    source = save_model(original, tmp_path / "m.onnx")
    target = fixed_shapes("Reshape", "Transpose", "Relu", "Shape", "Gather", "Div", "Unsqueeze", "Concat")
    model = opswap.load(source)
    before = opswap.check(model, target)
    assert [(g.op_type, g.reason) for g in before.groups(Level.ERROR)] == [
        ("Relu", "input 0 has a dynamic shape; t needs fixed shapes"),
        ("Reshape", "input 0 has a dynamic shape; t needs fixed shapes"),
        ("Transpose", "input 0 has a dynamic shape; t needs fixed shapes"),
    ]
    assert all(g.static_only for g in before.groups(Level.ERROR))
    report = opswap.legalize(model, target)
    assert report.complete and report.folded == 5 and not report.rewrites
    graph = model.proto.graph
    assert [n.op_type for n in graph.node] == ["Reshape", "Transpose", "Reshape", "Relu"]
    dims = {t.name: numpy_helper.to_array(t).tolist() for t in graph.initializer}["s0_dims"]
    assert dims == [2, 2, 2, 3]
    assert opswap.check(model, target).legal
    onnx.checker.check_model(model.proto, full_check=True)
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3) - 10
    np.testing.assert_array_equal(ort_run(model.proto, {"x": x})[0], ort_run(original, {"x": x})[0])


def test_folding_repeats_while_shapes_become_static() -> None:
    """The second shuffle's Shape is static only once the first shuffle's Reshape reads a constant."""
    original = shuffle_model(stages=3)
    model = opswap.model.from_proto(original)
    report = fold(model)
    assert report.nodes == 15 and report.passes == 3 and report.initializers == 3
    assert collections.Counter(n.op_type for n in model.proto.graph.node) == {
        "Reshape": 6,
        "Transpose": 3,
        "Relu": 3,
    }
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(model.proto, {"x": x})[0], ort_run(original, {"x": x})[0])


def test_what_is_not_folded(tmp_path: Path) -> None:
    """Overridable initializers (also graph inputs), random ops, big outputs and external data stay."""
    big = MAX_FOLDED + 1
    external = numpy_helper.from_array(np.zeros(4, dtype=np.float32), "far")
    external.ClearField("raw_data")
    external.data_location = TensorProto.EXTERNAL
    external.external_data.add(key="location", value="far.bin")
    model = make_model(
        [
            helper.make_node("Add", ["bias", "one"], ["b1"], name="from_input"),
            helper.make_node("RandomUniform", [], ["r"], name="random", shape=[2], dtype=TensorProto.FLOAT),
            helper.make_node("Expand", ["one", "big_shape"], ["wide"], name="big"),
            helper.make_node("Neg", ["far"], ["near"], name="external"),
            helper.make_node("Neg", ["one"], ["minus_one"], name="small"),
        ],
        [tensor("bias", [1])],
        [tensor(name, [n]) for name, n in (("b1", 1), ("r", 2), ("wide", big), ("near", 4), ("minus_one", 1))],
        initializers=[
            numpy_helper.from_array(np.ones(1, dtype=np.float32), "one"),
            numpy_helper.from_array(np.zeros(1, dtype=np.float32), "bias"),
            const("big_shape", [big]),
            external,
        ],
    )
    (tmp_path / "far.bin").write_bytes(bytes(16))
    proto = opswap.load(save_model(model, tmp_path / "m.onnx"))
    report = fold(proto)
    assert report.nodes == 1 and report.initializers == 1
    assert [n.name for n in proto.proto.graph.node] == ["from_input", "random", "big", "external"]
    assert numpy_helper.to_array(proto.proto.graph.initializer[-1]).tolist() == [-1.0]


def test_nothing_is_folded_unless_a_node_needs_it() -> None:
    """A target without shape limits leaves the shape arithmetic alone: only illegal nodes change."""
    model = opswap.model.from_proto(shuffle_model())
    before = model.proto.SerializeToString()
    ops = ("Reshape", "Transpose", "Relu", "Shape", "Gather", "Div", "Unsqueeze", "Concat")
    target = target_of(*ops)
    report = opswap.legalize(model, target)
    assert report.folded == 0 and model.proto.SerializeToString() == before


def test_a_folded_value_read_inside_a_subgraph_is_kept(tmp_path: Path) -> None:
    then_branch = helper.make_graph(
        [helper.make_node("Reshape", ["x", "dims"], ["t_out"], name="t_reshape")], "then", [], [tensor("t_out", [8])]
    )
    else_branch = helper.make_graph(
        [helper.make_node("Reshape", ["x", "flat8"], ["e_out"], name="e_reshape")], "else", [], [tensor("e_out", [8])]
    )
    original = make_model(
        [
            helper.make_node("Shape", ["x"], ["shape"], name="shape"),
            helper.make_node("ReduceProd", ["shape"], ["dims"], name="count", keepdims=1),
            helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then_branch, else_branch=else_branch),
        ],
        [tensor("x", [2, 4]), tensor("cond", [], TensorProto.BOOL)],
        [tensor("y", [8])],
        initializers=[const("flat8", [8])],
    )
    model = opswap.model.from_proto(original)
    assert fold(model).nodes == 2
    assert [n.name for n in model.proto.graph.node] == ["if"]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    for cond in (True, False):
        feeds = {"x": x, "cond": np.array(cond)}
        np.testing.assert_array_equal(ort_run(model.proto, feeds)[0], ort_run(original, feeds)[0])


def test_fix_for_nnapi_folds_an_exported_shuffle(cli, tmp_path: Path) -> None:
    """Folding for a target that judges the file's own graph: NNAPI's list without ORT's own folding.

    (The shipped ort-nnapi judges the graph ORT partitions, after ORT folds this itself: legal.)
    """
    from importlib import resources

    source = save_model(shuffle_model(stages=2), tmp_path / "shuffle.onnx")
    assert cli("check", source, "--target", "ort-nnapi").code == 0  # as ONNX Runtime sees it
    text = resources.files("opswap.targets.builtin").joinpath("ort-nnapi.toml").read_text()
    own = tmp_path / "nnapi-file-graph.toml"
    own.write_text(text.replace('partitions_after = "onnxruntime-basic"\n', "").replace('"ort-nnapi"', '"nnapi-file"'))
    out = tmp_path / "fixed.onnx"
    result = cli("fix", source, "--target", own, "-o", out, "--no-convert", "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["legal"] and report["verification"]["passed"]
    assert report["before"]["legal"] is False
    assert report["folded"] == 10 and report["nodes_removed"] == 0
    assert "Shape" not in {n.op_type for n in onnx.load(str(out)).graph.node}
    text = cli("fix", source, "--target", own, "-o", out, "--no-convert").stdout
    assert "Folded 10 nodes computed from constants into initializers" in " ".join(text.split())
    # check says which of its findings folding may fix, and marks them in JSON.
    checked = cli("check", source, "--target", own)
    assert checked.code == 1
    assert "7 of them only for computed inputs or dynamic shapes: fix first folds" in " ".join(checked.stdout.split())
    groups = cli("check", source, "--target", own, "--format", "json").json()["illegal"]
    assert {g["op_type"]: g["static_only"] for g in groups} == {
        "Shape": False,
        "Relu": True,
        "Reshape": True,
        "Transpose": True,
    }


def test_when_onnx_runtime_cannot_evaluate_the_model_is_left_as_it_is(monkeypatch) -> None:
    def cannot(*_: object) -> None:
        raise RuntimeError("NOT_IMPLEMENTED")

    monkeypatch.setattr(folding, "_evaluate", cannot)
    model = opswap.model.from_proto(shuffle_model())
    before = model.proto.SerializeToString()
    assert fold(model).nodes == 0
    assert model.proto.SerializeToString() == before


def test_an_illegal_node_of_initializers_is_computed_once_and_legal_ones_stay() -> None:
    """torch's exporter writes Identity(initializer) for shared weights; CoreML's NeuralNetwork EP
    lists no Identity. The Identity is folded; a legal node of constants (Neg) is left alone."""
    original = make_model(
        [
            helper.make_node("Identity", ["bias"], ["bias_again"], name="shared"),
            helper.make_node("Neg", ["bias"], ["minus"], name="legal_neg"),
            helper.make_node("Add", ["x", "bias_again"], ["s"], name="add"),
            helper.make_node("Add", ["s", "minus"], ["y"], name="add2"),
        ],
        [tensor("x", [3])],
        [tensor("y", [3])],
        initializers=[numpy_helper.from_array(np.array([1, 2, 3], dtype=np.float32), "bias")],
    )
    model = opswap.model.from_proto(original)
    target = target_of("Add", "Neg")
    report = opswap.legalize(model, target)
    assert report.complete and report.folded == 1 and not report.rewrites
    assert [n.name for n in model.proto.graph.node] == ["legal_neg", "add", "add2"]
    x = np.array([0.5, -1, 4], dtype=np.float32)
    np.testing.assert_array_equal(ort_run(model.proto, {"x": x})[0], ort_run(original, {"x": x})[0])


@pytest.mark.torch
def test_shufflenet_for_nnapi_ends_as_onnx_runtime_sees_it(cli, tmp_path: Path) -> None:
    """torchvision's ShuffleNetV2: legal for NNAPI as ONNX Runtime sees it (it folds the Constant and
    Shape nodes itself before partitioning), so fix writes it as it is and ORT's own usability
    checker puts every node on NNAPI, in one partition."""
    pytest.importorskip("torchvision")
    out = tmp_path / "shufflenet.onnx"
    spec = "torchvision:shufflenet_v2_x0_5"
    result = cli("convert", spec, "--target", "ort-nnapi", "-o", out, "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    fixed = report["fix"]
    assert fixed["before"]["legal"] and fixed["legal"] and fixed["unchanged"]
    assert "ONNX Runtime partitions" in fixed["before"]["judged"]
    after = report["partitions_after"]
    assert after["partitions"] == 1 and after["supported_nodes"] == after["nodes"] == fixed["before"]["nodes"]
    # onnx2tf lowers Constant nodes itself: the same export is legal for tflite as it is.
    tflite = cli("fix", spec, "--target", "tflite", "-o", tmp_path / "t.onnx", "--format", "json")
    assert tflite.code == 0, tflite.stderr
    assert tflite.json()["unchanged"] and not tflite.json()["rewrites"]


def test_when_shape_inference_fails_nothing_is_folded_and_nothing_breaks(monkeypatch) -> None:
    def fails(*_: object, **__: object) -> None:
        raise onnx.shape_inference.InferenceError("[ShapeInferenceError] cannot")

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", fails)
    model = opswap.model.from_proto(shuffle_model())
    assert fold(model).nodes == 0
    target = fixed_shapes("Reshape", "Transpose", "Relu", "Shape", "Gather", "Div", "Unsqueeze", "Concat")
    assert opswap.legalize(model, target).folded == 0
    # Without inference the shapes past the Reshape are unknown: a caveat on each node, not an error.
    caveats = opswap.check(model, target).groups(Level.CAVEAT)
    assert caveats and all("unknown; t needs fixed shapes" in g.reason for g in caveats)


def test_input_shapes_given_are_written_where_the_target_needs_fixed_shapes(cli, tmp_path: Path) -> None:
    """A dynamic batch is illegal for NNAPI everywhere; with --input-shape, fix writes it as ONNX
    Runtime's make_dynamic_shape_fixed would (the dimension's name fixed in inputs, outputs, value_info)."""
    original = make_model(
        [helper.make_node("Relu", ["x"], ["h"], name="relu"), helper.make_node("Sigmoid", ["h"], ["y"], name="sig")],
        [tensor("x", ["N", 4])],
        [tensor("y", ["N", 4])],
    )
    original.graph.value_info.append(tensor("h", ["N", 4]))
    source = save_model(original, tmp_path / "dynamic.onnx")
    out = tmp_path / "fixed.onnx"
    result = cli("fix", source, "--target", "ort-nnapi", "-o", out, "--input-shape", "x=2,4", "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["fixed_dims"] == {"N": 2} and report["legal"] and not report["before"]["legal"]
    assert "--input-shape=x=2,4" in report["converter"]["command"]
    written = onnx.load(str(out)).graph
    for info in (*written.input, *written.output, *written.value_info):
        assert [d.dim_value for d in info.type.tensor_type.shape.dim] == [2, 4], info.name
    text = cli("fix", source, "--target", "ort-nnapi", "-o", out, "--input-shape", "x=2,4").stdout
    assert (
        "Fixed symbolic dimensions as given (ort-nnapi needs fixed shapes or values computed from them "
        "as constants): N=2" in " ".join(text.split())
    )
    # A target without that need keeps the model's dynamic batch.
    other = cli("fix", source, "--target", "snpe-2.7", "-o", out, "--input-shape", "x=2,4", "--format", "json")
    assert other.code == 0 and other.json()["fixed_dims"] == {}
    assert onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"


def test_an_unnamed_dynamic_dimension_is_named_by_its_input_and_axis() -> None:
    original = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", ["N", 4])], [tensor("y", ["N", 4])])
    original.graph.input[0].type.tensor_type.shape.dim[0].ClearField("dim_param")
    model = opswap.model.from_proto(original)
    assert fix_dims(model, {"x": [3, 4], "nothing": [1]}) == {"x[0]": 3}
    assert [d.dim_value for d in model.proto.graph.input[0].type.tensor_type.shape.dim] == [3, 4]


def test_a_castlike_of_a_constant_folds_to_the_type_it_reads() -> None:
    """Function bodies write CastLike(Constant, x): the value is the constant's, only x's type is read."""
    three = helper.make_tensor("", TensorProto.FLOAT, [], [3.0])
    model = opswap.model.from_proto(
        make_model(
            [
                helper.make_node("Constant", [], ["three"], value=three),
                helper.make_node("CastLike", ["three", "x"], ["three_like"]),
                helper.make_node("Pow", ["x", "three_like"], ["y"]),
            ],
            [tensor("x", [2, 3], TensorProto.DOUBLE)],
            [tensor("y", [2, 3], TensorProto.DOUBLE)],
            opset=15,
        )
    )
    report = fold(model)
    assert report.nodes == 2 and [n.op_type for n in model.proto.graph.node] == ["Pow"]
    (stored,) = [t for t in model.proto.graph.initializer if t.name == "three_like"]
    assert stored.data_type == TensorProto.DOUBLE and numpy_helper.to_array(stored) == 3.0


def test_a_constant_computed_from_a_dynamic_dimension_says_how_to_fix_it(cli, tmp_path: Path) -> None:
    """snpe-2.7's Expand needs a constant shape; here it is Shape(x) of a dynamic sequence. No rewrite
    may move that computed value into another op: fix says to give --input-shape, and with it writes
    the dimension into the model (snpe-2.7 is not a fixed-shapes target) so the shape folds."""
    model = make_model(
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Expand", ["b", "s"], ["e"]),
            helper.make_node("Add", ["x", "e"], ["y"]),
        ],
        [tensor("x", [1, "seq", 8])],
        [tensor("y", [1, "seq", 8])],
        initializers=[numpy_helper.from_array(np.ones((1, 1, 8), np.float32), "b")],
    )
    source = save_model(model, tmp_path / "dynamic.onnx")
    stuck = cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "out.onnx")
    assert stuck.code == 1 and not (tmp_path / "out.onnx").exists()
    assert "Expand: input 1 must be a constant: it is computed from the inputs' dynamic dimensions" in stuck.stdout
    assert "--input-shape x=1,seq,8 with numbers" in stuck.stdout
    done = cli("fix", source, "-t", "snpe-2.7", "--input-shape", "x=1,16,8", "-o", tmp_path / "out.onnx")
    assert done.code == 0, done.stdout
    fixed = onnx.load(str(tmp_path / "out.onnx"))
    assert [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim] == [1, 16, 8]
    assert collections.Counter(n.op_type for n in fixed.graph.node) == {"Add": 1}
