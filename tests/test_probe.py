"""probe: what a converter really accepts, as a profile."""

from __future__ import annotations

from pathlib import Path

import pytest

import opswap
from conftest import fake_converter
from opswap.probe import probe

# A converter that rejects any model containing Mish.
REJECT_MISH = """
import onnx
model = onnx.load(sys.argv[1])
if any(n.op_type == 'Mish' for n in model.graph.node):
    print('These Op Not Support: ONNX::Mish')
    sys.exit(1)
pathlib.Path(sys.argv[2]).write_text('ok')
"""


def test_probe_a_command_template(cli, tmp_path: Path) -> None:
    tool = fake_converter(tmp_path / "bin", "my-converter", REJECT_MISH) / "my-converter"
    profile = tmp_path / "mine.toml"
    result = cli(
        "probe",
        "--converter",
        f"{tool} {{input}} {{output}}",
        "-o",
        profile,
        "--ops",
        "Relu,Mish,HardSwish",
        "--format",
        "json",
    )
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["ops"]["Mish"]["supported"] is False
    assert report["ops"]["Mish"]["notes"][0] == "These Op Not Support: ONNX::Mish"
    target = opswap.load_target(profile)
    assert target.support("Relu") is not None and target.support("HardSwish") is not None
    assert target.support("Mish") is None
    assert "opswap probe of" in target.source
    # The probed profile drives fix: Mish is rewritten for this converter.
    from onnx import helper

    from conftest import make_model, save_model, tensor

    model = save_model(
        make_model([helper.make_node("Mish", ["x"], ["y"])], [tensor("x", [2, 4])], [tensor("y", [2, 4])], opset=18),
        tmp_path / "mish.onnx",
    )
    fixed = cli("fix", model, "--target", profile, "-o", tmp_path / "fixed.onnx", "--allow-approx", "--format", "json")
    # Only Relu and HardSwish are accepted: no route for Mish exists in so small a profile.
    assert fixed.code == 1 and fixed.json()["unresolved"][0]["op_type"] == "Mish"


def test_probe_openvino_agrees_with_the_shipped_profile() -> None:
    pytest.importorskip("openvino")
    ops = {
        "Relu", "HardSigmoid", "HardSwish", "Mish", "Gelu", "Selu", "Softplus", "LayerNormalization", "Einsum",
        "GridSample", "Round", "Erf", "Celu", "DepthToSpace",
    }  # fmt: skip
    report = probe("openvino", ops)
    differences = report.compare(opswap.load_target("openvino"))
    assert set(report.ops) == ops
    assert differences["listed_but_rejected"] == [] and differences["accepted_but_not_listed"] == []


def test_probe_finds_openvinos_topk_ties(tmp_path: Path) -> None:
    """OpenVINO's frontend lists TopK, but on equal values it returns other indices than ONNX specifies."""
    pytest.importorskip("openvino")
    report = probe("openvino", {"TopK"})
    result = report.ops["TopK"]
    assert result.supported
    assert set(result.wrong_tests) == {
        "test_top_k_same_values",
        "test_top_k_same_values_2d",
        "test_top_k_same_values_largest",
    }
    # The profile keeps TopK, with the wrong cases as a caveat shown on every TopK node.
    profile = tmp_path / "ov.toml"
    profile.write_text(report.profile_toml("ov"))
    assert "test_top_k_same_values" in opswap.load_target(profile).ops[("", "TopK")].note


def test_probe_finds_that_tile_needs_constant_repeats() -> None:
    pytest.importorskip("openvino")
    # Measured here: OpenVINO converts Tile with runtime repeats but computes it wrong; constant repeats are right.
    report = probe("openvino", {"Tile"})
    assert report.ops["Tile"].wrong > 0
    assert report.ops["Tile"].static_inputs == [1]
    assert "static_inputs = [1]" in report.profile_toml("ov")


# A converter that takes Selu only with its default alpha and gamma, as onnx2torch 1.5.15 does.
SELU_DEFAULTS_ONLY = """
import onnx
from onnx import helper
model = onnx.load(sys.argv[1])
DEFAULTS = {'alpha': 1.67326319, 'gamma': 1.05070102}
for n in model.graph.node:
    changed = [a.name for a in n.attribute if a.name in DEFAULTS and abs(a.f - DEFAULTS[a.name]) > 1e-6]
    if n.op_type == 'Selu' and changed:
        print('alpha parameter must be 1.6732632423543772')
        sys.exit(1)
pathlib.Path(sys.argv[2]).write_text('ok')
"""


def test_probe_learns_attributes_that_convert_only_at_their_default(cli, tmp_path: Path) -> None:
    tool = fake_converter(tmp_path / "bin", "selu-converter", SELU_DEFAULTS_ONLY) / "selu-converter"
    profile = tmp_path / "selu.toml"
    result = cli("probe", "--converter", f"{tool} {{input}} {{output}}", "-o", profile, "--ops", "Selu,LeakyRelu")
    assert result.code == 0, result.stderr
    target = opswap.load_target(profile)
    selu = target.support("Selu")
    assert selu is not None and set(selu.attributes) == {"alpha", "gamma"}
    assert (
        target.support("LeakyRelu") is not None and not target.support("LeakyRelu").attributes
    )  # alpha varies and converts
    from onnx import TensorProto, helper

    from conftest import make_model, save_model, tensor

    def selu(**attrs: float) -> Path:
        node = helper.make_node("Selu", ["x"], ["y"], **attrs)
        model = make_model([node], [tensor("x", [2, 3], TensorProto.FLOAT)], [tensor("y", [2, 3])])
        return save_model(model, tmp_path / f"selu{len(attrs)}.onnx")

    assert cli("check", selu(), "-t", profile).code == 0
    rejected = cli("check", selu(alpha=2.0), "-t", profile)
    assert rejected.code == 1 and "alpha=2.0 not supported" in rejected.stdout


def test_the_shipped_onnx2torch_profile_knows_selus_limits() -> None:
    """onnx2torch 1.5.15 rejects Selu with non-default alpha/gamma; its probed profile says so."""
    selu = opswap.load_target("onnx2torch").support("Selu")
    assert selu is not None and {"alpha", "gamma"} <= set(selu.attributes)
