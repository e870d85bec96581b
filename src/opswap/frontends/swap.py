"""In-memory layer replacement on the PyTorch side: the ONNX rules, as modules.

``swap_layers(model, target)`` replaces, in the model object only (nothing installed is touched),
each module whose ONNX form the target lacks with a module computing the same thing from operations
whose ONNX forms it has. Whether a module type needs replacing is decided the way the ONNX path
decides it: that module alone is exported and checked against the target. The replacements are
written like the ONNX rules (HardSigmoid as clamp(x * 1/6 + 1/2, 0, 1), exporting to Mul, Add,
Clip), so both paths give the same graph.

Functional calls (F.hardswish, F.gelu, ...) are replaced through torch.fx where the model traces;
where it does not, the report says so and the ONNX-level fix after export covers them.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from opswap.frontends.torch import quiet
from opswap.targets import Level, Target

# --- exact replacements, written like the ONNX rules ---------------------------------------------


def hardsigmoid(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """max(0, min(1, x/6 + 1/2)), exported as Mul, Add, Clip (opswap's hardsigmoid_via_clip)."""
    del inplace  # the functional form's flag; a new tensor is always returned
    return torch.clamp(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


def hardswish(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """HardSwish as ONNX defines it: x * HardSigmoid(x)."""
    del inplace  # the functional form's flag; a new tensor is always returned
    return x * hardsigmoid(x)


def silu(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """SiLU: x * sigmoid(x)."""
    del inplace  # the functional form's flag; a new tensor is always returned
    return x * torch.sigmoid(x)


def mish(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Mish as ONNX's body: x * tanh(softplus(x))."""
    del inplace  # the functional form's flag; a new tensor is always returned
    return x * torch.tanh(F.softplus(x))


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh form."""
    if approximate == "tanh":
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))


class _Elementwise(nn.Module):
    """A replacement for a parameterless elementwise activation."""

    def __init__(self, fn: Callable[..., torch.Tensor], original: str, **kwargs: Any) -> None:
        super().__init__()
        self.fn = fn
        self.original = original
        self.kwargs = kwargs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, **self.kwargs)

    def extra_repr(self) -> str:
        return f"opswap replacement for {self.original}"


class _Elu(nn.Module):
    def __init__(self, alpha: float, scale: float = 1.0, original: str = "ELU") -> None:
        super().__init__()
        self.alpha, self.scale, self.original = alpha, scale, original

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * torch.where(x > 0, x, self.alpha * (torch.exp(x) - 1.0))


class _LeakyRelu(nn.Module):
    def __init__(self, slope: float) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0, x, x * self.slope)


class _Softplus(nn.Module):
    def __init__(self, beta: float, threshold: float) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaled = x * self.beta
        return torch.where(scaled > self.threshold, x, torch.log(torch.exp(scaled) + 1.0) / self.beta)


class _LayerNorm(nn.Module):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing dims, two-pass."""

    def __init__(self, original: nn.LayerNorm) -> None:
        super().__init__()
        self.dims = tuple(range(-len(original.normalized_shape), 0))
        self.eps = original.eps
        self.weight, self.bias = original.weight, original.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deviation = x - x.mean(self.dims, keepdim=True)
        y = deviation / torch.sqrt((deviation * deviation).mean(self.dims, keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


class _GroupNorm(nn.Module):
    """Moments over each group of channels, then per-channel affine."""

    def __init__(self, original: nn.GroupNorm) -> None:
        super().__init__()
        self.groups, self.eps = original.num_groups, original.eps
        self.weight, self.bias = original.weight, original.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grouped = x.reshape(x.shape[0], self.groups, -1)
        deviation = grouped - grouped.mean(-1, keepdim=True)
        y = (deviation / torch.sqrt((deviation * deviation).mean(-1, keepdim=True) + self.eps)).reshape(x.shape)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y


def _replacement(module: nn.Module) -> nn.Module | None:
    """The exact replacement for a module, or None when opswap has none.

    Exact types only: a subclass may compute something else (torchvision's LayerNorm2d permutes).
    """
    kind = type(module)
    settings: Any = module  # the attributes below exist for the exact type matched
    if kind is nn.Hardsigmoid:
        return _Elementwise(hardsigmoid, "Hardsigmoid")
    if kind is nn.Hardswish:
        return _Elementwise(hardswish, "Hardswish")
    if kind is nn.SiLU:
        return _Elementwise(silu, "SiLU")
    if kind is nn.Mish:
        return _Elementwise(mish, "Mish")
    if kind is nn.GELU:
        return _Elementwise(gelu, "GELU", approximate=settings.approximate)
    if kind is nn.SELU:
        return _Elu(1.6732632423543772, 1.0507009873554805, "SELU")
    if kind is nn.ELU:
        return _Elu(settings.alpha)
    if kind is nn.CELU:
        return None  # ONNX's Celu body is exact; the ONNX-level fix covers it
    if kind is nn.LeakyReLU:
        return _LeakyRelu(settings.negative_slope)
    if kind is nn.Softplus:
        return _Softplus(settings.beta, settings.threshold)
    if kind is nn.LayerNorm:
        return _LayerNorm(settings)
    if kind is nn.GroupNorm:
        return _GroupNorm(settings)
    return None


#: Functional calls replaced through torch.fx.
FUNCTIONAL: dict[Callable[..., Any], Callable[..., Any]] = {
    F.hardsigmoid: hardsigmoid,
    F.hardswish: hardswish,
    F.silu: silu,
    F.mish: mish,
    F.gelu: gelu,
}


# --- deciding by exporting ----------------------------------------------------------------------


def _example(module: nn.Module) -> torch.Tensor:
    if isinstance(module, nn.LayerNorm):
        return torch.randn(1, 4, *module.normalized_shape)
    if isinstance(module, nn.GroupNorm):
        return torch.randn(1, module.num_channels, 4, 4)
    return torch.randn(1, 8, 4, 4)


def _legal_when_exported(
    module: nn.Module, example: torch.Tensor, target: Target, opset: int, dynamo: bool
) -> tuple[bool, str]:
    """Export ``module`` alone, with the exporter the model will use, and check it against ``target``."""
    from opswap.check import check
    from opswap.model import load

    with tempfile.TemporaryDirectory(prefix="opswap-swap-") as tmp:
        path = Path(tmp) / "layer.onnx"
        try:
            with quiet():
                if dynamo:
                    torch.onnx.export(module.eval(), (example,), str(path), dynamo=True)
                else:
                    torch.onnx.export(module.eval(), (example,), str(path), opset_version=opset, dynamo=False)
        except Exception as exc:  # the exporter's own errors: this layer cannot be judged alone
            raise _Undecided(f"{type(module).__name__} does not export alone ({type(exc).__name__})") from None
        report = check(load(path), target)
    illegal = report.groups(Level.ERROR)
    return (not illegal), "; ".join(f"{g.op_type}: {g.reason}" for g in illegal)


class _Undecided(Exception):
    """A layer that cannot be exported alone, so its legality cannot be judged that way."""


@dataclass
class SwapReport:
    """What ``swap_layers`` replaced, where, and what it left to the ONNX-level fix."""

    target: str
    #: module path -> "Hardswish -> opswap replacement (ops the export now has)".
    replaced: dict[str, str] = field(default_factory=dict)
    #: Functional calls replaced through torch.fx: "F.hardswish" -> count.
    functional: dict[str, int] = field(default_factory=dict)
    #: Why something was not replaced (not traceable, no replacement, replacement illegal too).
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"target": self.target, "replaced": self.replaced, "functional": self.functional, "notes": self.notes}


def swap_layers(
    model: nn.Module, target: Target, opset: int = 14, dynamo: bool = False
) -> tuple[nn.Module, SwapReport]:
    """Replace, in memory, the layers whose ONNX form ``target`` lacks. Returns the model and a report.

    Whether a layer type's ONNX form is legal depends on the exporter: it is exported the way the
    model will be (TorchScript at ``opset``, or dynamo). Module replacements change the model object
    in place; functional calls need torch.fx, so the returned model may be a new GraphModule.
    Nothing installed is modified.
    """
    report = SwapReport(target.name)
    if isinstance(model, torch.jit.ScriptModule) or not isinstance(model, nn.Module):
        report.notes.append("a saved program cannot be changed here; the ONNX-level fix after export covers it")
        return model, report
    swap: dict[tuple[Any, ...], bool] = {}
    for path, module in list(model.named_modules()):
        replacement = _replacement(module)
        if replacement is None or not path:
            continue
        key = (type(module).__name__, getattr(module, "approximate", None))
        if key not in swap:
            swap[key] = False
            try:
                legal, _ = _legal_when_exported(module, _example(module), target, opset, dynamo)
                if not legal:
                    fixed, why = _legal_when_exported(replacement, _example(module), target, opset, dynamo)
                    swap[key] = fixed
                    if not fixed:
                        report.notes.append(f"{type(module).__name__}: its replacement is illegal too ({why})")
            except _Undecided as exc:
                report.notes.append(f"{exc}; left to the ONNX-level fix after export")
        if swap[key]:
            _set_submodule(model, path, replacement)
            report.replaced[path] = f"{type(module).__name__} -> opswap replacement"
    return _swap_functional(model, target, opset, dynamo, report), report


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, module)


def _swap_functional(model: nn.Module, target: Target, opset: int, dynamo: bool, report: SwapReport) -> nn.Module:
    import torch.fx

    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as exc:  # torch.fx raises many types on untraceable control flow
        report.notes.append(
            f"functional calls not checked: the model does not trace with torch.fx ({type(exc).__name__}); "
            "the ONNX-level fix after export covers them"
        )
        return model
    changed = False
    for node in traced.graph.nodes:
        if node.op != "call_function" or node.target not in FUNCTIONAL:
            continue
        name = f"F.{node.target.__name__}"
        legal, _ = _legal_when_exported(_Elementwise(node.target, name), torch.randn(1, 8, 4, 4), target, opset, dynamo)
        if legal:
            continue
        node.target = FUNCTIONAL[node.target]
        report.functional[name] = report.functional.get(name, 0) + 1
        changed = True
    if not changed:
        return model
    traced.recompile()
    return traced
