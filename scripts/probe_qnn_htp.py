"""Regenerate the shipped qnn-htp profile from the installed onnxruntime-qnn (QNN's HTP backend).

    .venv/bin/python scripts/probe_qnn_htp.py [--out src/opswap/targets/builtin/qnn-htp.toml]

Runs every ONNX node test through the HTP (fp16, soc_model 60, CPU fallback disabled, each test
compiled and run in a worker process: QNN can crash) exactly as `opswap probe --converter qnn-htp`
does, then checks the ops that exported models contain but that have no single-op node test of
their own (Constant, Cast) with one-node graphs, and writes the profile. About 2-3 minutes here.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "src" / "opswap" / "targets" / "builtin" / "qnn-htp.toml"


def _graph(nodes: list[onnx.NodeProto], constants: dict[str, np.ndarray] | None = None) -> bytes:
    shape = [1, 16, 8, 8]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, n) for n, v in (constants or {}).items()],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model.SerializeToString()


def _layer_norm(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-6) * SCALE + BIAS


SCALE, BIAS = np.linspace(0.5, 1.5, 8).astype(np.float32), np.linspace(-0.1, 0.1, 8).astype(np.float32)

#: The common form of ops whose node tests all use forms the HTP refuses (the probe learns only from
#: those): one-node graphs, the constraints their TOML entry states, and their reference.
COMMON_FORMS = {
    # Every LayerNormalization node test asks for its Mean/InvStdDev outputs or other axes; exporters
    # emit one output over the last axis, which the HTP takes (the original ConvNeXt compiled with it).
    "LayerNormalization": (
        [helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1, epsilon=1e-6)],
        {"s": SCALE, "b": BIAS},
        ["outputs = 1", "static_inputs = [1, 2]", "attributes = { axis = [-1] }"],
        _layer_norm,
    ),
    "Pad": (
        [helper.make_node("Pad", ["x", "p"], ["y"], mode="constant")],
        {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)},
        ["static_inputs = [1, 2]", 'attributes = { mode = ["constant"] }'],
        lambda x: np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)]),
    ),
    "CumSum": (
        [helper.make_node("CumSum", ["x", "a"], ["y"])],
        {"a": np.array(3, np.int64)},
        ["static_inputs = [1]", "attributes = { exclusive = [0], reverse = [0] }"],
        lambda x: np.cumsum(x, axis=3),
    ),
}

_QDQ_UNIT = [
    helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="input_q"),
    helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq"),
    helper.make_node("Relu", ["xd"], ["r"], name="relu"),
    helper.make_node("QuantizeLinear", ["r", "s", "z"], ["rq"], name="q"),
    helper.make_node("DequantizeLinear", ["rq", "s", "z"], ["y"], name="output_dq"),
]
_QDQ_SCALE, _QDQ_ZERO = np.float32(0.05), np.uint8(128)


def _fake_quant(x: np.ndarray) -> np.ndarray:
    codes = np.clip(np.rint(x / _QDQ_SCALE) + int(_QDQ_ZERO), 0, 255)
    return ((codes - int(_QDQ_ZERO)) * _QDQ_SCALE).astype(np.float32)


def _qdq_unit_reference(x: np.ndarray) -> np.ndarray:
    return _fake_quant(np.maximum(_fake_quant(x), 0))


#: One-node graphs for ops with no single-op node test, with what each checks.
EXTRA = {
    "Constant": (
        [
            helper.make_node(
                "Constant", [], ["c"], value=numpy_helper.from_array(np.full((1, 16, 1, 1), 0.5, np.float32))
            ),
            helper.make_node("Add", ["x", "c"], ["y"]),
        ],
        lambda x: x + 0.5,
    ),
    "Cast": (
        [
            helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16),
            helper.make_node("Cast", ["h"], ["y"], to=TensorProto.FLOAT),
        ],
        lambda x: x.astype(np.float16).astype(np.float32),
    ),
    # QDQ node units (what a quantized model is made of): x -> Q -> DQ -> Relu -> Q -> DQ. The graph's
    # own input Q and output DQ stay on the CPU (QNN offloads graph I/O quantization); the inner Q, DQ
    # and Relu run on the HTP in uint8.
    "QuantizeLinear": (_QDQ_UNIT, _qdq_unit_reference),
    "DequantizeLinear": (_QDQ_UNIT, _qdq_unit_reference),
    # ONNX Runtime's contrib GELU (any opset): what opswap fuses GELU patterns into when Erf is refused.
    "com.microsoft:Gelu": (
        [helper.make_node("Gelu", ["x"], ["y"], domain="com.microsoft")],
        lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from opswap.converters import qnn_htp
    from opswap.model import atomic_write_text
    from opswap.probe import probe

    report = probe("qnn-htp")
    text = report.profile_toml("qnn-htp")
    extra = []
    qdq = {"s": np.array(_QDQ_SCALE), "z": np.array(_QDQ_ZERO)}
    checks = {
        op: (nodes, qdq if op in ("QuantizeLinear", "DequantizeLinear") else {}, [], reference)
        for op, (nodes, reference) in EXTRA.items()
        if not (report.ops.get(op) and report.ops[op].supported)  # the probe's own one-node form took it
    }
    checks.update(
        (op, form) for op, form in COMMON_FORMS.items() if not report.ops.get(op) or not report.ops[op].supported
    )
    for op, (nodes, constants, constraints, reference) in checks.items():
        model = _graph(nodes, constants)
        io = qnn_htp.graph_io_quantization(onnx.load_from_string(model))
        if [name for name, _ in qnn_htp.refused_nodes(model) if name not in io]:
            print(f"{op}: refused", file=sys.stderr)
            continue
        runner, _ = qnn_htp.run_on_htp(model, fallback=bool(io))
        x = np.random.default_rng(0).standard_normal((1, 16, 8, 8)).astype(np.float32)
        if not np.allclose(runner({"x": x})[0], reference(x), rtol=1e-2, atol=1e-2):
            print(f"{op}: computed wrong", file=sys.stderr)
            continue
        why = (
            "its node tests' forms are refused"
            if op in COMMON_FORMS
            else "a QDQ unit (the graph's own I/O quantization runs on the CPU)"
            if io
            else "no single-op node test"
        )
        extra += [
            "",
            f"# {why}: its common form checked with a one-node graph on the HTP by this script.",
            f'[ops."{op}"]' if ":" in op else f"[ops.{op}]",
            *constraints,
        ]
    atomic_write_text(args.out, text + "\n".join(extra) + ("\n" if extra else ""))
    accepted = sum(1 for r in report.ops.values() if r.supported)
    wrong = sorted(op for op, r in report.ops.items() if r.wrong_tests)
    print(f"{report.converter} {report.version}: {accepted} of {len(report.ops)} probed ops accepted")
    print(f"computed wrong in some node tests: {', '.join(wrong)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
