"""opswap: make a model convertible to the edge runtime it targets.

The pipeline, each step a plain function on plain objects::

    import opswap

    model = opswap.load("model.onnx")                # or opswap.open_model("torchvision:mobilenet_v3_large")
    target = opswap.load_target("snpe-2.7")          # or a path to your own .toml profile
    report = opswap.check(model, target)             # every illegal node, at once
    original = opswap.copy(model)
    changes = opswap.legalize(model, target)         # in place: only the illegal nodes change
    numbers = opswap.verify(original, model)         # ONNX Runtime, original vs fixed
    opswap.save(model, "fixed.onnx")                 # atomic

or all of it in one call: ``opswap.fix(model, target, Path("fixed.onnx"))``. A detector's
post-processing (NonZero, NonMaxSuppression) can be cut off first: ``opswap.cut(model, ["scores", "boxes"])``.

Importing opswap loads nothing heavy: each name is imported on first use (onnx with the first step,
onnxruntime and torch when a step needs them), so ``opswap --help`` and usage errors are instant.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from typing import TYPE_CHECKING, Any

# opswap runs ONNX Runtime on other people's machines and models: it may not phone home or write a
# device id under ~/.cache (ORT does both on import unless this is set; a user's own setting stands).
# OpenVINO's telemetry is blocked where it is imported (converters/openvino.py).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

if TYPE_CHECKING:
    from opswap.check import CheckReport, check
    from opswap.cut import CutReport, cut
    from opswap.errors import OpswapError
    from opswap.fix import FixReport, fix
    from opswap.frontends import open_model
    from opswap.legalize import LegalizeReport, legalize
    from opswap.model import Model, copy, load, save
    from opswap.targets import Level, Target, builtin_names, load_target
    from opswap.verify import VerifyReport, verify

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first use; see ``__getattr__``).
_API = {
    "CheckReport": "opswap.check",
    "check": "opswap.check",
    "CutReport": "opswap.cut",
    "cut": "opswap.cut",
    "OpswapError": "opswap.errors",
    "FixReport": "opswap.fix",
    "fix": "opswap.fix",
    "open_model": "opswap.frontends",
    "LegalizeReport": "opswap.legalize",
    "legalize": "opswap.legalize",
    "Model": "opswap.model",
    "copy": "opswap.model",
    "load": "opswap.model",
    "save": "opswap.model",
    "Level": "opswap.targets",
    "Target": "opswap.targets",
    "builtin_names": "opswap.targets",
    "load_target": "opswap.targets",
    "VerifyReport": "opswap.verify",
    "verify": "opswap.verify",
}

__all__ = [
    "CheckReport",
    "CutReport",
    "FixReport",
    "LegalizeReport",
    "Level",
    "Model",
    "OpswapError",
    "Target",
    "VerifyReport",
    "builtin_names",
    "check",
    "copy",
    "cut",
    "fix",
    "legalize",
    "load",
    "load_target",
    "open_model",
    "save",
    "verify",
]


def __getattr__(name: str) -> Any:
    """A public name or a submodule (``opswap.model``), imported when first asked for."""
    module = _API.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"opswap.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"module 'opswap' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


class _Package(types.ModuleType):
    """The package, whose public functions keep their names when a submodule of that name loads.

    Importing ``opswap.check`` (the module) sets the package's attribute ``check`` to it; the
    function ``opswap.check`` is what users call, so that assignment is not kept (the module stays
    in ``sys.modules``, which ``import opswap.check`` reads).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
