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
