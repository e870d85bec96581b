"""Shared fixtures: the real CLI in a subprocess, tiny models, ONNX's node-test data, MobileNetV3."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In CI every optional converter and torch must be installed: a skip there would hide a test."""
    del config, items
    if os.environ.get("CI"):
        import importlib.util

        missing = [
            m
            for m in ("torch", "torchvision", "openvino", "onnx2torch", "MNN", "onnxruntime_qnn")
            if importlib.util.find_spec(m) is None
        ]
        if missing:
            raise pytest.UsageError(f"CI needs {', '.join(missing)} installed (make test installs them)")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run ``python -m opswap`` as a user would: real exit code, real stdout and stderr."""
    return run_program([sys.executable, "-m", "opswap", *map(str, args)], env, cwd)


def run_program(argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run a program (200 columns, no OPSWAP_DEBUG, ``env`` added) and capture its exit code and output."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("OPSWAP_DEBUG", None)
    done = subprocess.run(list(argv), capture_output=True, text=True, env=full_env, cwd=cwd, timeout=900, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli() -> Any:
    return run_cli


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    opset: int = 14,
    initializers: Sequence[onnx.TensorProto] = (),
    functions: Sequence[onnx.FunctionProto] = (),
    extra_opsets: Sequence[onnx.OperatorSetIdProto] = (),
) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "test", list(inputs), list(outputs), list(initializers))
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset), *extra_opsets],
        functions=list(functions),
    )
    model.ir_version = 8
    return model


def target_of(*ops: str, header: str = "") -> Any:
    """A test profile named ``t`` that accepts ``ops`` at every version; ``header`` adds [target] lines."""
    from opswap.targets.profile import parse_profile

    body = "\n".join(f"[ops.{op}]" for op in ops)
    return parse_profile(f'[target]\nname = "t"\nsource = "test"\n{header}\n{body}', "t.toml")


def tensor(name: str, shape: Sequence[int | str], dtype: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, list(shape))


def hardswish_model(
    opset: int = 14, dtype: int = TensorProto.FLOAT, shape: Sequence[int] = (2, 3, 8, 8)
) -> onnx.ModelProto:
    """Conv-free toy: y = HardSwish(x) * HardSigmoid(x)."""
    return make_model(
        [
            helper.make_node("HardSwish", ["x"], ["hs"], name="hswish"),
            helper.make_node("HardSigmoid", ["x"], ["hg"], name="hsig", alpha=1 / 6, beta=0.5),
            helper.make_node("Mul", ["hs", "hg"], ["y"], name="mul"),
        ],
        [tensor("x", shape, dtype)],
        [tensor("y", shape, dtype)],
        opset=opset,
    )


def save_model(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def ort_run(model: onnx.ModelProto | Path, feeds: dict[str, np.ndarray], optimize: bool = False) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return list(session.run(None, feeds))


# --- ONNX's own node tests, generated once from the onnx wheel's test cases --------------------------


def onnx_node_test_dir() -> Path:
    """``.cache/onnx-node-tests/<onnx version>/node``, generated once from the onnx wheel's test cases."""
    root = CACHE / "onnx-node-tests" / onnx.__version__
    node_dir = root / "node"
    if not node_dir.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="gen-", dir=root.parent))
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("onnx_node_data.py")), str(tmp)],
            check=True,
            capture_output=True,
        )
        try:
            tmp.rename(root)
        except OSError:  # another process generated it first
            shutil.rmtree(tmp, ignore_errors=True)
    return node_dir


def node_tests_of(op_type: str) -> list[Path]:
    """Every node test whose model contains ``op_type`` (its own tests, not the expanded ones)."""
    found = []
    for case in sorted(onnx_node_test_dir().iterdir()):
        model_file = case / "model.onnx"
        if not model_file.is_file():
            continue
        model = onnx.load(str(model_file), load_external_data=False)
        if any(n.op_type == op_type and n.domain in ("", "ai.onnx") for n in model.graph.node):
            found.append(case)
    return found


def read_test_data(case: Path, model: onnx.ModelProto) -> list[tuple[dict[str, np.ndarray], list[np.ndarray]]]:
    sets = []
    for data_dir in sorted(case.glob("test_data_set_*")):
        inputs = {}
        for i, info in enumerate(model.graph.input):
            t = onnx.TensorProto()
            t.ParseFromString((data_dir / f"input_{i}.pb").read_bytes())
            inputs[info.name] = onnx.numpy_helper.to_array(t)
        outputs = []
        for i in range(len(model.graph.output)):
            t = onnx.TensorProto()
            t.ParseFromString((data_dir / f"output_{i}.pb").read_bytes())
            outputs.append(onnx.numpy_helper.to_array(t))
        sets.append((inputs, outputs))
    return sets


# --- MobileNetV3 (needs torch) ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def mnv3_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torchvision mobilenet_v3_large, random weights with calibrated BatchNorm, opset 14 (TorchScript)."""
    pytest.importorskip("torchvision")
    path = tmp_path_factory.mktemp("mnv3") / "mobilenet_v3_large.onnx"
    result = run_cli("export", "torchvision:mobilenet_v3_large", "-o", path)
    assert result.code == 0, result.stderr
    return path


@pytest.fixture(scope="session")
def mnv3_dynamo_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same network through the dynamo exporter (opset 18+, ReduceMean for global pooling)."""
    torch = pytest.importorskip("torch")
    import contextlib
    import io
    import warnings

    from opswap.frontends.torch import build

    module = build("torchvision:mobilenet_v3_large")
    path = tmp_path_factory.mktemp("mnv3-dynamo") / "mobilenet_v3_large_dynamo.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.randn(1, 3, 224, 224),),
            str(path),
            dynamo=True,
            input_names=["input"],
            output_names=["output"],
        )
    return path


def fake_converter(folder: Path, name: str, body: str) -> Path:
    """An executable named like a vendor converter, run by this Python (which has onnx)."""
    folder.mkdir(exist_ok=True)
    tool = folder / name
    tool.write_text(f"#!{sys.executable}\nimport sys, pathlib\n{body}")
    tool.chmod(0o755)
    return folder


def conv_mish_selu_groupnorm(path: Path) -> Path:
    """A small convolutional model with the three ops onnx2torch and MNN reject (opset 21)."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array((rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32), "w1"),
        numpy_helper.from_array((rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32), "w2"),
        numpy_helper.from_array(np.linspace(0.5, 1.5, 8).astype(np.float32), "gn_scale"),
        numpy_helper.from_array(np.linspace(-0.2, 0.2, 8).astype(np.float32), "gn_bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Mish", ["c1"], ["m"], name="mish"),
        helper.make_node("Conv", ["m", "w2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Selu", ["c2"], ["s"], name="selu"),
        helper.make_node("GroupNormalization", ["s", "gn_scale", "gn_bias"], ["y"], num_groups=2, name="gn"),
    ]
    model = make_model(
        nodes, [tensor("x", [1, 3, 16, 16])], [tensor("y", [1, 8, 16, 16])], opset=21, initializers=weights
    )
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return save_model(model, path)
