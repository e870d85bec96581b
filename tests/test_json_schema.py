"""The JSON opswap prints is the JSON its shipped schema describes (issue 15, point 9).

Every command runs as a CI job would run it (``--format json``, real models, real converters), and
each object printed must validate against ``report.schema.json`` from the package and name its kind
and version in ``schema``. The schema is strict (no field it does not list), so a field added to
the output without the schema fails here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import onnx
import pytest
from onnx import helper

from conftest import hardswish_model, make_model, save_model, tensor
from opswap.jsonout import KINDS, schema_path


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def valid(validator: jsonschema.Draft202012Validator, data: Any, kind: str) -> None:
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert data["schema"] == f"opswap/{kind}/1"
    # oneOf reports only that no branch matched: validate against the kind's own definition for the reason.
    own = jsonschema.Draft202012Validator({"$ref": f"#/$defs/{kind}", "$defs": validator.schema["$defs"]}).iter_errors(
        data
    )
    reasons = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in own]
    assert not errors, reasons or [e.message for e in errors]


def test_the_schema_ships_in_the_package_and_names_every_kind() -> None:
    schema = json.loads(schema_path().read_text())
    assert schema_path().parent.name == "opswap"
    assert set(KINDS) <= set(schema["$defs"])
    assert [r["$ref"].rsplit("/", 1)[1] for r in schema["oneOf"]] == list(KINDS)


def test_check_fix_verify_and_matrix_output_validate(cli, tmp_path: Path, validator: Any) -> None:
    model = save_model(hardswish_model(), tmp_path / "hs.onnx")
    relative = Path("hs.onnx")
    check = cli("check", relative, "-t", "snpe-2.7", "-f", "json", cwd=tmp_path)
    assert check.code == 1
    data = check.json()
    valid(validator, data, "check")
    assert data["model"] == "hs.onnx" and data["illegal"]

    fixed = tmp_path / "fixed.onnx"
    fix = cli("fix", model, "-t", "snpe-2.7", "-o", fixed, "--lower-opset", "auto", "-f", "json")
    assert fix.code == 0, fix.stderr
    data = fix.json()
    valid(validator, data, "fix")
    assert data["model"] == str(model)  # the path as given
    assert {tuple(r["route"]) for r in data["rewrites"]} == {
        ("hardsigmoid_via_pointwise_conv",),
        ("hardswish_via_onnx_function", "hardsigmoid_via_pointwise_conv"),
    }
    assert data["opset"] is not None and data["before"]["schema"] == "opswap/check/1"

    cut = cli("fix", model, "-t", "snpe-2.7", "-o", tmp_path / "cut.onnx", "--outputs", "hs", "-f", "json")
    assert cut.code == 0, cut.stderr
    valid(validator, cut.json(), "fix")
    assert cut.json()["cut"]["outputs"] == ["hs"]

    for pair, code in (((model, fixed), 0), ((model, save_model(_other_model(), tmp_path / "other.onnx")), 1)):
        verify = cli("verify", *pair, "--per-node", "-f", "json")
        assert verify.code == code, verify.stderr
        valid(validator, verify.json(), "verify")

    matrix = cli("check", model, fixed, "-t", "snpe-2.7,tflite", "-f", "json")
    valid(validator, matrix.json(), "matrix")
    assert {c["model"] for c in matrix.json()["cells"]} == {str(model), str(fixed)}


def test_no_route_and_quantized_fix_output_validate(cli, tmp_path: Path, validator: Any) -> None:
    custom = make_model(
        [helper.make_node("Frobnicate", ["x"], ["y"], domain="acme")],
        [tensor("x", [2, 3])],
        [tensor("y", [2, 3])],
        extra_opsets=[helper.make_opsetid("acme", 1)],
    )
    result = cli("fix", save_model(custom, tmp_path / "custom.onnx"), "-t", "snpe-2.7", "-o", tmp_path / "o.onnx")
    assert result.code in (1, 2)
    result = cli(
        "fix", tmp_path / "custom.onnx", "-t", "snpe-2.7", "-o", tmp_path / "o.onnx", "--no-verify", "-f", "json"
    )
    assert result.code == 1
    valid(validator, result.json(), "fix")
    assert result.json()["unresolved"][0]["op_type"] == "Frobnicate"

    qdq = _quantized(tmp_path)
    result = cli("fix", qdq, "-t", "snpe-2.7", "-o", tmp_path / "q-fixed.onnx", "-f", "json")
    assert result.code == 0, result.stderr
    data = result.json()
    valid(validator, data, "fix")
    assert data["quantization"] is not None and data["before"]["quantization"] is not None
    assert data["verification"]["quantized"] is not None


def test_convert_output_validates(cli, tmp_path: Path, validator: Any) -> None:
    model = save_model(hardswish_model(), tmp_path / "hs.onnx")
    for target in ("openvino", "ort-nnapi"):
        result = cli("convert", model, "-t", target, "-o", tmp_path / f"{target}.onnx", "-f", "json")
        assert result.code == 0, result.stderr
        data = result.json()
        valid(validator, data, "convert")
        assert data["fix"]["schema"] == "opswap/fix/1"


def test_targets_rules_and_probe_output_validate(cli, tmp_path: Path, validator: Any) -> None:
    for args, kind in (
        (("targets",), "targets"),
        (("targets", "show", "snpe-2.7"), "target"),
        (("targets", "show", "onnx2torch"), "target"),
        (("targets", "diff", "snpe-2.7", "qnn-htp"), "target-diff"),
        (("rules",), "rules"),
    ):
        result = cli(*args, "-f", "json")
        assert result.code == 0, result.stderr
        valid(validator, result.json(), kind)
    probe = cli(
        "probe", "--converter", "onnx2torch", "--ops", "Relu,Selu", "-o", tmp_path / "p.toml", "--compare",
        "onnx2torch", "-f", "json",
    )  # fmt: skip
    assert probe.code == 0, probe.stderr
    valid(validator, probe.json(), "probe")


@pytest.mark.torch
def test_export_output_validates(cli, tmp_path: Path, validator: Any) -> None:
    """export -t takes fix's --allow-approx and --lower-opset too (issue 15, point 7)."""
    args = ("export", "torchvision:mobilenet_v3_small", "-t", "snpe-2.7", "-o", tmp_path / "m.onnx")
    result = cli(*args, "--lower-opset", "auto", "--allow-approx", "-f", "json")
    assert result.code == 0, result.stderr
    data = result.json()
    valid(validator, data, "export")
    assert data["opset"]["from"] == 14 and data["opset"]["to"] < 14  # lowered, as fix --lower-opset auto does
    assert onnx.load(str(tmp_path / "m.onnx")).opset_import[0].version == data["opset"]["to"]
    plain = cli("export", "torchvision:mobilenet_v3_small", "-o", tmp_path / "p.onnx", "--allow-approx")
    assert plain.code == 2 and "add --target" in plain.stderr


