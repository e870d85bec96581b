"""Every constraint kind a profile can state is checked, each on a single-node model."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper

import opswap
from conftest import make_model, tensor
from opswap.errors import TargetError
from opswap.targets import Level
from opswap.targets.profile import parse_profile


def target(body: str, header: str = "") -> opswap.Target:
    return parse_profile(f'[target]\nname = "t"\nsource = "test"\n{header}\n{body}', "t.toml")


def verdicts(model, t) -> dict[str, tuple[Level, str]]:
    report = opswap.check(opswap.model.from_proto(model), t)
    return {f.op_type: (f.level, f.reason) for f in report.findings}


def relu(shape, dtype=TensorProto.FLOAT, opset=14):
    return make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="r")],
        [tensor("x", shape, dtype)],
        [tensor("y", shape, dtype)],
        opset=opset,
    )


def test_max_rank_for_the_target_and_per_op() -> None:
    assert verdicts(relu([1, 2, 3, 4, 5, 6]), target("[ops.Relu]", "max_rank = 5"))["Relu"] == (
        Level.ERROR,
        "input 0 has rank 6 (at most 5)",
    )
    assert verdicts(relu([1, 2, 3, 4, 5]), target("[ops.Relu]", "max_rank = 5")) == {}
    assert verdicts(relu([1, 2, 3, 4, 5]), target("[ops.Relu]\nmax_rank = 4"))["Relu"][0] == Level.ERROR


def test_dtypes() -> None:
    t = target('[ops.Relu]\ndtypes = ["float", "float16"]')
    assert verdicts(relu([4]), t) == {}
    assert verdicts(relu([4], TensorProto.DOUBLE), t)["Relu"] == (
        Level.ERROR,
        "double input not supported (only float, float16)",
    )


def test_fixed_shapes() -> None:
    t = target("[ops.Relu]", "fixed_shapes = true")
    assert verdicts(relu([1, 3, 8, 8]), t) == {}
    assert verdicts(relu(["batch", 3, 8, 8]), t)["Relu"] == (
        Level.ERROR,
        "input 0 has a dynamic shape; t needs fixed shapes",
    )


def test_nodes_with_the_same_problem_form_one_group() -> None:
    """Reasons name input positions, not values: 40 Relus on dynamic shapes are one line, not 40."""
    t = target("[ops.Relu]\n[ops.Add]", "fixed_shapes = true")
    nodes = [helper.make_node("Relu", [f"v{k}"], [f"v{k + 1}"], name=f"relu{k}") for k in range(40)]
    nodes.append(helper.make_node("Add", ["v40", "x"], ["y"], name="add"))
    model = make_model(nodes, [tensor("v0", ["n", 4]), tensor("x", ["n", 4])], [tensor("y", ["n", 4])])
    groups = opswap.check(opswap.model.from_proto(model), t).groups(Level.ERROR)
    assert [(g.op_type, g.count, g.reason) for g in groups] == [
        ("Relu", 40, "input 0 has a dynamic shape; t needs fixed shapes"),
        ("Add", 1, "inputs 0, 1 have dynamic shapes; t needs fixed shapes"),
    ]


def test_only_the_first_output() -> None:
    t = target("[ops.Dropout]\noutputs = 1")
    one = make_model([helper.make_node("Dropout", ["x"], ["y"])], [tensor("x", [4])], [tensor("y", [4])], opset=13)
    two = make_model(
        [helper.make_node("Dropout", ["x"], ["y", "mask"])],
        [tensor("x", [4])],
        [tensor("y", [4]), tensor("mask", [4], TensorProto.BOOL)],
        opset=13,
    )
    assert verdicts(one, t) == {}
    assert verdicts(two, t)["Dropout"] == (Level.ERROR, "only the first 1 output(s) are produced")


def test_model_opset_range() -> None:
    t = target("[ops.Relu]", "model_opsets = [9, 13]")
    assert verdicts(relu([4], opset=13), t) == {}
    level, reason = verdicts(relu([4], opset=14), t)["(model opset)"]
    assert level == Level.ERROR and "opset 14 outside" in reason


def test_attribute_default_only_and_caveat() -> None:
    t = target('[ops.ArgMax]\nattributes = { select_last_index = [0] }\nnote = "checked nowhere"')
    model = make_model(
        [helper.make_node("ArgMax", ["x"], ["y"], select_last_index=1)],
        [tensor("x", [3, 4])],
        [tensor("y", [1, 4], TensorProto.INT64)],
        opset=13,
    )
    assert verdicts(model, t)["ArgMax"] == (Level.ERROR, "select_last_index=1 not supported (only 0)")
    model.graph.node[0].attribute[0].i = 0
    # Within the constraint, the note is still reported, as a caveat.
    assert verdicts(model, t)["ArgMax"] == (Level.CAVEAT, "checked nowhere")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[ops.Relu]\ndtypes = ["floaty"]', "not an ONNX element type"),
        ('[ops.Relu]\nmax_rank = "5"', "expected int"),
        ("[ops.Relu]\noutputs = [1]", "expected int"),
    ],
)
def test_bad_constraint_values(body: str, fragment: str) -> None:
    with pytest.raises(TargetError, match=fragment):
        target(body)


def test_model_opsets_must_be_a_range() -> None:
    with pytest.raises(TargetError, match="lowest, highest"):
        target("[ops.Relu]", "model_opsets = [13, 9]")


def test_qualcomms_kernel_shape_condition_is_decided_not_printed() -> None:
    """snpe-2.7: "kernel_shape which differs from that of weights is not supported", checked per node."""
    import numpy as np
    from onnx import numpy_helper

    def conv(**attrs: object):
        weights = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
        node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", **attrs)
        return make_model([node], [tensor("x", [1, 3, 8, 8])], [tensor("y", [1, 4, 6, 6])], 11, [weights])

    snpe = opswap.load_target("snpe-2.7")
    assert verdicts(conv(), snpe) == {}  # no attribute: the weights' own shape
    assert verdicts(conv(kernel_shape=[3, 3]), snpe) == {}
    level, reason = verdicts(conv(kernel_shape=[2, 2]), snpe)["Conv"]
    assert level == Level.ERROR and reason == "kernel_shape [2, 2] differs from the weights' [3, 3]"
    with pytest.raises(TargetError, match="unknown check 'nonsense'"):
        target('[ops.Conv]\nchecks = ["nonsense"]')
