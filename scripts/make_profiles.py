"""Regenerate the shipped target profiles from their cited sources.

    python scripts/make_profiles.py [--facts ../shared/targets]

Sources: the transcriptions in the facts folder (Qualcomm converter code and docs, TensorRT's
onnx-tensorrt operators.md, OpenVINO's frontend supported_ops.md, onnx2tf's builtin table), and the
op lists shipped inside the installed onnxruntime wheel (NNAPI and CoreML execution providers). Each
profile records its source; constraints that can be checked become data (attributes, constant
inputs, element types, ranks, outputs), the rest become notes reported as caveats.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "opswap" / "targets" / "builtin"

#: Constraints the Qualcomm doc states in words that the checker can check.
QUALCOMM_CHECKS = {
    "ArgMax": {"attributes": {"select_last_index": [0]}},
    "ArgMin": {"attributes": {"select_last_index": [0]}},
    "BatchNormalization": {"static_inputs": [1, 2, 3, 4], "attributes": {"training_mode": [0]}, "outputs": 1},
    "Dropout": {"outputs": 1},
    "Expand": {"static_inputs": [1]},
    "Gemm": {"attributes": {"transA": [0]}},
    "LpNormalization": {"attributes": {"p": [2]}},
    "PRelu": {"static_inputs": [1]},
    "Reshape": {"attributes": {"allowzero": [0]}},
    "MaxPool": {"outputs": 1},
    "Conv": {"checks": ["kernel_shape_matches_weights"]},
}
#: Notes fully expressed by the checks above (not repeated as caveats).
QUALCOMM_COVERED = {"ArgMax", "ArgMin", "Conv", "Expand", "LpNormalization", "PRelu", "Reshape"}
QUALCOMM_CONVERTER_BEHAVIOUR = """\
# An op missing here makes the converter stop ("No translation registered for op type onnx_<op>");
# a listed op at an unlisted version only makes it warn, hence unlisted_opset = "warning".
# QNN's qnn-onnx-converter, SNPE's snpe-onnx-to-dlc and QAIRT's qairt-converter share this frontend."""

TRT_TYPES = {
    "FP32": "float", "FP16": "float16", "BF16": "bfloat16", "INT32": "int32", "INT64": "int64",
    "INT8": "int8", "UINT8": "uint8", "BOOL": "bool", "DOUBLE": "double", "INT4": "int4",
    "FP8": "float8e4m3fn", "FP4": "float4e2m1",
}  # fmt: skip


def toml_value(value: object) -> str:
    return json.dumps(value)


def op_entry(name: str, fields: dict[str, object]) -> str:
    key = name if re.fullmatch(r"[A-Za-z0-9_]+", name) else json.dumps(name)
    lines = [f"[ops.{key}]"]
    for field, value in fields.items():
        if value is None or value in ([], {}):
            continue
        if field == "attributes":
            inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())  # type: ignore[attr-defined]
            lines.append(f"attributes = {{ {inner} }}")
        else:
            lines.append(f"{field} = {toml_value(value)}")
    return "\n".join(lines)


def write(name: str, comment: str, header: dict[str, object], ops: dict[str, dict[str, object]]) -> None:
    lines = [f"# {line}" if line else "#" for line in comment.strip().splitlines()]
    lines += ["", "[target]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in header.items()]
    for op in sorted(ops):
        lines += ["", op_entry(op, ops[op])]
    (OUT / f"{name}.toml").write_text("\n".join(lines) + "\n")
    print(f"{name}: {len(ops)} ops")


def table_rows(text: str, start: str, end: str | None = None) -> list[list[str]]:
    section = text.split(start, 1)[1]
    if end is not None:
        section = section.split(end, 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip()[1:-1].split("|")]
        rows.append(cells)
    return rows[1:]  # without the header row


def ints(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"\d+", text)]


# --- Qualcomm -------------------------------------------------------------------------------------