def test_the_schema_rejects_what_the_output_must_not_be(cli, tmp_path: Path, validator: Any) -> None:
    """Not a schema that accepts anything: a route as one string, a missing field, an unknown one fail."""
    model = save_model(hardswish_model(), tmp_path / "hs.onnx")
    data = cli("fix", model, "-t", "snpe-2.7", "-o", tmp_path / "f.onnx", "-f", "json").json()
    valid(validator, data, "fix")
    as_string = copy.deepcopy(data)
    as_string["rewrites"][0]["route"] = " > ".join(as_string["rewrites"][0]["route"])
    missing = copy.deepcopy(data)
    del missing["verification"]["max_rel"]
    unknown = copy.deepcopy(data)
    unknown["after"]["surprise"] = 1
    old = copy.deepcopy(data)
    old["schema"] = "opswap/fix/0"
    for broken in (as_string, missing, unknown, old):
        assert not validator.is_valid(broken)


def _other_model() -> onnx.ModelProto:
    """Same input and output as hardswish_model, another function (verify must say they differ)."""
    return make_model(
        [helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [2, 3, 8, 8])], [tensor("y", [2, 3, 8, 8])]
    )


def _quantized(folder: Path) -> Path:
    """MobileNetV3's activations between Convs, through ONNX Runtime's static QDQ quantization."""
    from test_quant import _float_net, quantize

    source = save_model(_float_net(), folder / "float.onnx")
    return quantize(source, folder / "qdq.onnx", "uint8", False, (1, 3, 8, 8))


def test_the_shipped_schema_is_what_its_script_writes() -> None:
    """``report.schema.json`` is written by scripts/report_schema.py: edited there, not by hand."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("report_schema", ROOT / "scripts" / "report_schema.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert schema_path().read_text() == script.text(), "run: python scripts/report_schema.py"
