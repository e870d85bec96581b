"""Outputs computed as constants become initializers: Constant nodes, and folded Shape/Size/... nodes.

A target that does not list Constant (onnx2tf's builtin table, MNN as probed, CoreML's NeuralNetwork
EP) still reads initializers, so a Constant node is rewritten into an initializer of the same name,
with no node left; rules that fold a node to a constant do the same instead of leaving an Identity.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import opswap
from conftest import make_model, ort_run, save_model, target_of, tensor
from opswap.rules import base as rules_base


def constant(name: str, **value: object) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], name=f"make_{name}", **value)


def initializers(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def test_constant_nodes_become_initializers_of_the_same_name(cli, tmp_path: Path) -> None:
    half = numpy_helper.from_array(np.array([0.5, 0.25, 2.0], dtype=np.float32))
    original = make_model(
        [
            constant("a", value=half),
            helper.make_node("Mul", ["x", "a"], ["xa"], name="mul"),
            constant("b", value=half),  # the same value again: its own initializer, its own name
            constant("k", value_float=3.0),
            helper.make_node("Add", ["xa", "b"], ["s"], name="add"),
            helper.make_node("Add", ["s", "k"], ["y"], name="add_k"),
            constant("ints", value_ints=[4, 5, 6]),  # a graph output computed by nothing but a Constant
        ],
        [tensor("x", [3])],
        [tensor("y", [3]), tensor("ints", [3], TensorProto.INT64)],
    )
    source = save_model(original, tmp_path / "m.onnx")
    target = target_of("Mul", "Add")

    model = opswap.load(source)
    report = opswap.legalize(model, target)
    assert report.complete and report.nodes_removed == 4 and report.nodes_added == 0
    assert [(r.op_type, r.route, len(r.nodes)) for r in report.rewrites] == [("Constant", "constant_as_initializer", 4)]
    graph = model.proto.graph
    assert [n.name for n in graph.node] == ["mul", "add", "add_k"]
    found = initializers(graph)
    assert set(found) == {"a", "b", "k", "ints"}
    np.testing.assert_array_equal(found["a"], numpy_helper.to_array(half))
    np.testing.assert_array_equal(found["b"], numpy_helper.to_array(half))
    assert found["k"].dtype == np.float32 and found["k"].shape == () and found["k"] == 3.0
    assert found["ints"].dtype == np.int64 and found["ints"].tolist() == [4, 5, 6]
    assert {t.name: t.doc_string for t in graph.initializer}["b"] == "opswap: constant_as_initializer from make_b"
    assert opswap.check(model, target).legal
    onnx.checker.check_model(model.proto, full_check=True)
    x = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    for want, got in zip(ort_run(original, {"x": x}), ort_run(model.proto, {"x": x}), strict=True):
        np.testing.assert_array_equal(got, want)

    # The CLI writes it for a target that lists no Constant and judges the file's own graph.
    profile = tmp_path / "no-constant.toml"
    profile.write_text('[target]\nname = "no-constant"\nsource = "test"\n[ops.Mul]\n[ops.Add]\n')
    done = cli("fix", source, "--target", profile, "-o", tmp_path / "out.onnx", "--no-convert")
    assert done.code == 0, done.stderr
    assert "4 nodes replaced by 0 and 4 initializers; 3 nodes now" in " ".join(done.stdout.split())
    written = onnx.load(str(tmp_path / "out.onnx"))
    assert "Constant" not in {n.op_type for n in written.graph.node}
    assert set(initializers(written.graph)) == {"a", "b", "k", "ints"}


def test_string_constants_become_string_initializers() -> None:
    original = make_model(
        [constant("s", value_strings=[b"left", b"right"]), helper.make_node("Identity", ["x"], ["y"], name="id")],
        [tensor("x", [2])],
        [tensor("y", [2]), tensor("s", [2], TensorProto.STRING)],
    )
    model = opswap.model.from_proto(original)
    assert opswap.legalize(model, target_of("Identity")).complete
    (_, strings) = ort_run(model.proto, {"x": np.zeros(2, dtype=np.float32)})
    assert strings.tolist() == ["left", "right"]


def _if_with_constants() -> onnx.ModelProto:
    """Then: x + Constant; else: a Constant as the branch's output."""
    then_branch = helper.make_graph(
        [constant("t_c", value_float=10.0), helper.make_node("Add", ["x", "t_c"], ["t_out"], name="t_add")],
        "then",
        [],
        [tensor("t_out", [2])],
    )
    else_value = numpy_helper.from_array(np.array([7.0, 8.0], dtype=np.float32))
    else_branch = helper.make_graph([constant("e_out", value=else_value)], "else", [], [tensor("e_out", [2])])
    return make_model(
        [
            helper.make_node("ReduceSum", ["x"], ["sum"], name="sum", keepdims=0),
            helper.make_node("Greater", ["sum", "zero"], ["cond"], name="gt"),
            helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then_branch, else_branch=else_branch),
        ],
        [tensor("x", [2])],
        [tensor("y", [2])],
        initializers=[numpy_helper.from_array(np.array(0, dtype=np.float32), "zero")],
    )


def test_constants_in_subgraphs_become_initializers_of_their_own_graph() -> None:
    original = _if_with_constants()
    model = opswap.model.from_proto(original)
    target = target_of("ReduceSum", "Greater", "If", "Add")
    assert opswap.legalize(model, target).complete
    graph = model.proto.graph
    branches = {a.name: a.g for a in graph.node[2].attribute}
    then_branch, else_branch = branches["then_branch"], branches["else_branch"]
    assert set(initializers(graph)) == {"zero"}
    assert set(initializers(then_branch)) == {"t_c"} and set(initializers(else_branch)) == {"e_out"}
    assert then_branch.node[0].op_type != "Constant" and not else_branch.node
    assert opswap.check(model, target).legal
    onnx.checker.check_model(model.proto, full_check=True)
    for x in (np.array([1.0, 2.0], dtype=np.float32), np.array([-1.0, -2.0], dtype=np.float32)):
        (want,) = ort_run(original, {"x": x})
        (got,) = ort_run(model.proto, {"x": x})
        np.testing.assert_array_equal(got, want)


