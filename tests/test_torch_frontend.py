"""PyTorch specs: weights files loaded with weights_only=True, calibrated random weights, export."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import onnx
import pytest

from conftest import ort_run

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

SPEC = "torchvision:mobilenet_v3_small"
SHAPE = ("--input-shape", "input=1,3,96,96")


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dict made here (hub downloads are impossible), with distinctive non-default values."""
    torch.manual_seed(123)
    model = torchvision.models.mobilenet_v3_small(weights=None)
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if name.endswith("running_var"):
                value.fill_(0.5)
            elif name.endswith("running_mean"):
                value.normal_(0, 0.1)
    path = tmp_path_factory.mktemp("w") / "mobilenet_v3_small.pth"
    torch.save(model.state_dict(), path)
    return path


def test_weights_file_is_used(cli, weights_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    assert cli("export", SPEC, "-o", out, "--weights", weights_file, *SHAPE).code == 0
    state = torch.load(weights_file, weights_only=True)
    model = onnx.load(str(out))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    # The classifier's last layer is exported as is (no BatchNorm folds into it).
    np.testing.assert_array_equal(inits["classifier.3.weight"], state["classifier.3.weight"].numpy())

    module = torchvision.models.mobilenet_v3_small(weights=None)
    module.load_state_dict(state)
    module.eval()
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = module(x).numpy()
    (got,) = ort_run(out, {"input": x.numpy()})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_fix_with_weights(cli, weights_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed.onnx"
    result = cli("fix", SPEC, "--target", "snpe-2.7", "-o", out, "--weights", weights_file, *SHAPE, "--format", "json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["verification"]["passed"]
    assert {r["op_type"] for r in report["rewrites"]} == {"HardSwish", "HardSigmoid"}


def test_a_pickle_that_is_not_a_state_dict_is_refused(cli, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.pth"
    with hostile.open("wb") as f:
        pickle.dump({"model": _Payload()}, f)
    result = cli("export", SPEC, "-o", tmp_path / "m.onnx", "--weights", hostile)
    assert result.code == 2
    assert result.stderr.startswith("opswap: ") and len(result.stderr.strip().splitlines()) == 1
    assert "weights_only=True" in result.stderr
    assert not (tmp_path / "m.onnx").exists()
    assert not (tmp_path / "pwned").exists()


def test_state_dict_for_another_model_is_refused(cli, weights_file: Path, tmp_path: Path) -> None:
    result = cli("export", "torchvision:mobilenet_v3_large", "-o", tmp_path / "m.onnx", "--weights", weights_file)
    assert result.code == 2
    assert "does not fit the model" in result.stderr or "expects" in result.stderr


def test_random_weights_are_calibrated(tmp_path: Path) -> None:
    from opswap.frontends.torch import build

    module = build(SPEC, input_shape=(1, 3, 96, 96))
    with torch.no_grad():
        logits = module(torch.randn(2, 3, 96, 96))
    assert logits.abs().max().item() > 1e-3, "untouched random BatchNorm gives outputs around 1e-9"


class _Payload:
    """Unpickling this would create a file: weights_only=True must refuse it."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, ("pwned",))
