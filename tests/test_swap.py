"""The PyTorch path: layers swapped in memory, exported with both exporters, legal and verified."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest

import opswap

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
nn, F = torch.nn, torch.nn.functional


def _export(cli, spec: str, out: Path, *extra: str):
    """``opswap export SPEC --target snpe-2.7 -o OUT --format json`` plus options."""
    return cli("export", spec, "--target", "snpe-2.7", "-o", out, "--format", "json", *extra)


def test_export_via_swap_and_via_onnx_give_the_same_result(cli, tmp_path: Path) -> None:
    swap, onnx_fix = tmp_path / "swap.onnx", tmp_path / "onnx.onnx"
    spec = "torchvision:mobilenet_v3_large"
    by_swap = _export(cli, spec, swap, "--via", "swap")
    assert by_swap.code == 0, by_swap.stderr
    report = by_swap.json()
    kinds = list(report["swapped"]["replaced"].values())
    assert kinds.count("Hardswish -> opswap replacement") == 21
    assert kinds.count("Hardsigmoid -> opswap replacement") == 8
    # The replacements ran the ONNX path's routes (the same rules, on torch tensors).
    routes = report["swapped"]["routes"]
    assert any(r.startswith("HardSwish: hardswish_via_onnx_function > ") for r in routes), routes
    assert any(r.startswith("HardSigmoid: hardsigmoid_via_") for r in routes), routes
    assert report["rewrites"] == []  # nothing left for the ONNX level
    assert report["verification"]["passed"] and report["verification"]["max_rel"] <= 1e-5
    assert report["torch"]["passed"] and report["torch"]["max_rel"] <= 1e-5 and report["torch"]["samples"] == 8
    by_onnx = _export(cli, spec, onnx_fix, "--via", "onnx")
    assert by_onnx.code == 0, by_onnx.stderr
    assert {r["op_type"] for r in by_onnx.json()["rewrites"]} == {"HardSwish", "HardSigmoid"}
    for path in (swap, onnx_fix):
        assert cli("check", path, "--target", "snpe-2.7").code == 0


def test_dynamo_export_of_the_swapped_small_network(cli, tmp_path: Path) -> None:
    out = tmp_path / "small.onnx"
    result = _export(cli, "torchvision:mobilenet_v3_small", out, "--dynamo", "--input-shape", "input=1,3,96,96")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["exporter"] == "dynamo"
    assert len(report["swapped"]["replaced"]) > 0 and report["verification"]["passed"]
    assert cli("check", out, "--target", "snpe-2.7").code == 0


class _Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.LayerNorm([8, 8])

    def forward(self, x):
        return F.gelu(self.norm(F.hardswish(self.conv(x))))


class _Untraceable(_Functional):
    def forward(self, x):
        y = F.hardswish(self.conv(x))
        if y.sum() > 0:  # data-dependent control flow: torch.fx cannot trace this
            y = y * 2
        return y


def test_functional_calls_and_layernorm_are_swapped() -> None:
    from opswap.torch import swap_layers

    model = _Functional().eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        want = model(x)
    # With the dynamo exporter LayerNorm becomes LayerNormalization and F.gelu becomes Gelu,
    # both missing from SNPE 2.7.
    swapped, report = swap_layers(copy.deepcopy(model), opswap.load_target("snpe-2.7"), dynamo=True)
    assert report.functional == {"F.hardswish": 1, "F.gelu": 1}
    assert report.replaced == {"norm": "LayerNorm -> opswap replacement"}
    with torch.no_grad():
        got = swapped(x)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_untraceable_model_falls_back_to_the_onnx_fix(tmp_path: Path) -> None:
    from opswap.torch import swap_layers

    model = _Untraceable().eval()
    _, report = swap_layers(model, opswap.load_target("snpe-2.7"))
    assert any("does not trace with torch.fx" in note for note in report.notes)


def _source_hashes() -> dict[str, str]:
    hashes = {}
    for package in (torch, torchvision):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            hashes[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def test_nothing_installed_is_modified(tmp_path: Path) -> None:
    from opswap.export import export_for_target

    before = _source_hashes()
    report = export_for_target(
        "torchvision:mobilenet_v3_small",
        opswap.load_target("snpe-2.7"),
        tmp_path / "m.onnx",
        input_shape=(1, 3, 96, 96),
    )
    assert report.ok
    assert _source_hashes() == before


FACTORY = """
import torch
from torch import nn


