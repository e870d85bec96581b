"""`check` for ONNX Runtime's EPs answers what ONNX Runtime's own usability checker answers.

ORT's EPs never see the file's graph: they partition it after ORT's basic optimizations (constants
folded, Constant nodes lifted, redundant nodes removed). `check` judges that graph for the ort-*
targets, so its verdict and node counts must equal the checker's on real exported models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

pytest.importorskip("torchvision")
pytestmark = pytest.mark.torch

DATA = Path(__file__).parent / "data"

#: Exported as users export them (TorchScript at opset 14 unless said): name -> (spec, extra arguments).
MODELS = {
    "shufflenet_v2": ("torchvision:shufflenet_v2_x0_5", []),
    "convnext_tiny": ("torchvision:convnext_tiny", ["--input-shape", "input=1,3,64,64"]),
    "resnet18": ("torchvision:resnet18", []),
    "squeezenet": ("torchvision:squeezenet1_1", []),
    "mobilenet_v2": ("torchvision:mobilenet_v2", []),
    "mnasnet": ("torchvision:mnasnet0_5", []),
    "efficientnet_b0": ("torchvision:efficientnet_b0", ["--input-shape", "input=1,3,96,96"]),
    "regnet": ("torchvision:regnet_x_400mf", []),
    "densenet121": ("torchvision:densenet121", ["--input-shape", "input=1,3,64,64"]),
    "googlenet": ("torchvision:googlenet", ["--input-shape", "input=1,3,64,64"]),
    "transformer": (f"{DATA / 'tiny_transformer.py'}:build", ["--input-shape", "x=1,16,64"]),
    "transformer_opset17": (f"{DATA / 'tiny_transformer.py'}:build", ["--input-shape", "x=1,16,64", "--opset", "17"]),
}
TARGETS = ["ort-nnapi", "ort-coreml-neuralnetwork", "ort-coreml-mlprogram"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, mnv3_onnx: Path, mnv3_dynamo_onnx: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("zoo")
    models = {"mobilenet_v3_large": mnv3_onnx, "mobilenet_v3_large_dynamo": mnv3_dynamo_onnx}
    for name, (spec, extra) in MODELS.items():
        out = folder / f"{name}.onnx"
        done = run_cli("export", spec, *extra, "-o", out)
        assert done.code == 0, done.stderr
        models[name] = out
    return models


@pytest.mark.parametrize("target", TARGETS)
def test_check_agrees_with_onnxruntimes_own_checker(exported: dict[str, Path], target: str) -> None:
    from opswap.converters.ort_mobile import partitions

    assert len(exported) >= 12
    disagreements = []
    for name, path in exported.items():
        theirs = partitions(path, target)
        ours = run_cli("check", path, "-t", target, "--format", "json").json()
        unsupported = sum(group["count"] for group in ours["illegal"])
        mine = (ours["legal"], ours["nodes"], unsupported)
        expected = (theirs.supported_nodes == theirs.nodes, theirs.nodes, theirs.nodes - theirs.supported_nodes)
        if mine != expected:
            disagreements.append(f"{name}: opswap {mine}, ONNX Runtime {expected}")
        assert "ONNX Runtime partitions" in ours["judged"]
    assert not disagreements, "\n".join(disagreements)
