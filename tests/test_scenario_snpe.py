"""The scenario that started opswap: MobileNetV3-Large at opset 14 for SNPE 2.7, through the real CLI."""

from __future__ import annotations

import collections
import os
import stat
from pathlib import Path

import numpy as np
import onnx
import pytest

import opswap
from conftest import ort_run

pytestmark = pytest.mark.torch


def test_export_holds_the_ops_snpe_lacks(mnv3_onnx: Path) -> None:
    model = onnx.load(str(mnv3_onnx))
    counts = collections.Counter(n.op_type for n in model.graph.node)
    assert counts["HardSigmoid"] == 8
    assert counts["HardSwish"] == 21
    assert model.opset_import[0].version == 14
    # Calibrated BatchNorm: logits are far from the ~1e-9 of an untouched random network.
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    (logits,) = ort_run(mnv3_onnx, {"input": x})
    assert logits.shape == (1, 1000)
    assert np.abs(logits).max() > 1e-2


def test_check_reports_both_problems_in_one_run(cli, mnv3_onnx: Path) -> None:
    text = cli("check", mnv3_onnx, "--target", "snpe-2.7")
    assert text.code == 1
    assert "HardSwish" in text.stdout and "HardSigmoid" in text.stdout
    assert "ILLEGAL for snpe-2.7: 29 nodes of 2 op types" in text.stdout
    assert "/features/features.0/features.0.2/HardSwish" in text.stdout

    result = cli("check", mnv3_onnx, "--target", "snpe-2.7", "--format", "json")
    assert result.code == 1
    report = result.json()
    assert report["target"] == "snpe-2.7"
    assert report["legal"] is False
    illegal = {g["op_type"]: g for g in report["illegal"]}
    assert set(illegal) == {"HardSigmoid", "HardSwish"}
    assert illegal["HardSwish"]["count"] == 21 and len(illegal["HardSwish"]["nodes"]) == 21
    assert illegal["HardSigmoid"]["count"] == 8 and len(illegal["HardSigmoid"]["nodes"]) == 8
    assert all("not supported by snpe-2.7" in g["reason"] for g in report["illegal"])
    # Relu-14 is registered only at versions 1 and 6: the converter warns, it does not stop.
    warned = {g["op_type"] for g in report["warnings"]}
    assert "Relu" in warned


