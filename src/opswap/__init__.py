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

or all of it in one call: ``opswap.fix(model, target, Path("fixed.onnx"))``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names and the modules that define them; imported on first use so `import opswap` stays cheap.
_EXPORTS = {
    "Model": "opswap.model",
    "load": "opswap.model",
    "save": "opswap.model",
    "copy": "opswap.model",
    "open_model": "opswap.frontends",
    "Target": "opswap.targets",
    "load_target": "opswap.targets",
    "builtin_names": "opswap.targets",
    "check": "opswap.check",
    "CheckReport": "opswap.check",
    "legalize": "opswap.legalize",
    "LegalizeReport": "opswap.legalize",
    "verify": "opswap.verify",
    "VerifyReport": "opswap.verify",
    "fix": "opswap.fix",
    "FixReport": "opswap.fix",
    "OpswapError": "opswap.errors",
}

__all__ = [
    "CheckReport",
    "FixReport",
    "LegalizeReport",
    "Model",
    "OpswapError",
    "Target",
    "VerifyReport",
    "builtin_names",
    "check",
    "copy",
    "fix",
    "legalize",
    "load",
    "load_target",
    "open_model",
    "save",
    "verify",
]

if TYPE_CHECKING:
    from opswap.check import CheckReport, check
    from opswap.errors import OpswapError
    from opswap.fix import FixReport, fix
    from opswap.frontends import open_model
    from opswap.legalize import LegalizeReport, legalize
    from opswap.model import Model, copy, load, save
    from opswap.targets import Target, builtin_names, load_target
    from opswap.verify import VerifyReport, verify


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'opswap' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