def qualcomm(facts: Path) -> None:
    code = (facts / "qnn-qairt-onnx-converter.md").read_text()
    registered = table_rows(code, "## ONNX ops registered in converter code", "Counts:")
    doc = (facts / "snpe-docs-80-63442-2-revBL.md").read_text()
    doc_rows = table_rows(doc, "## Operator table", "### Standard ONNX ops")
    spelling = {"Matmul": "MatMul", "Reducel2": "ReduceL2"}
    notes = {spelling.get(r[0], r[0]): r[2] for r in doc_rows if len(r) >= 3 and r[2]}

    def ops_from(versions: dict[str, str]) -> dict[str, dict[str, object]]:
        ops: dict[str, dict[str, object]] = {}
        for op, listed in versions.items():
            if listed in ("—", ""):
                continue
            entry: dict[str, object] = {"opsets": ints(listed), **QUALCOMM_CHECKS.get(op, {})}
            if op in notes and op not in QUALCOMM_COVERED:
                entry["note"] = notes[op]
            ops[op] = entry
        return ops

    def header(name: str, description: str, source: str, converter: str, suffix: str) -> dict[str, object]:
        return {
            "name": name,
            "description": description,
            "source": source,
            "converter": converter,
            "converter_args": ["--input_network", "{input}", "--output_path", "{output}"],
            "converter_output_suffix": suffix,
            "unlisted_opset": "warning",
        }

    column = {
        name: {r[0]: r[k] for r in registered} for k, name in ((1, "snpe-2.5"), (2, "qnn-2.13"), (3, "qairt-2.25"))
    }
    notes_source = "notes: 80-63442-2 Rev BL supported ONNX ops (Jun 2025)"
    write(
        "snpe-2.7",
        f"""Qualcomm SNPE 2.7, snpe-onnx-to-dlc. Ops and versions: the register_op_schema(...) calls of the
SNPE 2.5.0.4052 converter code (lib/python/qti/aisw/converters/onnx/), the nearest SDK whose code is
public; SNPE 2.7 is documented to lack HardSigmoid (quic/qidk Model-Conversion-Layer-Replacement) and
the ONNX converter first supports it in 2.20.0 (release notes). Transcribed in the facts file
qnn-qairt-onnx-converter.md. Notes and structural limits: 80-63442-2 Rev BL, a newer doc, so its
notes are caveats and only structural limits are checked.
{QUALCOMM_CONVERTER_BEHAVIOUR}""",
        header(
            "snpe-2.7",
            "Qualcomm SNPE 2.7 snpe-onnx-to-dlc",
            f"SNPE 2.5.0.4052 converter register_op_schema list; {notes_source}",
            "snpe-onnx-to-dlc",
            ".dlc",
        ),
        ops_from(column["snpe-2.5"]),
    )
    write(
        "qnn-2.13",
        f"""Qualcomm QNN 2.13, qnn-onnx-converter. Ops and versions: register_op_schema(...) calls of the QNN
2.13.0 converter code (peyer/qcom_qnn snapshot), transcribed in qnn-qairt-onnx-converter.md. Notes as
for the SNPE profiles.
{QUALCOMM_CONVERTER_BEHAVIOUR}""",
        header(
            "qnn-2.13",
            "Qualcomm QNN 2.13 qnn-onnx-converter",
            f"QNN 2.13.0 converter register_op_schema list; {notes_source}",
            "qnn-onnx-converter",
            ".cpp",
        ),
        ops_from(column["qnn-2.13"]),
    )
    snpe_220 = ops_from(column["qnn-2.13"])
    snpe_220["HardSigmoid"] = {"opsets": [1, 6]}
    snpe_220["Einsum"] = {"opsets": [12]}
    write(
        "snpe-2.20",
        f"""Qualcomm SNPE 2.20, snpe-onnx-to-dlc. No converter code of 2.14-2.24 is public: this is the QNN 2.13.0
converter's list (the same ONNX frontend) plus what the release notes date before 2.20: HardSigmoid
("support hardsigmoid in onnx converter", 2.20.0; versions 1 and 6 as registered in 2.25) and Einsum
(QNN 2.18.0; version 12). Ops whose first release is not stated are left out rather than guessed.
{QUALCOMM_CONVERTER_BEHAVIOUR}""",
        header(
            "snpe-2.20",
            "Qualcomm SNPE 2.20 snpe-onnx-to-dlc",
            f"QNN 2.13.0 converter list + SNPE/QNN release notes to 2.20.0; {notes_source}",
            "snpe-onnx-to-dlc",
            ".dlc",
        ),
        snpe_220,
    )
    write(
        "qairt-2.25",
        f"""Qualcomm QAIRT 2.25.0, qairt-converter. Ops and versions: register_op_schema(...) calls of the QAIRT
2.25.0.240728 converter code, transcribed in qnn-qairt-onnx-converter.md: HardSigmoid (1, 6) and
HardSwish (14) are registered. Notes as for the SNPE profiles.
{QUALCOMM_CONVERTER_BEHAVIOUR}""",
        header(
            "qairt-2.25",
            "Qualcomm QAIRT 2.25 qairt-converter (ONNX frontend shared with SNPE and QNN)",
            f"QAIRT 2.25.0.240728 converter register_op_schema list; {notes_source}",
            "qairt-converter",
            ".dlc",
        ),
        ops_from(column["qairt-2.25"]),
    )
    latest: dict[str, dict[str, object]] = {}
    for row in doc_rows:
        op = spelling.get(row[0], row[0])
        entry: dict[str, object] = {"opsets": ints(row[1].replace("1.6", "1,6")), **QUALCOMM_CHECKS.get(op, {})}
        if len(row) > 2 and row[2] and op not in QUALCOMM_COVERED:
            entry["note"] = row[2]
        latest[op] = entry
    write(
        "snpe-latest",
        f"""Qualcomm SNPE, newest documented: the "Supported ONNX Ops" table of the Neural Processing SDK user
guide 80-63442-2 Rev BL (updated Jun 11, 2025), transcribed verbatim in snpe-docs-80-63442-2-revBL.md.
FC and ScaledTanh are non-standard rows kept as the doc has them.
{QUALCOMM_CONVERTER_BEHAVIOUR}""",
        header(
            "snpe-latest",
            "Qualcomm SNPE (80-63442-2 Rev BL table, Jun 2025)",
            "80-63442-2 Rev BL supported ONNX ops table",
            "snpe-onnx-to-dlc",
            ".dlc",
        ),
        latest,
    )


