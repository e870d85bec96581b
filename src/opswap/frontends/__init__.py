"""Where models come from: ONNX files, or PyTorch specs such as ``torchvision:mobilenet_v3_large``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from opswap.errors import FrontendError
from opswap.model import Model, load

TORCH_PREFIXES = ("torchvision:", "timm:")
_FACTORY = re.compile(r".+\.py:[A-Za-z_]\w*$")


def is_torch_spec(source: str) -> bool:
    """Whether ``source`` names a PyTorch model (a zoo name, a factory, a saved program), not ONNX."""
    return source.startswith(TORCH_PREFIXES) or source.endswith((".pt", ".pt2")) or bool(_FACTORY.match(source))


def source_files(source: str) -> list[tuple[Path, str]]:
    """The files a model source reads, each with what it is, for output guards (see ``check_output``).

    An ONNX path first (the file ``--in-place`` may overwrite); then a factory's ``.py``, a saved
    program; a zoo name (``torchvision:NAME``) reads no file of the user's.
    """
    if not is_torch_spec(source):
        return [(Path(source), "the input file")]
    if source.endswith((".pt", ".pt2")):
        return [(Path(source), "the input program")]
    if _FACTORY.match(source):
        return [(Path(source.rpartition(":")[0]), "the model's Python source")]
    return []


def open_model(
    source: str,
    *,
    weights: Path | None = None,
    input_shape: Sequence[int] | None = None,
    opset: int | None = None,
    background_check: bool = False,
) -> Model:
    """Load an ONNX file, or build and export a PyTorch spec, as a :class:`Model`.

    ``background_check``: see :func:`opswap.model.load` (ONNX files only).
    """
    if is_torch_spec(source):
        from opswap.frontends import torch as torch_frontend

        return torch_frontend.load_spec(
            source,
            weights=weights,
            input_shape=tuple(input_shape or torch_frontend.DEFAULT_INPUT_SHAPE),
            opset=opset or torch_frontend.DEFAULT_OPSET,
        )
    if weights is not None or opset is not None:
        raise FrontendError("--weights and --opset apply to PyTorch specs (torchvision:NAME), not to ONNX files")
    return load(source, background_check=background_check)