def test_fix_rewrites_exactly_verifies_and_writes(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    before = mnv3_onnx.read_bytes()
    fixed = tmp_path / "fixed.onnx"
    result = cli("fix", mnv3_onnx, "--target", "snpe-2.7", "-o", fixed, "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["legal"] is True
    assert report["output"] == str(fixed)
    # Activations on [N, C, H, W] take the pointwise-Conv form (ORT fuses it: see bench_latency.py);
    # the classifier's HardSwish, on [N, C], the Clip form.
    rewrites = {(r["op_type"], tuple(r["route"])): r["count"] for r in report["rewrites"]}
    assert rewrites == {
        ("HardSwish", ("hardswish_via_onnx_function", "hardsigmoid_via_pointwise_conv")): 20,
        ("HardSwish", ("hardswish_via_onnx_function", "hardsigmoid_via_clip")): 1,
        ("HardSigmoid", ("hardsigmoid_via_pointwise_conv",)): 8,
    }
    assert report["schema"] == "opswap/fix/1"
    assert report["model"] == str(mnv3_onnx)  # the path as given, not the file name
    v = report["verification"]
    assert v["passed"] is True
    assert v["samples"] >= 8
    assert v["max_rel"] <= 1e-5
    assert v["top1_agreement"] == 1.0
    assert v["cosine"] > 0.999999

    assert mnv3_onnx.read_bytes() == before, "the input must never change"
    model = onnx.load(str(fixed))
    onnx.checker.check_model(model, full_check=True)
    target = opswap.load_target("snpe-2.7")
    assert all(target.support(n.op_type) is not None for n in model.graph.node)
    assert cli("check", fixed, "--target", "snpe-2.7").code == 0

    # Our own numbers, independently of opswap's verify: the logits agree and so does top-1.
    rng = np.random.default_rng(7)
    for _ in range(4):
        x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
        (want,) = ort_run(mnv3_onnx, {"input": x})
        (got,) = ort_run(fixed, {"input": x})
        assert np.abs(want - got).max() <= 1e-5 * np.abs(want).max()
        assert want.argmax() == got.argmax()


def test_fix_text_report_shows_numbers_and_next_step(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.onnx"
    result = cli("fix", mnv3_onnx, "--target", "snpe-2.7", "-o", fixed, env={"PATH": _path_without_snpe()})
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "hardswish_via_onnx_function > hardsigmoid_via_clip" in out
    assert "max |Δ|" in out and "PASSED" in out
    assert "snpe-onnx-to-dlc is not on PATH" in out
    assert f"snpe-onnx-to-dlc --input_network {fixed} --output_path {fixed.with_suffix('.dlc')}" in out


def test_one_command_from_torchvision(cli, tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    fixed = tmp_path / "fixed.onnx"
    result = cli("fix", "torchvision:mobilenet_v3_large", "--target", "snpe-2.7", "-o", fixed, "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    counts = collections.Counter()
    for r in report["rewrites"]:
        counts[r["op_type"]] += r["count"]
    assert counts == {"HardSwish": 21, "HardSigmoid": 8}
    assert report["verification"]["passed"] and report["verification"]["max_rel"] <= 1e-5
    assert cli("check", fixed, "--target", "snpe-2.7").code == 0


def test_qairt_accepts_the_original(cli, mnv3_onnx: Path) -> None:
    # QAIRT 2.25's converter registers HardSigmoid and HardSwish: nothing to fix there.
    assert cli("check", mnv3_onnx, "--target", "qairt-2.25").code == 0


def _fake_converter(folder: Path, body: str) -> Path:
    folder.mkdir()
    tool = folder / "snpe-onnx-to-dlc"
    tool.write_text("#!/usr/bin/env python3\nimport sys, pathlib\n" + body)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return folder


def _path_without_snpe() -> str:
    return os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "snpe-onnx-to-dlc").exists()
    )


def test_fix_runs_the_converter_when_on_path(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    bin_dir = _fake_converter(
        tmp_path / "bin",
        "args = sys.argv[1:]\npathlib.Path(args[args.index('--output_path') + 1]).write_text(' '.join(args))\n",
    )
    fixed = tmp_path / "fixed.onnx"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = cli("fix", mnv3_onnx, "--target", "snpe-2.7", "-o", fixed, "--format", "json", env=env)
    assert result.code == 0, result.stderr
    converter = result.json()["converter"]
    assert converter["found"] and converter["returncode"] == 0
    dlc = fixed.with_suffix(".dlc")
    assert dlc.read_text() == f"--input_network {fixed} --output_path {dlc}"


def test_converter_rejection_is_reported(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    bin_dir = _fake_converter(
        tmp_path / "bin",
        "print('KeyError: No translation registered for op type onnx_hardswish. Op is most likely not supported')\n"
        "sys.exit(1)\n",
    )
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = cli("fix", mnv3_onnx, "--target", "snpe-2.7", "-o", tmp_path / "f.onnx", "--format", "json", env=env)
    converter = result.json()["converter"]
    assert converter["returncode"] == 1
    assert converter["rejected_ops"] == ["hardswish"]


def test_seed_approximation_fails_verification(cli, mnv3_onnx: Path, tmp_path: Path) -> None:
    """The hand edit people make today (0.167 for 1/6) is caught by verify; the exact rule is not."""
    model = onnx.load(str(mnv3_onnx))
    for node in model.graph.node:
        if node.op_type == "HardSigmoid":
            for attr in node.attribute:
                if attr.name == "alpha":
                    attr.f = 0.167
    approx = tmp_path / "approx.onnx"
    onnx.save(model, str(approx))
    result = cli("verify", mnv3_onnx, approx, "--format", "json")
    assert result.code == 1
    assert result.json()["max_rel"] > 1e-5
    assert cli("verify", mnv3_onnx, mnv3_onnx).code == 0