# --- ONNX Runtime mobile execution providers (from the installed wheel) --------------------------


def ort_mobile() -> None:
    import onnxruntime
    from onnxruntime.tools import mobile_helpers

    folder = Path(mobile_helpers.__file__).parent
    lists = {
        "ort-nnapi": ("nnapi_supported_ops.md", "NNAPI", None),
        "ort-coreml-neuralnetwork": ("coreml_supported_neuralnetwork_ops.md", "CoreML NeuralNetwork", 5),
        "ort-coreml-mlprogram": ("coreml_supported_mlprogram_ops.md", "CoreML MLProgram", 5),
    }
    for name, (file, label, max_rank) in lists.items():
        ops: dict[str, dict[str, object]] = {}
        for raw in (folder / file).read_text().splitlines():
            line = raw.strip()
            if not line.startswith("|"):
                continue
            cells = [c.strip() for c in line[1:-1].split("|")]
            # As ONNX Runtime's usability checker reads them: rows whose first cell is domain:op.
            if len(cells) < 2 or ":" not in cells[0]:
                continue
            domain, op = cells[0].split(":", 1)
            key = op if domain == "ai.onnx" else f"{domain}:{op}"
            note = cells[1].replace("<br/>", "; ").strip()
            ops[key] = {"note": note} if note else {}
        header: dict[str, object] = {
            "name": name,
            "description": f"ONNX Runtime {label} execution provider (as its mobile usability checker reads it)",
            "source": f"onnxruntime {onnxruntime.__version__} wheel: onnxruntime/tools/mobile_helpers/{file}",
            "converter": "ort-mobile-usability",
            "partitions_after": "onnxruntime-basic",
            "fixed_shapes": True,
        }
        if max_rank is not None:
            header["max_rank"] = max_rank
        write(
            name,
            f"""ONNX Runtime {label} execution provider: the op list shipped in the onnxruntime
{onnxruntime.__version__} wheel ({file}), read as ONNX Runtime's check_onnx_model_mobile_usability reads
it: rows "domain:op"; no versions; the EP needs fixed shapes{", and rank <= 5" if max_rank else ""}. Notes are caveats
(the checker does not evaluate them either). Known quirk kept as is: the NeuralNetwork list spells
"ai.onnx.ReduceSum" (no colon), so ReduceSum counts as unsupported there, as in the checker.
The EP partitions the graph after ONNX Runtime's basic optimizations, as the usability checker does
(onnxruntime/tools/mobile_helpers: optimize_model at ORT_ENABLE_BASIC, then partitions): hence
partitions_after = "onnxruntime-basic".""",
            header,
            ops,
        )


