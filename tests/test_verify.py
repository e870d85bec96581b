"""Verification verdicts: what top-1 is taken over, and which flips the tolerance forgives."""

from __future__ import annotations

import numpy as np

from opswap.verify import measure


def test_a_near_tie_may_flip_within_the_tolerance_and_a_decisive_row_may_not() -> None:
    ref = np.array([[1.0, 1.0 - 1e-7, 0.0], [3.0, 0.0, 1.0]])
    tie = ref.copy()
    tie[0, 1] += 2e-7  # within rtol 1e-5 of the scale, the argmax of row 0 moves
    report = measure(["y"], [([ref], [tie])])
    assert report.top1_agreement == 0.5 and report.near_ties == 1 and report.passed
    decisive = ref.copy()
    decisive[1, 2] = 3.0 + 2e-5
    assert not measure(["y"], [([ref], [decisive])]).passed


def test_top1_is_for_classifier_shaped_outputs_only() -> None:
    """A segmentation map's last axis is its width: its argmax says nothing, its error says all."""
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((1, 21, 8, 8))
    moved = dense + rng.standard_normal(dense.shape) * 1e-7
    report = measure(["map"], [([dense], [moved])])
    assert report.top1_agreement is None and report.passed
    logits = rng.standard_normal((2, 10))
    assert measure(["logits"], [([logits], [logits])]).top1_agreement == 1.0
    tokens = rng.standard_normal((1, 5, 30))
    assert measure(["tokens"], [([tokens], [tokens])]).outputs[0].top1_rows == 5