def test_a_constant_in_a_function_body_has_no_route_and_says_why() -> None:
    function = helper.make_function(
        "local",
        "AddTen",
        ["a"],
        ["b"],
        [constant("ten", value_float=10.0), helper.make_node("Add", ["a", "ten"], ["b"], name="f_add")],
        [helper.make_opsetid("", 14)],
    )
    model = opswap.model.from_proto(
        make_model(
            [helper.make_node("AddTen", ["x"], ["y"], domain="local", name="call")],
            [tensor("x", [2])],
            [tensor("y", [2])],
            functions=[function],
            extra_opsets=[helper.make_opsetid("local", 1)],
        )
    )
    report = opswap.legalize(model, target_of("Add"))
    assert [(u.op_type, u.nodes) for u in report.unresolved] == [("Constant", ["function local.AddTen/make_ten"])]
    assert "this scope holds no initializers (a function body" in report.unresolved[0].explanation


def test_a_constant_stored_as_external_data_keeps_its_data(tmp_path: Path) -> None:
    """The value's bytes are not read: the initializer points at the same data, which fix copies."""
    weights = np.arange(4096, dtype=np.float32)
    value = numpy_helper.from_array(weights)
    value.data_location = TensorProto.EXTERNAL
    value.ClearField("raw_data")
    for key, entry in (("location", "w.bin"), ("offset", "0"), ("length", str(weights.nbytes))):
        value.external_data.add(key=key, value=entry)
    source_dir = tmp_path / "in"
    source_dir.mkdir()
    (source_dir / "w.bin").write_bytes(weights.tobytes())
    original = make_model(
        [constant("w", value=value), helper.make_node("Add", ["x", "w"], ["y"], name="add")],
        [tensor("x", [4096])],
        [tensor("y", [4096])],
    )
    source = save_model(original, source_dir / "m.onnx")
    out = tmp_path / "out" / "fixed.onnx"
    out.parent.mkdir()
    report = opswap.fix(opswap.load(source), target_of("Add"), out)
    assert report.ok and report.output == out
    written = onnx.load(str(out), load_external_data=False)
    (w,) = written.graph.initializer
    assert w.name == "w" and w.data_location == TensorProto.EXTERNAL and not w.raw_data
    x = np.ones(4096, dtype=np.float32)
    (got,) = ort_run(out, {"x": x})
    np.testing.assert_array_equal(got, x + weights)


@pytest.fixture
def shape_sum_rule() -> Iterator[None]:
    """A rule (for a test-only op) whose route folds an inner Shape node: a local initializer."""

    @rules_base.rule("ShapeSum", domain="opswap.test", emits=("Add", "Cast", "ReduceSum", "Shape"))
    def shapesum_via_shape(op: rules_base.Builder, x: rules_base.Value) -> rules_base.Value:
        return op.Add(x, op.Cast(op.ReduceSum(op.Shape(x), keepdims=1), to=x.dtype))

    yield
    del rules_base.REGISTRY["opswap.test", "ShapeSum"]


@pytest.mark.usefixtures("shape_sum_rule")
def test_a_folded_node_inside_a_route_becomes_an_initializer_per_copy() -> None:
    """y = x + sum(shape(x)), twice: the Shape inside each copy folds to its own initializer."""
    original = make_model(
        [
            helper.make_node("ShapeSum", ["x"], ["h"], domain="opswap.test", name="first"),
            helper.make_node("ShapeSum", ["h"], ["y"], domain="opswap.test", name="second"),
        ],
        [tensor("x", [2, 3])],
        [tensor("y", [2, 3])],
        extra_opsets=[helper.make_opsetid("opswap.test", 1)],
    )
    original.graph.value_info.append(tensor("h", [2, 3]))
    model = opswap.model.from_proto(original)
    target = target_of("Add", "Cast", "ReduceSum")
    report = opswap.legalize(model, target)
    assert report.complete
    graph = model.proto.graph
    assert collections.Counter(n.op_type for n in graph.node) == {"ReduceSum": 2, "Cast": 2, "Add": 2}
    folded = [t for t in graph.initializer if t.doc_string.startswith("opswap: shape_via_constant")]
    assert len(folded) == 2 and folded[0].name != folded[1].name
    assert all(numpy_helper.to_array(t).tolist() == [2, 3] for t in folded)
    reads = {name for n in graph.node for name in n.input}
    assert {t.name for t in folded} <= reads
    assert opswap.check(model, target).legal
    x = np.zeros((2, 3), dtype=np.float32)
    (got,) = ort_run(model.proto, {"x": x})
    np.testing.assert_array_equal(got, x + 10)


def test_a_static_shape_folds_to_an_initializer_not_an_identity() -> None:
    original = make_model(
        [
            helper.make_node("Shape", ["x"], ["shape"], name="shape"),
            helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape"),
        ],
        [tensor("x", [2, 3])],
        [tensor("y", [2, 3])],
    )
    model = opswap.model.from_proto(original)
    assert opswap.legalize(model, target_of("Reshape")).complete
    assert [n.op_type for n in model.proto.graph.node] == ["Reshape"]
    assert initializers(model.proto.graph)["shape"].tolist() == [2, 3]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(ort_run(model.proto, {"x": x})[0], x)