# --- TensorRT, OpenVINO, TFLite -----------------------------------------------------------------------


def tensorrt(facts: Path) -> None:
    text = (facts / "tensorrt-onnx-parser-10.15.md").read_text()
    ops: dict[str, dict[str, object]] = {}
    for row in table_rows(text, "## Operator Support Matrix"):
        op, supported, types, restrictions = ([*row, "", "", ""])[:4]
        if supported != "Y":
            continue
        entry: dict[str, object] = {}
        dtypes = [TRT_TYPES[t.strip()] for t in types.split(",") if t.strip() in TRT_TYPES]
        if dtypes:
            entry["dtypes"] = dtypes
        if "Only the first output" in restrictions:
            entry["outputs"] = 1
        if restrictions:
            entry["note"] = restrictions
        ops[op] = entry
    write(
        "tensorrt-10",
        """NVIDIA TensorRT 10.15 ONNX parser (onnx-tensorrt docs/operators.md, transcribed in
tensorrt-onnx-parser-10.15.md): ops marked Y, with their supported element types (checked on the
first input); models at opsets 9 to 24. Restrictions are caveats, except "Only the first output".""",
        {
            "name": "tensorrt-10",
            "description": "NVIDIA TensorRT 10.15 ONNX parser",
            "source": "onnx-tensorrt docs/operators.md, TensorRT 10.15",
            "converter": "trtexec",
            "converter_args": ["--onnx={input}", "--saveEngine={output}"],
            "converter_output_suffix": ".engine",
            "model_opsets": [9, 24],
        },
        ops,
    )


#: What the probe measured beyond the documentation (`opswap probe --converter openvino`, openvino
#: 2026.4.1, onnx 1.23.2 node tests, 2026-12-02): inputs that convert but compute wrong unless
#: constant, and node tests computed wrong (caveats). No attribute limits: every attribute value the
#: node tests vary converted.
OPENVINO_PROBED: dict[str, dict[str, object]] = {
    "Attention": {
        "note": "converts but computes wrong in ONNX node tests test_attention_4d_with_past_and_present_qk_matmul_bias_3d_mask_causal, test_attention_4d_with_past_and_present_qk_matmul_bias_4d_mask_causal, test_attention_local_window, test_attention_bidirectional_window, test_attention_local_window_rank1_boolean_mask, test_attention_local_window_with_past, ..."
    },
    "BitShift": {
        "note": "converts but computes wrong in ONNX node tests test_bitshift_right_int8_negative_input, test_bitshift_right_int32_negative_input, test_bitshift_left_int8_overflow, test_bitshift_right_int8_shift_ge_width, test_bitshift_left_int8_shift_ge_width, test_bitshift_right_int32_shift_ge_width, ..."
    },
    "Col2Im": {"static_inputs": [1, 2]},
    "DFT": {
        "note": "converts but computes wrong in ONNX node tests test_dft_rfft_opset19, test_dft_irfft_opset19, test_dft_axis, test_dft_rfft, test_dft_irfft"
    },
    "GRU": {"note": "converts but computes wrong in ONNX node tests test_gru_batchwise"},
    "LSTM": {"note": "converts but computes wrong in ONNX node tests test_lstm_with_peepholes, test_lstm_batchwise"},
    "MaxPool": {
        "note": "converts but computes wrong in ONNX node tests test_maxpool_2d_ceil_output_size_reduce_by_one"
    },
    "NonMaxSuppression": {
        "note": "converts but computes wrong in ONNX node tests test_nonmaxsuppression_iou_threshold_boundary"
    },
    "RNN": {"note": "converts but computes wrong in ONNX node tests test_simple_rnn_batchwise"},
    "ReduceLogSum": {"note": "converts but computes wrong in ONNX node tests test_reduce_log_sum_asc_axes"},
    "ReduceMax": {"note": "converts but computes wrong in ONNX node tests test_reduce_max_empty_set"},
    "Resize": {
        "note": "converts but computes wrong in ONNX node tests test_resize_downsample_scales_linear_align_corners, test_resize_downsample_scales_cubic_align_corners, test_resize_upsample_scales_cubic_A_n0p5_exclude_outside, test_resize_downsample_scales_cubic_A_n0p5_exclude_outside, test_resize_downsample_scales_linear_antialias, test_resize_downsample_sizes_linear_antialias, ..."
    },
    "RoiAlign": {"note": "converts but computes wrong in ONNX node tests test_roialign_mode_max"},
    "STFT": {"static_inputs": [1, 2]},
    "SpaceToDepth": {"note": "converts but computes wrong in ONNX node tests test_spacetodepth_crd_mode_example"},
    "Tile": {"static_inputs": [1]},
    "TopK": {
        "note": "converts but computes wrong in ONNX node tests test_top_k_same_values, test_top_k_same_values_largest, test_top_k_same_values_2d"
    },
    "Unsqueeze": {"static_inputs": [1]},
}