def test_a_comparison_of_nothing_is_not_a_pass(tmp_path) -> None:
    """A model whose outputs are empty (a detector that finds no box) proves nothing: not PASSED."""
    from onnx import TensorProto, helper

    from conftest import make_model, run_cli, save_model, tensor

    nodes = [
        helper.make_node("Greater", ["x", "big"], ["hit"]),
        helper.make_node("NonZero", ["hit"], ["boxes"]),
    ]
    big = helper.make_tensor("big", TensorProto.FLOAT, [1], [1e9])
    model = make_model(nodes, [tensor("x", [4, 5])], [tensor("boxes", [2, "n"], TensorProto.INT64)], 17, [big])
    source = save_model(model, tmp_path / "detector.onnx")
    done = run_cli("fix", source, "-t", "tensorrt-10", "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert done.code == 1, done.stdout + done.stderr
    v = done.json()["verification"]
    assert v["vacuous"] and not v["passed"] and not (tmp_path / "fixed.onnx").exists()
    assert "give inputs that exercise the model" in done.json()["not_written"]
    text = run_cli("fix", source, "-t", "tensorrt-10", "-o", tmp_path / "fixed.onnx")
    assert "nothing was compared" in text.stdout and "PASSED" not in text.stdout
    ref = np.zeros((2, 3))
    assert measure(["y"], [([ref], [ref])]).vacuous
    assert not measure(["y"], [([ref + 1], [ref + 1])]).vacuous


def test_a_failed_fix_names_the_rewrite_whose_outputs_differ(tmp_path) -> None:
    """Issue 15, point 11: the rewritten nodes' outputs (they keep the replaced nodes' names) are compared
    one by one; the first that differs names its rewrite, not the exact one before it."""
    from onnx import helper

    import opswap
    from conftest import make_model, save_model, target_of, tensor

    model = make_model(
        [
            helper.make_node("HardSwish", ["x"], ["hs"], name="act"),
            helper.make_node("Erf", ["hs"], ["e"], name="erf"),
            helper.make_node("Relu", ["e"], ["r"], name="relu"),
            helper.make_node("Erf", ["r"], ["y"], name="erf2"),
        ],
        [tensor("x", [4, 64])],
        [tensor("y", [4, 64])],
    )
    target = target_of("Mul", "Add", "Sub", "Div", "Abs", "Sign", "Exp", "Relu", "HardSigmoid")
    source = save_model(model, tmp_path / "m.onnx")
    report = opswap.fix(source, target, tmp_path / "fixed.onnx", allow_approx=True, rtol=1e-12)
    v = report.verification
    assert v is not None and not v.passed and not (tmp_path / "fixed.onnx").exists()
    per = v.per_value
    assert per is not None and [x.name for x in per.values] == ["hs", "e", "y"]  # the rewritten nodes' outputs
    assert not per.values[0].differs(per.rtol) and per.values[0].metrics.max_abs == 0.0  # HardSwish: exact
    first = per.first
    assert first is not None and first.name == "e" and first.node == "erf" and "erf_via_polynomial" in first.route
    assert 0 < first.metrics.max_abs < 1e-5  # the polynomial's error, measured on the Erf's own output
    data = report.to_dict()["verification"]["per_value"]
    assert data["first"]["route"] == ["erf_via_polynomial"] and data["compared"] == 3

    # Where verification passes, nothing is compared one by one (it costs a run per value set).
    passed = opswap.fix(source, target, tmp_path / "ok.onnx", allow_approx=True)
    assert passed.verification is not None and passed.verification.passed and passed.verification.per_value is None


def test_verify_per_node_names_where_two_models_part(tmp_path) -> None:
    """``verify --per-node``: every value both compute under one name, in the reference's order."""
    from onnx import helper, numpy_helper

    from conftest import make_model, run_cli, save_model, tensor

    def net(scale: float) -> object:
        return make_model(
            [
                helper.make_node("Relu", ["x"], ["r"], name="relu"),
                helper.make_node("Mul", ["r", "c"], ["m"], name="scale"),
                helper.make_node("Tanh", ["m"], ["y"], name="tanh"),
            ],
            [tensor("x", [2, 8])],
            [tensor("y", [2, 8])],
            initializers=[numpy_helper.from_array(np.full([8], scale, np.float32), "c")],
        )

    a = save_model(net(2.0), tmp_path / "a.onnx")  # type: ignore[arg-type]
    b = save_model(net(2.001), tmp_path / "b.onnx")  # type: ignore[arg-type]
    result = run_cli("verify", a, b, "--per-node")
    assert result.code == 1, result.stderr
    assert f"ONNX Runtime (CPU), {a} vs {b}" in result.stdout  # the pair as named, not "original vs fixed"
    assert "Compared one by one: 3 values both models compute" in result.stdout
    assert (
        "the first value that differs: 2 of 3 values differ; the first is 'm', computed by Mul 'scale'" in result.stdout
    )
    data = run_cli("verify", a, b, "--per-node", "-f", "json").json()["per_value"]
    assert [v["name"] for v in data["values"]] == ["r", "m", "y"] and data["first"]["name"] == "m"
    assert data["values"][0]["max_abs"] == 0.0 and data["first"]["route"] is None
    same = run_cli("verify", a, a, "--per-node")
    assert same.code == 0 and "all agree within 1e-05" in same.stdout


def test_a_per_value_comparison_holds_at_most_max_compared_values(tmp_path, monkeypatch) -> None:
    """Each compared value is a model output kept on every run: past the cap they are counted, not held."""
    import importlib

    from onnx import helper

    from conftest import make_model, tensor
    from opswap.model import from_proto

    v = importlib.import_module("opswap.verify")  # the module (opswap.verify is also the function)

    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["b"])]
    nodes.append(helper.make_node("Abs", ["b"], ["y"]))
    model = from_proto(make_model(nodes, [tensor("x", [2, 3])], [tensor("y", [2, 3])]))
    monkeypatch.setattr(v, "MAX_COMPARED", 2)
    names = v.shared_values(model.proto, model.proto)
    per = v.compare_values(model, model, names, v.random_inputs(model.proto, 2), 1e-5)
    assert [x.name for x in per.values] == ["a", "b"] and per.left_out == 1 and per.first is None
    assert str(per) == "all 2 values compared agree (tolerance 1e-05); 1 later values not compared"
