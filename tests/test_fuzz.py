"""Random valid graphs, random targets: fix never crashes, and what it writes is valid, legal and equal.

CI runs a few hundred examples; `make fuzz` runs thousands (OPSWAP_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

import opswap
from conftest import make_model, tensor
from opswap.schemas import since_version
from opswap.targets import OpSupport, Target

UNARY = ["Relu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Softsign", "Abs", "Neg", "LeakyRelu", "Elu", "Mish"]
BINARY = ["Add", "Mul", "Sub", "Max", "Min"]
ALWAYS = ["Add", "Mul", "Sub", "Max", "Min", "Clip", "Exp", "Log", "Tanh", "Div", "Less", "Where", "Relu"]
EXAMPLES = int(os.environ.get("OPSWAP_FUZZ_EXAMPLES", "150"))


@st.composite
def graphs(draw: st.DrawFn) -> tuple[onnx.ModelProto, Target]:
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    opset = draw(st.sampled_from([14, 17, 18]))
    unary = [op for op in UNARY if since_version(op, "", opset) is not None]
    values = ["x"]
    nodes = []
    for k in range(draw(st.integers(1, 8))):
        out = f"v{k}"
        if draw(st.integers(0, 5)) == 0:  # a Constant operand (an initializer where Constant is illegal)
            value = np.asarray(draw(st.lists(st.floats(-4, 4, width=32), min_size=1, max_size=1)), dtype=np.float32)
            constant = np.broadcast_to(value, shape).copy()
            nodes.append(helper.make_node("Constant", [], [out], name=f"n{k}", value=numpy_helper.from_array(constant)))
        elif draw(st.booleans()) and len(values) > 1:
            op = draw(st.sampled_from(BINARY))
            a, b = draw(st.sampled_from(values)), draw(st.sampled_from(values))
            nodes.append(helper.make_node(op, [a, b], [out], name=f"n{k}"))
        else:
            op = draw(st.sampled_from(unary))
            attrs = {}
            if op == "HardSigmoid":
                attrs = {"alpha": draw(st.floats(0.05, 1.0)), "beta": draw(st.floats(-1.0, 1.0))}
            elif op in ("LeakyRelu", "Elu"):
                attrs = {"alpha": draw(st.floats(0.01, 2.0))}
            nodes.append(helper.make_node(op, [draw(st.sampled_from(values))], [out], name=f"n{k}", **attrs))
        values.append(out)
    nodes.append(helper.make_node("Identity", [values[-1]], ["y"], name="out"))
    model = make_model(nodes, [tensor("x", shape)], [tensor("y", shape)], opset=opset)
    legal = set(ALWAYS) | set(draw(st.lists(st.sampled_from([*UNARY, "Constant"]), max_size=len(UNARY) + 1)))
    ops = {("", op): OpSupport(op) for op in legal | {"Identity"}}
    return model, Target(name="fuzz", description="", source="hypothesis", ops=ops)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_fix_on_random_graphs(tmp_path_factory, case) -> None:
    model, target = case
    folder = tmp_path_factory.mktemp("fuzz")
    source = folder / "m.onnx"
    onnx.save(model, str(source))
    out = folder / "fixed.onnx"
    report = opswap.fix(opswap.load(source), target, out, convert=False)
    if report.verification is not None and report.verification.vacuous:
        return  # every output zero or empty: no evidence either way (not a pass, and nothing written)
    if report.legal:
        assert report.ok, report.to_dict()
        # Verified, or nothing changed (a model is not compared with itself).
        assert report.unchanged or (report.verification is not None and report.verification.passed)
        assert report.unchanged == (report.verification is None)
        fixed = onnx.load(str(out))
        onnx.checker.check_model(fixed, full_check=True)
        written = opswap.check(opswap.load(out), target)
        assert written.legal
        # The check fix reports (derived from the legalizer's verdicts) is the written model's own.
        assert report.after.findings == written.findings and report.after.node_count == written.node_count
        # Idempotent: fixing the fixed model changes nothing, and writes the same bytes.
        again = folder / "again.onnx"
        second = opswap.fix(opswap.load(out), target, again, run_verify=False, convert=False)
        assert second.legalization.rewrites == []
        assert again.read_bytes() == out.read_bytes()
    else:
        # No route: said clearly, and nothing written.
        assert report.legalization.unresolved and report.output is None and not out.exists()
    assert np.all(np.isfinite([report.before.node_count]))