def openvino(facts: Path) -> None:
    text = (facts / "openvino-onnx-frontend.md").read_text()
    ops: dict[str, dict[str, object]] = {}
    for row in table_rows(text, "## Default (ai.onnx) domain", "Default-domain ops documented"):
        op, translators, defined = ([*row, "", ""])[:3]
        starts = ints(translators) if not translators.startswith("—") else []
        if not starts:
            continue
        entry: dict[str, object] = {}
        versions = ints(defined)
        if versions:
            entry["opsets"] = sorted(v for v in versions if v >= min(starts))
        ops[op] = entry
    for op, measured in OPENVINO_PROBED.items():
        if op in ops:
            ops[op].update(measured)
    for domain in ("com.microsoft", "org.openvinotoolkit"):
        section = text.split(f"## {domain} domain", 1)[1].split("\n", 2)[1]
        for op in section.split("(")[0].replace(".", "").split(","):
            if op.strip():
                ops[f"{domain}:{op.strip()}"] = {}
    write(
        "openvino",
        """OpenVINO ONNX frontend: src/frontends/onnx/docs/supported_ops.md (openvino @ b2cfecf8), transcribed
in openvino-onnx-frontend.md. An op is supported when it has a translator; a translator registered
since opset n serves every defined version from n on. Frontend support is not device support (the
per-device conformance reports are not transcribed). Constant inputs and notes on wrong results are
what opswap's probe of openvino 2026.4.1 measured (scripts/make_profiles.py: OPENVINO_PROBED).""",
        {
            "name": "openvino",
            "description": "OpenVINO ONNX frontend (openvino.convert_model)",
            "source": "openvino src/frontends/onnx/docs/supported_ops.md @ b2cfecf8",
            "converter": "openvino",
            "converter_output_suffix": ".xml",
        },
        ops,
    )


def tflite(facts: Path) -> None:
    text = (facts / "onnx2tf-tflite.md").read_text()
    ops: dict[str, dict[str, object]] = {}
    for row in table_rows(text, "### Builtin ONNX → TFLite table"):
        op, _lowering, constraints = ([*row, "", ""])[:3]
        if not re.fullmatch(r"[A-Za-z0-9]+", op):
            continue
        entry: dict[str, object] = {}
        found = re.fullmatch(r"Input/output dtype must be `(\w+)` or `(\w+)`", constraints)
        if found:
            entry["dtypes"] = [t.lower().replace("float32", "float") for t in found.groups()]
        elif constraints and constraints != "-":
            entry["note"] = constraints
        ops[op] = entry
    ops["Constant"] = {}
    write(
        "tflite",
        """TFLite through onnx2tf's default flatbuffer_direct backend: its builtin ONNX -> TFLite table
(onnx2tf README @ 2c0cb019, package 2.6.7), transcribed in onnx2tf-tflite.md. Ops outside the table
are errors by default. Dtype limits stated exactly are checked; other key constraints are caveats.
Constant is not a row of the table, but flatbuffer_direct lowers every Constant node inline
(onnx2tf/tflite_builder/lower_from_onnx2tf.py @ 2c0cb019: `if node.op_type == "Constant":
lower_constant_node(...)`; its op coverage report marks them supported, "handled_inline").""",
        {
            "name": "tflite",
            "description": "TFLite via onnx2tf (flatbuffer_direct builtins)",
            "source": "onnx2tf README builtin table @ 2c0cb019 (2.6.7)",
            "converter": "onnx2tf",
            "converter_args": ["-i", "{input}", "-o", "{output}"],
            "converter_output_suffix": "_tflite",
        },
        ops,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "targets")
    args = parser.parse_args()
    qualcomm(args.facts)
    ort_mobile()
    tensorrt(args.facts)
    openvino(args.facts)
    tflite(args.facts)


if __name__ == "__main__":
    main()
