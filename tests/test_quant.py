"""Deployment precision: QDQ models stay quantized when fixed, and every precision is verified as it runs.

QDQ models are made the way users make them: ONNX Runtime's ``quantize_static`` (QDQ format) on a
float model, calibrated on seeded random data, with uint8 or int8 activations and per-tensor or
per-channel weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import make_model, ort_run, run_cli, save_model, target_of, tensor
from opswap import quant
from opswap.fix import fix
from opswap.model import load
from opswap.targets import load_target
from opswap.verify import FP16_ULPS, verify

ort_quant = pytest.importorskip("onnxruntime.quantization")


def _float_net(channels: int = 8, size: int = 8, seed: int = 0) -> onnx.ModelProto:
    """Conv -> HardSwish -> depthwise Conv -> HardSigmoid -> Mul -> pool -> Gemm: MobileNetV3's activations."""
    rng = np.random.default_rng(seed)

    def init(name: str, shape: tuple[int, ...], scale: float = 0.3) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["a1"], name="hswish"),
        helper.make_node("Conv", ["a1", "w2", "b2"], ["c2"], name="conv2", group=channels),
        helper.make_node("HardSigmoid", ["c2"], ["g"], name="hsigmoid", alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["a1", "g"], ["m"], name="gate"),
        helper.make_node("GlobalAveragePool", ["m"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1),
    ]
    initializers = [
        init("w1", (channels, 3, 3, 3)),
        init("b1", (channels,)),
        init("w2", (channels, 1, 1, 1), 1.0),
        init("b2", (channels,)),
        init("w3", (10, channels)),
        init("b3", (10,)),
    ]
    return make_model(nodes, [tensor("x", [1, 3, size, size])], [tensor("y", [1, 10])], 14, initializers)


class _Reader(ort_quant.CalibrationDataReader):  # type: ignore[misc,name-defined]
    def __init__(self, shape: tuple[int, ...], name: str, n: int = 8) -> None:
        rng = np.random.default_rng(0)
        self._batches = iter([{name: rng.standard_normal(shape).astype(np.float32) * 2} for _ in range(n)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize(float_model: Path, out: Path, activations: str, per_channel: bool, shape: tuple[int, ...]) -> Path:
    """ONNX Runtime's static QDQ quantization, as a user runs it."""
    kind = {"uint8": ort_quant.QuantType.QUInt8, "int8": ort_quant.QuantType.QInt8}[activations]
    name = onnx.load(float_model, load_external_data=False).graph.input[0].name
    ort_quant.quantize_static(
        str(float_model),
        str(out),
        _Reader(shape, name),
        quant_format=ort_quant.QuantFormat.QDQ,
        per_channel=per_channel,
        activation_type=kind,
        weight_type=ort_quant.QuantType.QInt8,
    )
    return out


@pytest.fixture(scope="module")
def qdq_models(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Path]:
    folder = tmp_path_factory.mktemp("qdq")
    source = save_model(_float_net(), folder / "net.onnx")
    return {
        (kind, per_channel): quantize(
            source, folder / f"net-{kind}-{per_channel}.onnx", kind, per_channel, (1, 3, 8, 8)
        )
        for kind in ("uint8", "int8")
        for per_channel in (False, True)
    }


def _made_by_opswap(node: onnx.NodeProto) -> bool:
    return any(e.key == "opswap.source" for e in node.metadata_props)


def _initializer(model: onnx.ModelProto, name: str) -> np.ndarray:
    return numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == name))


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
@pytest.mark.parametrize("activations", ["uint8", "int8"])
def test_fixed_qdq_units_stay_quantized(
    qdq_models: dict[tuple[str, bool], Path], tmp_path: Path, activations: str, per_channel: bool
) -> None:
    """Every node a rewrite adds sits in a unit; new grids keep the model's types; nothing new is float."""
    source = qdq_models[activations, per_channel]
    original = onnx.load(source)
    model = load(source)
    report = fix(model, load_target("snpe-2.7"), tmp_path / "fixed.onnx")
    assert report.ok, report.not_written
    fixed = onnx.load(tmp_path / "fixed.onnx")  # what was written, read back

    q = report.legalization.quantization
    assert q is not None and q.pairs > 0 and q.constants > 0 and not q.skipped
    after = quant.facts(fixed.graph)
    before = quant.facts(original.graph)
    made = [i for i, n in enumerate(fixed.graph.node) if _made_by_opswap(n) and not quant.is_qdq(n)]
    assert made and all(i in after.units for i in made), "a rewritten node left its unit"
    assert set(after.unencoded) == set(before.unencoded), "the fix left a float tensor without an encoding"
    assert len(after.outside) == len(before.outside)

    zero_type = {TensorProto.UINT8: "uint8", TensorProto.INT8: "int8"}
    new_pairs = [n for n in fixed.graph.node if any(e.key == "opswap.encoding" for e in n.metadata_props)]
    assert new_pairs
    for node in new_pairs:
        zp = next(t for t in fixed.graph.initializer if t.name == node.input[2])
        assert zero_type[zp.data_type] == activations
    stored = {t.name for t in fixed.graph.initializer}
    constants = [
        n for n in fixed.graph.node if n.op_type == "DequantizeLinear" and _made_by_opswap(n) and n.input[0] in stored
    ]
    conv_weights = [n for n in constants if _initializer(fixed, n.input[0]).ndim == 4]
    assert conv_weights
    for dq in conv_weights:
        assert _initializer(fixed, dq.input[0]).dtype == np.int8
        assert _initializer(fixed, dq.input[1]).size == (
            _initializer(fixed, dq.input[0]).shape[0] if per_channel else 1
        )
    biases = [n for n in constants if _initializer(fixed, n.input[0]).dtype == np.int32]
    assert biases, "a Conv's bias is quantized to int32, as ORT's quantizer writes it"

    v = report.verification
    assert v is not None and v.precision == "qdq" and v.quantized is not None
    assert v.quantized.max_steps <= 1 and v.passed
    assert ort_run(tmp_path / "fixed.onnx", {"x": np.ones((1, 3, 8, 8), np.float32)}, optimize=True)


