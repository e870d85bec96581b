"""What the Python API accepts where a user would pass it: a path for a model, a name for a target."""

from __future__ import annotations

import os
from typing import Any

from opswap.errors import OpswapError
from opswap.model import Model, load
from opswap.targets import Target, load_target


def as_model(model: Any, what: str = "model") -> Model:
    """A ``Model``, or a path (str or os.PathLike) to an .onnx file, loaded; anything else is an error."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str | os.PathLike):
        return load(model)
    raise OpswapError(f"{what}: expected an opswap Model or a path to an .onnx file, not {type(model).__name__}")


def as_target(target: Any) -> Target:
    """A ``Target``, a shipped profile name, or a path to a .toml profile; anything else is an error."""
    if isinstance(target, Target):
        return target
    if isinstance(target, str | os.PathLike):
        return load_target(target if isinstance(target, str) else os.fspath(target))
    raise OpswapError(f"target: expected a Target, a profile name or a .toml path, not {type(target).__name__}")
