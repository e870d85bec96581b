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

Importing opswap loads onnx but not onnxruntime or torch; those load when a step needs them.
"""

from __future__ import annotations

from opswap.check import CheckReport, check
from opswap.errors import OpswapError
from opswap.fix import FixReport, fix
from opswap.frontends import open_model
from opswap.legalize import LegalizeReport, legalize
from opswap.model import Model, copy, load, save
from opswap.targets import Target, builtin_names, load_target
from opswap.verify import VerifyReport, verify

__version__ = "0.1.0"

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