def test_a_hardsigmoid_unit_is_rewritten_without_changing_a_code(qdq_models: dict[tuple[str, bool], Path]) -> None:
    """HardSigmoid's output grid is [0, 1]: the affine part quantized onto it saturates where Clip would."""
    model = load(qdq_models["uint8", True])
    original = onnx.ModelProto()
    original.CopyFrom(model.proto)
    target = load_target("snpe-2.7")
    report = fix(model, target)
    q = report.legalization.quantization
    assert q is not None and q.tensors.get("clip's grid", 0) >= 2
    v = report.verification
    assert v is not None and v.quantized is not None
    units = {u.label: u for u in v.quantized.units}
    assert units["hsigmoid"].changed == 0 and units["hsigmoid"].elements > 0
    # HardSwish needs one 8-bit rounding more (its HardSigmoid factor): at most one step, and measured.
    assert units["hswish"].max_steps <= 1


def test_unit_comparison_sees_a_wrong_encoding(qdq_models: dict[tuple[str, bool], Path], tmp_path: Path) -> None:
    """The per-unit verdict fails when a new pair's encoding is wrong (the check can fail)."""
    source = qdq_models["int8", False]
    model = load(source)
    report = fix(model, load_target("snpe-2.7"), tmp_path / "fixed.onnx")
    assert report.ok
    fixed = onnx.load(tmp_path / "fixed.onnx")
    for node in fixed.graph.node:
        if node.op_type == "QuantizeLinear" and any(e.key == "opswap.encoding" for e in node.metadata_props):
            scale = next(t for t in fixed.graph.initializer if t.name == node.input[1])
            scale.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(scale) * 8, scale.name))
    broken = save_model(fixed, tmp_path / "broken.onnx")
    result = verify(load(source), load(broken))
    assert result.quantized is not None and result.quantized.max_steps > 1 and not result.passed


def _qdq_unit(op: str, shape: list[int], low: float, high: float, out_low: float, out_high: float) -> onnx.ModelProto:
    """x -> Q -> DQ -> op -> Q -> DQ -> y, uint8 grids over the given ranges: one node unit."""

    def grid(prefix: str, lo: float, hi: float) -> list[onnx.TensorProto]:
        scale = np.float32((hi - lo) / 255)
        return [
            numpy_helper.from_array(np.array(scale, np.float32), f"{prefix}_scale"),
            numpy_helper.from_array(np.array(round(-lo / float(scale)), np.uint8), f"{prefix}_zero"),
        ]

    nodes = [
        helper.make_node("QuantizeLinear", ["x", "in_scale", "in_zero"], ["xq"], name="qx"),
        helper.make_node("DequantizeLinear", ["xq", "in_scale", "in_zero"], ["xd"], name="dqx"),
        helper.make_node(op, ["xd"], ["u"], name="unit"),
        helper.make_node("QuantizeLinear", ["u", "out_scale", "out_zero"], ["uq"], name="qu"),
        helper.make_node("DequantizeLinear", ["uq", "out_scale", "out_zero"], ["y"], name="dqu"),
    ]
    grids = grid("in", low, high) + grid("out", out_low, out_high)
    return make_model(nodes, [tensor("x", shape)], [tensor("y", shape)], initializers=grids)


