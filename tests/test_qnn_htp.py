"""Qualcomm's QNN HTP backend in the loop (onnxruntime-qnn): placement, compile, DLC, context binary, on-target runs.

The HTP runs in simulation on x86 and is slow on big graphs, so these tests use small ones; the
MobileNetV3 and transformer conversions are in the README and the closing note, measured by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from conftest import make_model, save_model, tensor

pytest.importorskip("onnxruntime_qnn")
pytestmark = pytest.mark.qnn


def _conv_model(*activations: str) -> onnx.ModelProto:
    """Conv 3->8 channels on 16x16, then the given activations in a chain."""
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array((rng.standard_normal((8, 3, 3, 3)) * 0.4).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["a0"], pads=[1, 1, 1, 1], name="conv")]
    for k, op in enumerate(activations):
        nodes.append(helper.make_node(op, [f"a{k}"], [f"a{k + 1}"], name=op.lower()))
    nodes[-1].output[0] = "y"
    return make_model(
        nodes, [tensor("x", [1, 3, 16, 16])], [tensor("y", [1, 8, 16, 16])], opset=17, initializers=[weights]
    )


def test_refused_nodes_are_named_by_onnxruntimes_own_assignment(tmp_path: Path) -> None:
    from opswap.converters import qnn_htp

    path = save_model(_conv_model("HardSwish", "Erf", "Relu"), tmp_path / "m.onnx")
    assert qnn_htp.refused_nodes(str(path)) == [("erf", "Erf")]
    assert qnn_htp.refused_nodes(str(save_model(_conv_model("HardSwish"), tmp_path / "ok.onnx"))) == []


def test_convert_for_the_htp_writes_dlc_and_context_and_verifies_there(cli, tmp_path: Path) -> None:
    source = save_model(_conv_model("HardSwish", "HardSigmoid"), tmp_path / "m.onnx")
    out = tmp_path / "fixed.onnx"
    result = cli("convert", source, "--target", "qnn-htp", "-o", out, "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["converted"] and report["ok"]
    assert report["files"] == [str(tmp_path / "fixed.dlc"), str(tmp_path / "fixed_ctx.onnx")]
    assert (tmp_path / "fixed.dlc").stat().st_size > 1000
    context = onnx.load(str(tmp_path / "fixed_ctx.onnx"))
    assert [n.op_type for n in context.graph.node] == ["EPContext"]
    runtime = report["runtime"]
    assert runtime["passed"] and runtime["rtol"] == 5e-2
    assert 0 < runtime["max_rel"] < 5e-2 and runtime["cosine"] > 0.999  # fp16: close, not exact
    assert report["runtime_original"]["passed"]  # the HTP takes this original as it is too


def test_nodes_the_htp_refuses_are_legalized_again_in_a_second_round(cli, tmp_path: Path) -> None:
    """A profile claiming Softsign: the HTP refuses it, the loop rewrites it and recompiles."""
    ops = "Conv HardSwish Softsign Abs Add Div Mul Clip HardSigmoid"
    body = "\n".join(f"[ops.{op}]" for op in ops.split())
    profile = tmp_path / "claims.toml"
    profile.write_text(
        f'[target]\nname = "claims"\nsource = "a test"\nconverter = "qnn-htp"\n'
        f'converter_output_suffix = ".dlc"\n{body}\n'
    )
    source = save_model(_conv_model("HardSwish", "Softsign"), tmp_path / "m.onnx")
    result = cli("convert", source, "--target", profile, "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert [r["rejected"] for r in report["rounds"]] == [["Softsign"], []]
    assert report["runtime"]["passed"]
    fixed = onnx.load(str(tmp_path / "fixed.onnx"))
    assert "Softsign" not in {n.op_type for n in fixed.graph.node}
    assert report["original_note"].startswith("the HTP does not take the original")


def test_the_shipped_profile_is_the_probe_of_this_backend() -> None:
    import opswap

    target = opswap.load_target("qnn-htp")
    assert "onnxruntime-qnn" in target.source and "QNN v2.51" in target.source and "soc_model 60" in target.source
    assert target.converter == "qnn-htp"
    for accepted in ("HardSwish", "HardSigmoid", "Conv", "Relu", "Softmax"):
        assert target.support(accepted) is not None, accepted
    for refused in ("Erf", "Softsign", "Trilu"):
        assert target.support(refused) is None, refused


@pytest.mark.torch
def test_a_transformer_converts_for_the_htp_every_node_on_it(cli, tmp_path: Path) -> None:
    """ConvNeXt-T (TorchScript, opset 17, 64x64): GELU fused, LayerNormalization as the HTP takes it."""
    pytest.importorskip("torchvision")
    out = tmp_path / "convnext.onnx"
    args = ["convert", "torchvision:convnext_tiny", "--opset", "17", "--input-shape", "input=1,3,64,64"]
    result = cli(*args, "--target", "qnn-htp", "-o", out, "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["fix"]["before"]["illegal"], "the export should have needed fixing"
    assert sum(report["fix"]["fused"].values()) == 18
    assert [r["rejected"] for r in report["rounds"]] == [[]]  # every node on the HTP in round 1
    assert report["runtime"]["passed"] and report["runtime"]["max_rel"] < 1e-2
    assert "Erf" not in {n.op_type for n in onnx.load(str(out)).graph.node}


def test_routes_for_what_the_htp_lacks_run_on_it(cli, tmp_path: Path) -> None:
    """Softsign, Celu, Shrink, Trilu, Hardmax: refused by the HTP, rewritten exactly, every node on the HTP."""
    nodes = [
        helper.make_node("Softsign", ["x"], ["a"]),
        helper.make_node("Celu", ["a"], ["b"], alpha=0.7),
        helper.make_node("Shrink", ["b"], ["c"], lambd=0.1, bias=0.05),
        helper.make_node("Trilu", ["c"], ["d"], upper=1),
        helper.make_node("Hardmax", ["d"], ["h"], axis=-1),
        helper.make_node("Add", ["d", "h"], ["y"]),
    ]
    model = make_model(nodes, [tensor("x", [1, 4, 8, 8])], [tensor("y", [1, 4, 8, 8])], opset=17)
    source = save_model(model, tmp_path / "m.onnx")
    result = cli("convert", source, "--target", "qnn-htp", "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert {r["op_type"] for r in report["fix"]["rewrites"]} == {"Softsign", "Celu", "Shrink", "Trilu", "Hardmax"}
    assert all(r["exact"] for r in report["fix"]["rewrites"])
    assert report["fix"]["verification"]["max_rel"] < 1e-6  # exact in fp32
    assert [r["rejected"] for r in report["rounds"]] == [[]] and report["runtime"]["passed"]
    assert report["runtime_original"] is None and "does not take the original" in report["original_note"]


def test_einsum_runs_on_the_htp_as_a_batched_matmul(cli, tmp_path: Path) -> None:
    """The HTP refuses Einsum in every node-test form; nchw,wv->nchv and bij,bjk->bik become MatMul-based."""
    rng = np.random.default_rng(0)
    v = numpy_helper.from_array(rng.standard_normal((8, 5)).astype(np.float32), "v")
    nodes = [
        helper.make_node("Einsum", ["x", "v"], ["a"], equation="nchw,wv->nchv"),
        helper.make_node("Reshape", ["a", "s"], ["b"]),
        helper.make_node("Einsum", ["b", "b"], ["y"], equation="bij,bkj->bik"),
    ]
    shape = numpy_helper.from_array(np.array([6, 4, 5], np.int64), "s")
    model = make_model(nodes, [tensor("x", [1, 6, 4, 8])], [tensor("y", [6, 4, 4])], opset=17, initializers=[v, shape])
    source = save_model(model, tmp_path / "m.onnx")
    result = cli("convert", source, "--target", "qnn-htp", "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert [r["op_type"] for r in report["fix"]["rewrites"]] == ["Einsum"]
    assert report["fix"]["verification"]["max_rel"] < 1e-6
    assert [r["rejected"] for r in report["rounds"]] == [[]] and report["runtime"]["passed"]


def test_the_shipped_profile_agrees_with_the_backend_today() -> None:
    """Probe a sample of ops on the installed HTP again: accepted exactly where the shipped profile lists them."""
    import opswap
    from opswap.probe import probe

    sample = {"HardSwish", "HardSigmoid", "Relu", "Gelu", "Erf", "Softsign", "Trilu", "Einsum", "Celu"}
    fresh = probe("qnn-htp", sample)
    shipped = opswap.load_target("qnn-htp")
    assert set(fresh.ops) == sample
    assert {op for op, r in fresh.ops.items() if r.supported} == {op for op in sample if shipped.support(op)}


def test_a_qdq_model_runs_on_the_htp_in_int8_after_its_hardsigmoid_is_rewritten(cli, tmp_path: Path) -> None:
    """The HTP refuses an int8 HardSigmoid unit; the rewrite keeps it quantized, and the HTP takes it.

    (It takes HardSigmoid with uint8 activations: measured with the same model quantized both ways.)

    The fixed model is compared with the original, both on the HTP, in quantization steps, against
    the HTP's own spread (the original there vs ONNX Runtime's CPU).
    """
    from opswap.converters import qnn_htp
    from test_quant import _float_net, quantize

    source = quantize(
        save_model(_float_net(16, 16), tmp_path / "net.onnx"), tmp_path / "qdq.onnx", "int8", True, (1, 3, 16, 16)
    )
    refused = {op for _, op in qnn_htp.refused_nodes(str(source))}
    assert "HardSigmoid" in refused
    out = tmp_path / "fixed.onnx"
    result = cli("convert", source, "--target", "qnn-htp", "-o", out, "--samples", "4", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert report["converted"] and report["ok"]
    assert report["rounds"][0]["rejected"] == ["HardSigmoid"]  # the unit's op, not its Q and DQ
    fixed = onnx.load(str(out))
    io = qnn_htp.graph_io_quantization(fixed)
    assert [name for name, _ in qnn_htp.refused_nodes(str(out)) if name not in io] == []
    assert report["fix"]["verification"]["quantized"]["max_steps"] <= 1
    runtime = report["runtime"]
    assert runtime["precision"] == "qdq" and runtime["spread"] is not None and runtime["passed"]
    assert runtime["within_one_step"] is not None and runtime["spread"]["within_one_step"] is not None
    assert "the HTP refuses" in report["original_note"] and "HardSigmoid" in report["original_note"]
