"""PyTorch models as input: ``torchvision:NAME`` specs, weights files, export to ONNX.

torch is an optional dependency, imported only here and only when a spec is used. Weights are loaded
with ``weights_only=True``: a file that is not a plain state dict is refused, never unpickled.

Without weights, torchvision's networks are built with random parameters and BatchNorm statistics of
zero mean and unit variance; their outputs are then about 1e-9 and every comparison on them is
meaningless. So random-weight models have their BatchNorm statistics calibrated first, by a few
forward passes on random data in training mode.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from opswap.errors import FrontendError
from opswap.model import Model, load

DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)
DEFAULT_OPSET = 14
CALIBRATION_BATCHES = 4
CALIBRATION_BATCH_SIZE = 8


def _torch() -> Any:
    try:
        import torch
        import torchvision  # noqa: F401
    except ImportError:
        raise FrontendError("PyTorch model specs need torch and torchvision: pip install 'opswap[torch]'") from None
    return torch


def build(
    spec: str, weights: Path | None = None, input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE, seed: int = 0
) -> Any:
    """Build the module a spec names, in eval mode, with weights loaded or BatchNorm calibrated.

    Specs: ``torchvision:NAME``, ``timm:NAME`` (when timm is installed), ``path/to/file.py:factory``
    (a function returning an nn.Module; the file is Python and runs, as ``python file.py`` would), a
    TorchScript ``.pt`` file (refused if its code writes or maps files), or an ExportedProgram
    ``.pt2`` file (refused if it holds anything torch would unpickle; see ``_load_program``).
    """
    torch = _torch()
    torch.manual_seed(seed)
    if spec.endswith((".pt", ".pt2")):
        if weights is not None:
            raise FrontendError(f"{spec}: --weights applies to specs that build a module, not to saved programs")
        return _load_program(Path(spec))
    kind, _, name = spec.partition(":")
    if kind == "torchvision" and name:
        module = _torchvision(spec, name)
    elif kind == "timm" and name:
        module = _timm(spec, name)
    elif kind.endswith(".py") and name:
        module = _factory(Path(kind), name)
    else:
        raise FrontendError(f"{spec!r}: expected torchvision:NAME, timm:NAME, file.py:factory, or a .pt / .pt2 file")
    if weights is not None:
        module.load_state_dict(load_state_dict(weights, module))
    else:
        calibrate_batchnorm(module, input_shape, seed=seed)
    return module.eval()


def _torchvision(spec: str, name: str) -> Any:
    import torchvision

    available = torchvision.models.list_models()
    if name not in available:
        import difflib

        close = difflib.get_close_matches(name, available, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise FrontendError(f"{spec!r}: torchvision has no model {name!r}{hint}")
    return torchvision.models.get_model(name, weights=None)


def _timm(spec: str, name: str) -> Any:
    try:
        import timm
    except ImportError:
        raise FrontendError(f"{spec!r}: timm specs need timm: pip install timm") from None
    try:
        return timm.create_model(name, pretrained=False)
    except Exception as exc:  # timm raises RuntimeError for unknown names
        raise FrontendError(f"{spec!r}: {str(exc).splitlines()[0]}") from None


def _factory(path: Path, name: str) -> Any:
    import importlib.util

    torch = _torch()
    if not path.is_file():
        raise FrontendError(f"{path}: no such Python file")
    spec = importlib.util.spec_from_file_location(f"opswap_user_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise FrontendError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file; report its own error
        raise FrontendError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise FrontendError(f"{path}: has no function {name!r}")
    built = factory()
    if not isinstance(built, torch.nn.Module):
        raise FrontendError(f"{path}:{name} returned {type(built).__name__}, not a torch.nn.Module")
    return built


def _load_program(path: Path) -> Any:
    """Load a saved program so that nothing in the file runs but the program's own ops.

    ``.pt2`` (torch.export): torch's loader unpickles some payloads with ``weights_only=False``
    (tensor subclasses, custom and opaque objects; sample inputs and legacy weight files after a
    failed restricted try) and ``dlopen``s AOTInductor libraries. An archive with compiled code,
    pickled tensors or objects is refused before loading, and the load itself runs with
    ``torch.load`` forced to ``weights_only=True`` and every other unpickler refused, so no pickled
    Python object is ever built. ``.pt`` (TorchScript): its code is TorchScript, which cannot
    import or call Python, but can call ops that write files; an archive whose code names one
    (``torch.save``, ``torch.from_file``) is refused before loading, and every method's graph is
    checked again after.
    """
    import zipfile

    torch = _torch()
    if not path.is_file():
        raise FrontendError(f"{path}: no such file")
    kind = "torch.export program" if path.suffix == ".pt2" else "TorchScript file"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if path.suffix == ".pt2":
                _refuse_pickled_payloads(path, archive, names)
            else:
                _refuse_file_ops_in_code(path, archive, names)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        raise FrontendError(f"{path}: not a {kind} ({type(exc).__name__})") from None
    try:
        if path.suffix == ".pt2":
            with _unpickling_restricted():
                return torch.export.load(str(path))  # exported as it is, by the dynamo exporter
        module = torch.jit.load(str(path), map_location="cpu").eval()
    except FrontendError:
        raise
    except Exception as exc:  # torch raises RuntimeError and others for files that are not programs
        raise FrontendError(f"{path}: not a {kind} ({type(exc).__name__})") from None
    _refuse_file_ops_in_graphs(path, module)
    return module


#: TorchScript ops that touch files (``torch.save``; ``torch.from_file`` maps a file, shared it writes).
FILE_OPS = ("aten::save", "aten::from_file", "debugprims::load_tensor")
_FILE_CALL = re.compile(r"\b(?:torch|ops\.\w+)\s*\.\s*(?:save|from_file|load_tensor)\s*\(")


def _refuse_file_ops_in_code(path: Path, archive: Any, names: list[str]) -> None:
    for name in names:
        if "/code/" in f"/{name}" and name.endswith(".py"):
            code = archive.read(name).decode("utf-8", "replace")
            found = _FILE_CALL.search(code)
            if found:
                raise FrontendError(
                    f"{path}: refused: its TorchScript code calls {found.group().rstrip('(').strip()} "
                    f"({name}), which writes or maps files; opswap runs no program that does"
                )


def _refuse_file_ops_in_graphs(path: Path, module: Any) -> None:
    torch = _torch()
    for sub in module.modules():
        scripted = getattr(sub, "_c", None)
        if scripted is None or not hasattr(scripted, "_method_names"):
            continue
        for method_name in scripted._method_names():
            graph = scripted._get_method(method_name).graph.copy()
            torch._C._jit_pass_inline(graph)
            for op in FILE_OPS:
                if graph.findAllNodes(op, True):
                    raise FrontendError(
                        f"{path}: refused: method {method_name} calls {op}, which writes or maps files; "
                        "opswap runs no program that does"
                    )


def _refuse_pickled_payloads(path: Path, archive: Any, names: list[str]) -> None:
    """A .pt2 archive is loaded only if torch would build nothing from pickle while reading it."""
    import json

    def refuse(what: str) -> None:
        raise FrontendError(
            f"{path}: refused: it holds {what}, which torch.export.load unpickles as Python objects "
            "(pickle runs code); save the program without them"
        )

    for name in names:
        inner = name.partition("/")[2]  # below the archive's root folder
        if inner.startswith(("data/aotinductor/", "data/executorch/", "data/mtia")) or name.endswith(".so"):
            refuse(f"compiled code ({name})")
        if inner.endswith(("_weights_config.json", "_constants_config.json")):
            config = json.loads(archive.read(name))
            for fqn, payload in (config.get("config") or {}).items():
                file_name = str(payload.get("path_name", ""))
                if payload.get("use_pickle"):
                    refuse(f"a pickled tensor ({fqn})")
                if file_name.startswith(("custom_obj_", "opaque_obj_")):
                    refuse(f"a pickled object ({fqn})")


@contextlib.contextmanager
def _unpickling_restricted() -> Iterator[None]:
    """While torch loads an archive: torch.load only with weights_only=True, no other unpickler."""
    import pickle

    torch = _torch()
    real_load = torch.load

    def restricted_load(*args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        return real_load(*args, **kwargs)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise FrontendError("refused: the archive asked to unpickle a Python object")

    saved = [(torch, "load", real_load), (pickle, "load", pickle.load), (pickle, "loads", pickle.loads)]
    saved.append((torch._C, "_pickle_load_obj", getattr(torch._C, "_pickle_load_obj", None)))
    torch.load, pickle.load, pickle.loads = restricted_load, refused, refused
    torch._C._pickle_load_obj = refused
    try:
        yield
    finally:
        for owner, name, value in saved:
            if value is not None:
                setattr(owner, name, value)


def load_state_dict(path: Path, module: Any) -> dict[str, Any]:
    """Read a state dict with ``weights_only=True`` and check it fits ``module``."""
    torch = _torch()
    if not path.is_file():
        raise FrontendError(f"{path}: no such weights file")
    try:
        if path.suffix == ".safetensors":
            try:
                from safetensors.torch import load_file
            except ImportError:
                raise FrontendError(f"{path}: .safetensors weights need safetensors: pip install safetensors") from None
            state = load_file(str(path))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
    except FrontendError:
        raise
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for refused or broken files
        raise FrontendError(
            f"{path}: refused: not a plain state dict of tensors (torch.load with weights_only=True: {_why(exc)})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FrontendError(f"{path}: not a plain state dict of tensors")
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
        raise FrontendError(f"{path}: does not fit the model: {'; '.join(parts)}")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise FrontendError(
                f"{path}: {key} has shape {tuple(tensor.shape)}, the model expects {tuple(expected[key].shape)}"
            )
    return state


def _why(exc: Exception) -> str:
    """The specific line of torch's weights_only refusal, without its advice to disable the check."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    specific = [line for line in lines if "Unsupported" in line or "invalid load key" in line]
    if specific:
        return specific[0]
    return lines[0] if lines and "weights_only" not in lines[0] else type(exc).__name__