def test_new_tensors_without_a_bound_are_calibrated(tmp_path: Path) -> None:
    """Softplus through Exp, Add and Log: Log's output has no interval, so its range is calibrated."""
    source = save_model(_qdq_unit("Softplus", [1, 4, 6, 6], -8.0, 8.0, 0.0, 8.0), tmp_path / "q.onnx")
    target = target_of("Mul", "Add", "Exp", "Log", "Abs", "Relu", "Neg", "QuantizeLinear", "DequantizeLinear")

    def calibrated_scale(calibration: list[dict[str, np.ndarray]] | None) -> float:
        model = load(source)
        report = fix(model, target, calibration=calibration, allow_approx=True)
        q = report.legalization.quantization
        assert q is not None and q.tensors.get("calibrated", 0) >= 1, q
        pair = next(
            n
            for n in model.proto.graph.node
            if any(e.key == "opswap.encoding" and e.value == "calibrated" for e in n.metadata_props)
        )
        return float(_initializer(model.proto, pair.input[1]))

    # log(1 + exp(-|x|)) reaches ln 2 at x = 0 and stays under 0.05 where |x| >= 3.
    rng = np.random.default_rng(3)
    near_zero = [{"x": (rng.standard_normal((1, 4, 6, 6)) * 0.1).astype(np.float32)}]
    far = [{"x": (3 + np.abs(rng.standard_normal((1, 4, 6, 6)))).astype(np.float32)}]
    assert calibrated_scale(near_zero) == pytest.approx(np.log(2) / 255, rel=0.05)
    assert calibrated_scale(far) < calibrated_scale(near_zero) / 10
    assert calibrated_scale(None) > 0  # seeded random inputs by default


def test_cli_calibrate_and_check_report_quantization(qdq_models: dict[tuple[str, bool], Path], tmp_path: Path) -> None:
    source = qdq_models["uint8", True]
    checked = run_cli("check", source, "-t", "snpe-2.7", "--format", "json")
    assert checked.code == 1, checked.stderr
    q = checked.json()["quantization"]
    assert q["illegal_in_units"] == 2 and q["illegal_outside_units"] == 0 and q["units"] > 0
    text = run_cli("check", source, "-t", "snpe-2.7")
    assert "Quantized (QDQ)" in text.stdout and "2 illegal nodes sit in units" in text.stdout

    rng = np.random.default_rng(5)
    np.savez(tmp_path / "calib.npz", x=rng.standard_normal((1, 3, 8, 8)).astype(np.float32))
    done = run_cli(
        "fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx", "--calibrate", tmp_path / "calib.npz",
        "--format", "json",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    data = done.json()
    assert data["quantization"]["pairs"] >= 3
    assert data["verification"]["quantized"]["max_steps"] <= 1
    shown = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed2.onnx")
    assert "Kept quantized" in shown.stdout and "rewritten units" in shown.stdout and "PASSED" in shown.stdout
    after = run_cli("check", tmp_path / "fixed2.onnx", "-t", "snpe-2.7", "--format", "json").json()
    assert after["legal"] and after["quantization"]["unencoded_tensors"] == q["unencoded_tensors"]


def _to_type(model: onnx.ModelProto, elem: int) -> onnx.ModelProto:
    np_type = helper.tensor_dtype_to_np_dtype(elem)
    for t in model.graph.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np_type), t.name))
    for info in (*model.graph.input, *model.graph.output, *model.graph.value_info):
        if info.type.tensor_type.elem_type == TensorProto.FLOAT:
            info.type.tensor_type.elem_type = elem
    return model


def test_fp16_model_fixes_and_verifies_at_default_settings(tmp_path: Path) -> None:
    source = save_model(_to_type(_float_net(16, 16), TensorProto.FLOAT16), tmp_path / "net16.onnx")
    done = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    v = done.json()["verification"]
    assert v["precision"] == "float16" and v["rtol"] == pytest.approx(FP16_ULPS * 2.0**-10)
    assert 0 < v["max_rel"] <= v["rtol"] and v["ulps"] == pytest.approx(v["max_rel"] / 2.0**-10)
    # The same rewrite is about a float16 ULP off ORT's kernel: a float32 tolerance would refuse it.
    strict = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "strict.onnx", "--rtol", "1e-5")
    assert strict.code == 1 and "FAILED" in strict.stdout and not (tmp_path / "strict.onnx").exists()
    assert "float16 ULPs" in run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "f2.onnx").stdout


