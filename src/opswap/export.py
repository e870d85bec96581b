"""Export a PyTorch model for a target, fixing it at the PyTorch level (swap) or the ONNX level.

``via="swap"`` replaces layers in the PyTorch model (frontends/swap.py) before exporting, and then
legalizes whatever is left in the ONNX graph (functional calls in a model torch.fx cannot trace);
``via="onnx"`` exports as is and legalizes the ONNX graph. Either way the result is compared with the
unchanged model's export in ONNX Runtime, and for a swap also in PyTorch itself.
"""

from __future__ import annotations

import copy as copying
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opswap.check import CheckReport
from opswap.fix import FixOptions, fix_with
from opswap.jsonout import schema_id
from opswap.legalize import LegalizeReport
from opswap.model import Model, copy, save
from opswap.opsets import Lowering
from opswap.targets import Target
from opswap.verify import DEFAULT_SAMPLES, Draw, VerifyReport, measure


@dataclass
class ExportReport:
    """What the export did and how the result compares with the unchanged model."""

    spec: str
    target: str
    via: str
    exporter: str
    swapped: dict[str, Any] | None
    legalization: LegalizeReport
    after: CheckReport
    verification: VerifyReport
    #: PyTorch eager, original vs swapped, with verify's metrics and verdict.
    torch_check: VerifyReport | None = None
    output: Path | None = None
    #: The opset lowering made after legalizing (``lower_opset``), if any.
    lowering: Lowering | None = None

    @property
    def ok(self) -> bool:
        """Legal for the target and verified (in ONNX Runtime, and in PyTorch for a swap)."""
        return self.after.legal and self.verification.passed and (self.torch_check is None or self.torch_check.passed)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "schema": schema_id("export"),
            "spec": self.spec,
            "target": self.target,
            "via": self.via,
            "exporter": self.exporter,
            "ok": self.ok,
            "legal": self.after.legal,
            "output": str(self.output) if self.output else None,
            "swapped": self.swapped,
            "rewrites": [r.to_dict() for r in self.legalization.rewrites],
            "unresolved": [u.to_dict() for u in self.legalization.unresolved],
            "verification": self.verification.to_dict(),
            "torch": self.torch_check.to_dict() if self.torch_check else None,
            "after": self.after.to_dict(),
            "opset": self.lowering.to_dict() if self.lowering else None,
        }


def export_for_target(
    spec: str,
    target: Target,
    output: Path,
    *,
    via: str = "swap",
    dynamo: bool = False,
    weights: Path | None = None,
    input_shape: Sequence[int] | None = None,
    opset: int | None = None,
    samples: int = DEFAULT_SAMPLES,
    allow_approx: bool = False,
    lower_opset: int | str | None = None,
) -> ExportReport:
    """Build ``spec``, make it legal for ``target`` (``via`` "swap" or "onnx"), verify, and write ``output``.

    ``allow_approx`` lets the ONNX graph's legalization use approximate rules (the PyTorch swap stays
    exact); ``lower_opset`` lowers the result as ``fix`` does (a number, or "auto").
    """
    import torch

    from opswap.frontends import torch as frontend
    from opswap.frontends.swap import swap_layers

    shape = tuple(input_shape or frontend.DEFAULT_INPUT_SHAPE)
    version = opset or frontend.DEFAULT_OPSET
    module = frontend.build(spec, weights, shape)
    with tempfile.TemporaryDirectory(prefix="opswap-export-") as tmp:
        frontend.export(module, Path(tmp) / "original.onnx", shape, version, dynamo)
        original = frontend.load_exported(Path(tmp) / "original.onnx")
        swapped, torch_report = None, None
        if via == "swap":
            changed, swap_report = swap_layers(copying.deepcopy(module), target, version, dynamo)
            generator = torch.Generator().manual_seed(1)
            pairs = []
            with torch.no_grad():
                for _ in range(samples):
                    example = torch.randn(*shape, generator=generator)
                    pairs.append(([module(example).numpy()], [changed(example).numpy()]))
            torch_report = measure(["output"], pairs)
            frontend.export(changed, Path(tmp) / "swapped.onnx", shape, version, dynamo)
            swapped = swap_report.to_dict()  # after the export: with the routes it ran
            candidate = frontend.load_exported(Path(tmp) / "swapped.onnx")
        else:
            candidate = copy(original)
    # Whatever the swap left illegal (or everything, via onnx) is legalized in the ONNX graph, by
    # fix's own passes, and verified against the unchanged network's export.
    options = FixOptions(draw=Draw(samples), allow_approx=allow_approx, lower_opset=lower_opset, convert=False)
    fixed = fix_with(candidate, target, None, options, reference=original)
    assert fixed.verification is not None  # a reference is always verified against
    candidate.label = spec
    report = ExportReport(
        spec,
        target.name,
        via,
        "dynamo" if dynamo else f"torchscript opset {version}",
        swapped,
        fixed.legalization,
        fixed.after,
        fixed.verification,
        torch_report,
        lowering=fixed.lowering,
    )
    if report.ok:
        report.output = save(Model(candidate.proto, None, candidate.base_dir, spec), output)
    return report