def tiny():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Hardswish(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 4), nn.Hardsigmoid())
"""


def _tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(FACTORY)
    return path


def test_factory_spec(cli, tmp_path: Path) -> None:
    out = tmp_path / "tiny.onnx"
    spec = f"{_tiny(tmp_path)}:tiny"
    result = _export(cli, spec, out, "--input-shape", "input=1,3,16,16")
    assert result.code == 0, result.stderr
    assert len(result.json()["swapped"]["replaced"]) == 2
    assert cli("check", out, "--target", "snpe-2.7").code == 0
    bad = cli("check", f"{_tiny(tmp_path)}:nothere", "--target", "snpe-2.7")
    assert bad.code == 2 and "has no function 'nothere'" in bad.stderr


def test_saved_programs_are_fixed_at_the_onnx_level(cli, tmp_path: Path) -> None:
    """A traced TorchScript .pt (as the seed saved) and a torch.export .pt2 both come out legal."""
    from opswap.frontends.torch import build

    module = build(f"{_tiny(tmp_path)}:tiny", input_shape=(1, 3, 16, 16))
    example = torch.randn(1, 3, 16, 16)
    traced = tmp_path / "tiny.pt"
    torch.jit.trace(module, example).save(str(traced))
    program = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(module, (example,)), str(program))
    for saved in (traced, program):
        out = tmp_path / f"{saved.suffix[1:]}.onnx"
        result = cli(
            "fix", saved, "--target", "snpe-2.7", "--input-shape", "input=1,3,16,16", "-o", out, "--format", "json"
        )
        assert result.code == 0, (saved, result.stderr)
        assert result.json()["verification"]["passed"]


def test_swapped_model_still_traces_and_runs() -> None:
    from opswap.frontends.torch import build
    from opswap.torch import swap_layers

    model = build("torchvision:mobilenet_v3_small", input_shape=(1, 3, 64, 64))
    swapped, report = swap_layers(copy.deepcopy(model), opswap.load_target("snpe-2.7"))
    assert report.replaced
    example = torch.randn(1, 3, 64, 64)
    traced = torch.jit.trace(swapped, example)
    with torch.no_grad():
        np.testing.assert_allclose(traced(example).numpy(), model(example).numpy(), rtol=1e-4, atol=1e-6)


def test_efficientnet_silu_needs_no_swap_for_snpe(cli, tmp_path: Path) -> None:
    out = tmp_path / "effnet.onnx"
    result = _export(cli, "torchvision:efficientnet_b0", out, "--input-shape", "input=1,3,64,64")
    assert result.code == 0, result.stderr
    # SiLU exports as Sigmoid and Mul, both in SNPE 2.7: nothing to swap.
    assert result.json()["swapped"]["replaced"] == {}


def test_convnext_with_the_dynamo_exporter(cli, tmp_path: Path) -> None:
    """GELU and LayerNorm become Gelu and LayerNormalization under dynamo; SNPE 2.7 has neither."""
    out = tmp_path / "convnext.onnx"
    result = _export(cli, "torchvision:convnext_tiny", out, "--dynamo", "--input-shape", "input=1,3,64,64")
    assert result.code == 0, result.stderr
    report = result.json()
    kinds = list(report["swapped"]["replaced"].values())
    assert kinds.count("GELU -> opswap replacement") == 18 and kinds.count("LayerNorm -> opswap replacement") == 18
    # torchvision's LayerNorm2d subclasses LayerNorm with its own forward: not swapped, fixed in ONNX instead.
    assert {r["op_type"] for r in report["rewrites"]} >= {"LayerNormalization"}
    assert report["torch"]["passed"] and report["verification"]["passed"]
    assert cli("check", out, "--target", "snpe-2.7").code == 0


@pytest.mark.parametrize(
    ("spec", "dynamo"),
    [
        ("torchvision:mobilenet_v3_large", True),
        ("torchvision:mobilenet_v3_small", False),
        ("torchvision:efficientnet_b0", True),
        ("torchvision:convnext_tiny", False),
    ],
)
def test_each_model_with_the_other_exporter(spec: str, dynamo: bool, tmp_path: Path) -> None:
    from opswap.export import export_for_target

    report = export_for_target(
        spec, opswap.load_target("snpe-2.7"), tmp_path / "m.onnx", dynamo=dynamo, input_shape=(1, 3, 64, 64)
    )
    assert report.ok, report.to_dict()["unresolved"]
    assert opswap.check(opswap.load(tmp_path / "m.onnx"), opswap.load_target("snpe-2.7")).legal
