"""Whole-pattern rewrites: GELU as exported below opset 20 becomes one Gelu node where Erf is illegal."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import opswap
from conftest import make_model, node_tests_of, ort_run, read_test_data, target_of, tensor

NO_ERF = target_of("Div", "Add", "Mul", "Relu", '"com.microsoft:Gelu"')


def _torch_gelu(shape: list[int], order: str = "torch", extra_erf: bool = False) -> onnx.ModelProto:
    """GELU the way torch's TorchScript exporter writes it (opset < 20), then Relu; optionally a lone Erf."""
    constants = [
        numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("sqrt2", 2**0.5), ("one", 1.0), ("half", 0.5))
    ]
    nodes = [
        helper.make_node("Div", ["x", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"] if order == "torch" else ["one", "e"], ["p"]),
    ]
    if order == "torch":  # Mul(Mul(x, 1 + erf), 0.5)
        nodes += [helper.make_node("Mul", ["x", "p"], ["m"]), helper.make_node("Mul", ["m", "half"], ["g"])]
    else:  # ONNX's own Gelu body: Mul(Mul(0.5, x), 1 + erf)
        nodes += [helper.make_node("Mul", ["half", "x"], ["m"]), helper.make_node("Mul", ["m", "p"], ["g"])]
    nodes.append(helper.make_node("Relu", ["g"], ["y"]))
    outputs = [tensor("y", shape)]
    if extra_erf:
        nodes.append(helper.make_node("Erf", ["x"], ["lone"]))
        outputs.append(tensor("lone", shape))
    return make_model(nodes, [tensor("x", shape)], outputs, opset=17, initializers=constants)


@pytest.mark.parametrize("order", ["torch", "onnx"])
def test_gelu_pattern_matches_onnxs_gelu_node_tests(order: str) -> None:
    """Fused, the pattern computes what ONNX's own Gelu node tests expect (relu of it, here)."""
    cases = [c for c in node_tests_of("Gelu") if "tanh" not in c.name and "expanded" not in c.name]
    assert cases, "no Gelu node tests in the onnx wheel"
    for case in cases:
        reference = onnx.load(str(case / "model.onnx"))
        for inputs, expected in read_test_data(case, reference):
            (x,) = inputs.values()
            model = opswap.model.from_proto(_torch_gelu(list(x.shape), order))
            report = opswap.legalize(model, NO_ERF)
            assert report.fused == {"x * 0.5 * (1 + Erf(x / sqrt(2))) -> Gelu": 1}, case.name
            assert [n.op_type for n in model.proto.graph.node] == ["Gelu", "Relu"]
            (got,) = ort_run(model.proto, {"x": x})
            np.testing.assert_allclose(got, np.maximum(expected[0], 0), rtol=1e-6, atol=1e-7)


def test_a_lone_erf_stays_illegal_and_the_report_says_why() -> None:
    model = opswap.model.from_proto(_torch_gelu([2, 8], extra_erf=True))
    report = opswap.legalize(model, NO_ERF)
    assert sum(report.fused.values()) == 1
    (left,) = report.unresolved
    assert left.op_type == "Erf" and "--allow-approx" in left.explanation


def test_nothing_is_fused_where_erf_is_legal_or_no_gelu_is() -> None:
    with_erf = target_of("Div", "Add", "Mul", "Relu", "Erf", '"com.microsoft:Gelu"')
    model = opswap.model.from_proto(_torch_gelu([2, 8]))
    assert opswap.legalize(model, with_erf).fused == {}
    assert opswap.legalize(model, target_of("Div", "Add", "Mul", "Relu")).fused == {}
    assert [n.op_type for n in model.proto.graph.node] == ["Div", "Erf", "Add", "Mul", "Mul", "Relu"]


def test_a_pattern_whose_parts_are_read_elsewhere_is_left_alone() -> None:
    model = _torch_gelu([2, 8])
    model.graph.output.append(tensor("e", [2, 8]))  # the Erf's output is also a graph output
    wrapped = opswap.model.from_proto(model)
    assert opswap.legalize(wrapped, NO_ERF).fused == {}


def test_opset_20_models_get_the_standard_gelu() -> None:
    model = _torch_gelu([2, 8])
    model.opset_import[0].version = 20
    wrapped = opswap.model.from_proto(model)
    opswap.legalize(wrapped, target_of("Div", "Add", "Mul", "Relu", "Gelu", '"com.microsoft:Gelu"'))
    (gelu,) = [n for n in wrapped.proto.graph.node if n.op_type == "Gelu"]
    assert gelu.domain == ""