def test_fp64_model_verifies_where_ort_has_no_double_kernel(tmp_path: Path) -> None:
    """ORT has no double HardSwish: the original runs on onnx's reference evaluator; the fix on ORT."""
    model = make_model(
        [helper.make_node("HardSwish", ["x"], ["y"], name="hs")],
        [tensor("x", [2, 3, 8, 8], TensorProto.DOUBLE)],
        [tensor("y", [2, 3, 8, 8], TensorProto.DOUBLE)],
    )
    source = save_model(model, tmp_path / "hs64.onnx")
    done = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    data = done.json()
    v = data["verification"]
    assert v["precision"] == "float64" and v["max_abs"] == 0.0 and v["passed"]
    assert "reference evaluator" in v["runtimes"]["original"] and "float64" in v["runtimes"]["original"]
    assert "fixed" not in v["runtimes"]  # the Clip form, which ORT runs in double
    assert not any(n.op_type == "Conv" for n in onnx.load(tmp_path / "fixed.onnx").graph.node)
    text = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed2.onnx")
    assert "the original model ran on onnx reference evaluator (ONNX Runtime has no float64 kernel" in text.stdout


def test_fp64_conv_model_names_the_op_not_the_file(tmp_path: Path) -> None:
    """Both models hold a double Conv: both run on the reference evaluator, and the report says why."""
    source = save_model(_to_type(_float_net(4, 6), TensorProto.DOUBLE), tmp_path / "net64.onnx")
    done = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    runtimes = done.json()["verification"]["runtimes"]
    assert "kernel for Conv" in runtimes["original"] and "kernel for Conv" in runtimes["fixed"]


@pytest.fixture(scope="module")
def qdq_mobilenet(mnv3_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's model: MobileNetV3-Large, quantize_static, QDQ, per-channel int8 weights."""
    out = tmp_path_factory.mktemp("qdq-mnv3") / "mnv3-qdq.onnx"
    return quantize(mnv3_onnx, out, "uint8", True, (1, 3, 224, 224))


def test_qdq_mobilenet_v3_fixed_for_snpe_keeps_every_new_tensor_quantized(qdq_mobilenet: Path, tmp_path: Path) -> Any:
    done = run_cli(
        "fix", qdq_mobilenet, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx", "--samples", "16", "--format", "json"
    )
    assert done.code == 0, done.stdout + done.stderr
    data = done.json()
    assert {r["op_type"] for r in data["rewrites"]} == {"HardSwish", "HardSigmoid"}
    q = data["verification"]["quantized"]
    assert q["units"] == 29 and q["max_steps"] <= 1 and q["changed"] <= q["max_changed"]
    per_unit = {u["unit"]: u for u in q["per_unit"]}
    assert all(u["changed"] == 0 for name, u in per_unit.items() if name.endswith("HardSigmoid"))
    fixed = onnx.load(tmp_path / "fixed.onnx")
    original = onnx.load(qdq_mobilenet)
    assert set(quant.facts(fixed.graph).unencoded) == set(quant.facts(original.graph).unencoded)
    (out,) = data["verification"]["outputs"]
    assert out["steps"]["step"] > 0 and 0 < out["steps"]["within_one_step"] <= 1


def test_folding_keeps_a_quantized_weight_quantized(qdq_models: dict[tuple[str, bool], Path]) -> None:
    """A DQ of an initializer is computed from constants, but folding it would throw its grid away."""
    target = target_of("Conv", "Mul", "Add", "Clip", "GlobalAveragePool", "Flatten", "Gemm", "HardSwish")
    model = load(qdq_models["int8", True])
    before = sum(n.op_type == "DequantizeLinear" for n in model.proto.graph.node)
    report = fix(model, target, run_verify=False)
    assert report.legalization.folded == 0
    assert sum(n.op_type == "DequantizeLinear" for n in model.proto.graph.node) >= before


def test_rewrites_in_a_subgraph_of_a_qdq_model_are_said_to_stay_float(tmp_path: Path) -> None:
    unit = _qdq_unit("HardSigmoid", [1, 4, 6, 6], -4.0, 4.0, 0.0, 1.0)
    branch = helper.make_graph(
        [helper.make_node("HardSwish", ["y"], ["b"], name="inner")], "then", [], [tensor("b", [1, 4, 6, 6])]
    )
    other = helper.make_graph([helper.make_node("Identity", ["y"], ["c"])], "else", [], [tensor("c", [1, 4, 6, 6])])
    graph = unit.graph
    graph.input.append(tensor("flag", [], TensorProto.BOOL))
    graph.node.append(helper.make_node("If", ["flag"], ["z"], name="choose", then_branch=branch, else_branch=other))
    del graph.output[:]
    graph.output.append(tensor("z", [1, 4, 6, 6]))
    model = load(save_model(unit, tmp_path / "q.onnx"))
    target = target_of("QuantizeLinear", "DequantizeLinear", "Conv", "Clip", "Mul", "Add", "If", "Identity")
    report = fix(model, target, run_verify=False)
    q = report.legalization.quantization
    assert report.legal and q is not None and q.pairs >= 1
    assert any("1 illegal nodes in subgraphs" in line for line in q.skipped), q.skipped
