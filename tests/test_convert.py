"""convert: fix, then the real converter (or ONNX Runtime's own checks), with rejections fed back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import fake_converter

pytestmark = pytest.mark.torch

# Rejects Gemm like Qualcomm's converters reject an op they have no translation for.
REJECT_GEMM = """
import onnx
args = sys.argv[1:]
model = onnx.load(args[args.index('--input_network') + 1], load_external_data=False)
if any(n.op_type == 'Gemm' for n in model.graph.node):
    print('KeyError: No translation registered for op type onnx_gemm. Op is most likely not supported')
    sys.exit(1)
pathlib.Path(args[args.index('--output_path') + 1]).write_text('dlc')
"""


def _path_with(folder: Path) -> dict[str, str]:
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_nnapi_partitions_drop_to_one(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    result = cli("convert", mnv3_onnx, "--target", "ort-nnapi", "-o", tmp_path / "nnapi.onnx", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert report["partitions_before"]["partitions"] == 30
    assert report["partitions_after"]["partitions"] == 1
    assert report["partitions_after"]["suitability"] == "YES"


def test_coreml_neuralnetwork_on_the_dynamo_export(cli, mnv3_dynamo_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "coreml.onnx"
    result = cli("convert", mnv3_dynamo_onnx, "--target", "ort-coreml-neuralnetwork", "-o", out, "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert report["partitions_before"]["partitions"] > 1
    assert report["partitions_after"]["partitions"] == 1
    assert {r["op_type"] for r in report["fix"]["rewrites"]} >= {"ReduceMean", "HardSwish", "HardSigmoid"}


def test_openvino_end_to_end(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    result = cli("convert", mnv3_onnx, "--target", "openvino", "-o", tmp_path / "ov.onnx", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert report["converted"]
    xml = Path(report["artifact"])
    assert xml.suffix == ".xml" and xml.exists() and xml.with_suffix(".bin").exists()
    runtime = report["runtime"]
    assert runtime["passed"] and runtime["max_rel"] <= 1e-5 and runtime["top1_agreement"] == 1.0
    assert runtime["max_ref"] > 1e-2  # calibrated weights: the comparison means something


def test_rejections_are_fed_back_until_the_converter_succeeds(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    bin_dir = fake_converter(tmp_path / "bin", "snpe-onnx-to-dlc", REJECT_GEMM)
    out = tmp_path / "fixed.onnx"
    result = cli("convert", mnv3_onnx, "--target", "snpe-2.7", "-o", out, "--format", "json", env=_path_with(bin_dir))
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert [r["rejected"] for r in report["rounds"]] == [["Gemm"], []]
    assert report["converted"] and Path(report["artifact"]).read_text() == "dlc"
    assert {r["op_type"] for r in report["fix"]["rewrites"]} == {"HardSwish", "HardSigmoid", "Gemm"}
    assert report["fix"]["verification"]["passed"]


def test_a_failure_that_is_not_about_an_op_is_reported_in_the_converters_words(
    cli, mnv3_onnx: Path, tmp_path: Path
) -> None:
    bin_dir = fake_converter(tmp_path / "bin", "snpe-onnx-to-dlc", "print('KeyError: onnx::Conv_564')\nsys.exit(3)\n")
    result = cli(
        "convert",
        mnv3_onnx,
        "--target",
        "snpe-2.7",
        "-o",
        tmp_path / "f.onnx",
        "--format",
        "json",
        env=_path_with(bin_dir),
    )
    assert result.code == 1
    report = result.json()
    assert report["rounds"][0]["rejected"] == []
    assert "not over an op" in report["message"] and "KeyError: onnx::Conv_564" in report["message"]


def test_absent_converter_says_so_and_prints_the_command(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "qnn-onnx-converter").exists()
    )
    out = tmp_path / "f.onnx"
    result = cli("convert", mnv3_onnx, "--target", "qnn-2.25", "-o", out, env={"PATH": path})
    assert result.code == 1
    assert "qnn-onnx-converter is not on PATH; run: qnn-onnx-converter --input_network" in result.stdout.replace(
        "\n", ""
    )
    assert out.exists()  # the fixed model is there for the user to convert


def test_onnx2torch_converts_after_the_fix(cli, tmp_path: Path) -> None:
    pytest.importorskip("onnx2torch")
    import onnx2torch

    from conftest import conv_mish_selu_groupnorm

    model = conv_mish_selu_groupnorm(tmp_path / "msg.onnx")
    with pytest.raises(NotImplementedError, match="Mish"):
        onnx2torch.convert(str(model))  # as exported
    result = cli("convert", model, "--target", "onnx2torch", "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert {r["op_type"] for r in report["fix"]["rewrites"]} == {"Mish", "GroupNormalization"}
    assert report["fix"]["opset"]["to"] < 21  # onnx2torch only knows older versions
    assert report["runtime"]["passed"] and report["runtime"]["max_rel"] <= 1e-5


def test_mnn_converts_after_the_fix(cli, tmp_path: Path) -> None:
    pytest.importorskip("MNN")
    from conftest import conv_mish_selu_groupnorm
    from opswap.converters.runtimes import mnn_convert

    model = conv_mish_selu_groupnorm(tmp_path / "msg.onnx")
    as_exported = mnn_convert(model, tmp_path / "raw.mnn")
    assert as_exported is not None and set(as_exported.rejected) == {"Mish", "GroupNormalization"}
    result = cli("convert", model, "--target", "mnn", "-o", tmp_path / "fixed.onnx", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert Path(report["artifact"]).suffix == ".mnn"
    assert report["runtime"]["passed"] and report["runtime"]["max_rel"] <= 1e-5


def test_onnx2torch_converts_once_constant_computations_are_folded(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    """onnx2torch reads a Conv's bias from the initializers and raises a KeyError on the TorchScript
    export's Identity of a shared bias: a failure blaming no op. convert folds what is computed from
    constants, verifies, and runs it again."""
    pytest.importorskip("onnx2torch")
    result = cli("convert", mnv3_onnx, "--target", "onnx2torch", "-o", tmp_path / "f.onnx", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    first, second = report["rounds"]
    assert first["rejected"] == [] and first["returncode"] == 1
    assert first["folded"] >= 1 and first["folded_verification"]["passed"]
    assert first["folded_verification"]["max_abs"] == 0
    assert second["returncode"] == 0 and report["converted"] and report["runtime"]["passed"]
    text = cli("convert", mnv3_onnx, "--target", "onnx2torch", "-o", tmp_path / "f.onnx").stdout
    assert "not over an op: folded" in text and "ran it again" in " ".join(text.split())


def test_openvino_sends_no_telemetry_and_writes_nothing_in_home(tmp_path: Path) -> None:
    """OpenVINO's converter sends usage data and writes a client id under ~/intel unless opted out
    (it skips only when CI=true), and ONNX Runtime writes a device id under ~/.cache on import:
    opswap keeps both off, so converting leaves the home folder as it was."""
    pytest.importorskip("openvino")
    import subprocess
    import sys

    from onnx import helper

    from conftest import make_model, save_model, tensor

    model = save_model(
        make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 4])], [tensor("y", [1, 4])]),
        tmp_path / "relu.onnx",
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL", "ORT_DISABLE_TELEMETRY")}
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "opswap", "convert", str(model), "-t", "openvino", "-o", str(tmp_path / "out.onnx")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out.xml").exists()
    assert not list(home.iterdir()), sorted(p.name for p in home.rglob("*"))


def test_convert_takes_the_verification_options_fix_takes(cli, tmp_path: Path) -> None:
    """Issue 15, point 7: --inputs, --rtol and -v mean the same in convert as in fix; the converted model
    is compared on the inputs given too."""
    import numpy as np

    from conftest import hardswish_model, save_model

    source = save_model(hardswish_model(), tmp_path / "hs.onnx")
    feeds = tmp_path / "in.npz"
    np.savez(feeds, x=np.linspace(-4, 4, 2 * 3 * 8 * 8, dtype=np.float32).reshape(2, 3, 8, 8))
    args = ("-t", "openvino", "-o", tmp_path / "o.onnx", "--inputs", feeds, "--rtol", "1e-6")
    result = cli("convert", source, *args, "-f", "json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["runtime"]["samples"] == 1  # the one sample in the file, not 8 random ones
    snpe = ("-t", "snpe-2.7", "-o", tmp_path / "s.onnx", "--inputs", feeds)
    fixed = cli("convert", source, *snpe, "--rtol", "1e-6", "-f", "json").json()["fix"]
    assert fixed["verification"]["samples"] == 1 and fixed["verification"]["rtol"] == 1e-6
    quiet, verbose = cli("convert", source, *snpe).stdout, cli("convert", source, *snpe, "-v").stdout
    assert "Warnings — the converter warns" not in quiet and "version 14 not in the versions" not in quiet
    assert "Warnings — the converter warns and goes on" in verbose and "version 14 not in the versions" in verbose


def test_convert_allow_partial_lets_the_converter_decide_and_no_verify_skips_the_fix_check(cli, tmp_path: Path) -> None:
    """A profile that lists too little: fix finds no route, and --allow-partial hands the model to the
    converter, whose verdict counts (OpenVINO converts HardSwish and matches); --no-verify skips only
    the fixed model's ORT comparison, not the converted model's."""
    from conftest import hardswish_model, save_model

    source = save_model(hardswish_model(), tmp_path / "hs.onnx")
    profile = tmp_path / "narrow.toml"
    header = '[target]\nname = "narrow"\nsource = "test"\nconverter = "openvino"\nconverter_output_suffix = ".xml"\n'
    profile.write_text(header + "[ops.Mul]\n")
    strict = cli("convert", source, "-t", profile, "-o", tmp_path / "a.onnx", "-f", "json")
    assert strict.code == 1 and strict.json()["converted"] is False
    partial = cli("convert", source, "-t", profile, "-o", tmp_path / "b.onnx", "--allow-partial", "-f", "json")
    assert partial.code == 0, partial.stderr
    data = partial.json()
    assert data["converted"] is True and data["runtime"]["passed"] is True
    assert data["fix"]["legal"] is False and data["fix"]["unchanged"] is True  # written as it was read
    unverified = cli("convert", source, "-t", "openvino", "-o", tmp_path / "c.onnx", "--no-verify", "-f", "json")
    assert unverified.code == 0, unverified.stderr
    assert unverified.json()["fix"]["verification"] is None and unverified.json()["runtime"]["passed"] is True