def calibrate_batchnorm(module: Any, input_shape: Sequence[int], seed: int = 0) -> None:
    """Set BatchNorm running statistics from a few forward passes on random data."""
    torch = _torch()
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
    generator = torch.Generator().manual_seed(seed)
    shape = (CALIBRATION_BATCH_SIZE, *input_shape[1:])
    module.train()
    with torch.no_grad():
        for _ in range(CALIBRATION_BATCHES):
            module(torch.randn(*shape, generator=generator))
    module.eval()


def export(
    module: Any,
    path: Path,
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
    opset: int = DEFAULT_OPSET,
    dynamo: bool = False,
) -> None:
    """Export with the TorchScript exporter at ``opset`` (default), or the dynamo exporter."""
    torch = _torch()
    example = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    names: dict[str, Any] = {"input_names": ["input"], "output_names": ["output"]}
    with quiet():
        try:
            if isinstance(module, torch.export.ExportedProgram) or dynamo:
                torch.onnx.export(module, (example,), str(path), dynamo=True, **names)
            else:
                torch.onnx.export(module, (example,), str(path), opset_version=opset, dynamo=False, **names)
        except Exception as exc:  # the exporter raises many types; report its own words
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FrontendError(f"torch.onnx.export failed: {first}") from None


def load_exported(path: Path) -> Model:
    """Load a model opswap just exported, with its external data read in.

    The dynamo exporter writes a .data file beside the model; reading it makes the model outlive the
    temporary folder it was exported to.
    """
    import onnx

    model = load(path)
    onnx.external_data_helper.load_external_data_for_model(model.proto, str(path.parent))
    return model


def load_spec(
    spec: str,
    weights: Path | None = None,
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
    opset: int = DEFAULT_OPSET,
) -> Model:
    """Build, export (TorchScript exporter) and load a PyTorch spec as an in-memory ONNX model."""
    module = build(spec, weights, input_shape)
    with tempfile.TemporaryDirectory(prefix="opswap-export-") as tmp:
        path = Path(tmp) / "model.onnx"
        export(module, path, input_shape, opset)
        model = load_exported(path)
    model.path, model.label, model.base_dir = None, spec, Path.cwd()
    return model


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The TorchScript exporter warns about its own deprecation and prints diagnostics; hide them."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield
