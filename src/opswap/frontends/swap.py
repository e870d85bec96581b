"""In-memory layer replacement on the PyTorch side: the ONNX rules, as modules.

``swap_layers(model, target)`` replaces, in the model object only (nothing installed is touched),
each module whose ONNX form the target lacks with a module computing the same thing from operations
whose ONNX forms it has. Whether a module type needs replacing is decided the way the ONNX path
decides it: that module alone is exported and checked against the target. A replacement is
the layer's ONNX form run through the ONNX rules on torch tensors (``torch_ops``): the route
``legalize`` takes for HardSwish on the target is the route the replacement computes, and the
export holds the ops that route emits.

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
from opswap.frontends.torch_ops import Legalizer, NoLegalRoute
from opswap.rules.ops import Ops
from opswap.rules.values import Value
from opswap.targets import Level, Target

# --- each layer's ONNX form; its replacement runs the ONNX rules on it ---------------------------


@dataclass(frozen=True)
class Form:
    """What a layer computes, written in ONNX ops with the rules' builder.

    Where ONNX has an op of the same meaning the form is that op (HardSwish, LayerNormalization);
    otherwise it is the layer's definition (GELU's erf formula), as torch's exporter writes it. A
    replacement runs the form through ``torch_ops.Legalizer``: each of its nodes the target lacks is
    computed by the route ``legalize`` would take for it, so the PyTorch path and the ONNX path
    share one rule library.
    """

    #: The layer's name in the report ("Hardswish").
    layer: str
    #: The first opset the form exists at (the form is planned at the export opset or this, the later).
    since: int
    fn: Callable[..., Value]
    #: The layer's parameters the form reads, after the input (LayerNorm's weight and bias).
    weights: tuple[str, ...] = ()


def _gelu(approximate: str) -> Callable[..., Value]:
    def exact(op: Ops, x: Value) -> Value:
        """0.5 x (1 + erf(x / sqrt 2)), torch's definition and the form its exporter writes."""
        return op.Mul(op.Mul(x, 0.5), op.Add(op.Erf(op.Mul(x, 1.0 / math.sqrt(2.0))), 1.0))

    def tanh_form(op: Ops, x: Value) -> Value:
        """GELU with approximate="tanh": 0.5 x (1 + th(sqrt(2 / pi) (x + 0.044715 x^3)))."""
        cubic = op.Add(x, op.Mul(op.Mul(op.Mul(x, x), x), 0.044715))
        return op.Mul(op.Mul(x, 0.5), op.Add(op.Tanh(op.Mul(cubic, math.sqrt(2.0 / math.pi))), 1.0))

    return tanh_form if approximate == "tanh" else exact


def _softplus(beta: float) -> Callable[..., Value]:
    def form(op: Ops, x: Value) -> Value:
        """log(1 + exp(beta x)) / beta (torch's threshold, >= 20, changes nothing in float32)."""
        return op.Softplus(x) if beta == 1.0 else op.Div(op.Softplus(op.Mul(x, beta)), beta)

    return form


def _form(module: nn.Module) -> Form | None:
    """The ONNX form of a layer, or None when opswap has none.

    Exact types only: a subclass may compute something else (torchvision's LayerNorm2d permutes).
    """
    kind = type(module)
    settings: Any = module  # the attributes below exist for the exact type matched
    if kind is nn.Hardsigmoid:
        return Form("Hardsigmoid", 6, lambda op, x: op.HardSigmoid(x, alpha=1.0 / 6.0, beta=0.5))
    if kind is nn.Hardswish:
        return Form("Hardswish", 14, lambda op, x: op.HardSwish(x))
    if kind is nn.SiLU:
        return Form("SiLU", 6, lambda op, x: op.Mul(x, op.Sigmoid(x)))
    if kind is nn.Mish:
        return Form("Mish", 18, lambda op, x: op.Mish(x))
    if kind is nn.GELU:
        return Form("GELU", 9, _gelu(settings.approximate))
    if kind is nn.SELU:
        return Form("SELU", 6, lambda op, x: op.Selu(x))  # ONNX's defaults are torch's constants in float32
    if kind is nn.ELU:
        return Form("ELU", 6, lambda op, x: op.Elu(x, alpha=settings.alpha))
    if kind is nn.CELU:
        return Form("CELU", 12, lambda op, x: op.Celu(x, alpha=settings.alpha))
    if kind is nn.LeakyReLU:
        return Form("LeakyReLU", 6, lambda op, x: op.LeakyRelu(x, alpha=settings.negative_slope))
    if kind is nn.Softplus and settings.threshold >= 20:
        return Form("Softplus", 1, _softplus(float(settings.beta)))
    if kind is nn.LayerNorm and settings.weight is not None:
        axis, eps = -len(settings.normalized_shape), settings.eps
        return Form(
            "LayerNorm",
            17,
            lambda op, x, w, b=None: op.LayerNormalization(x, w, b, axis=axis, epsilon=eps)[0],
            ("weight", "bias") if settings.bias is not None else ("weight",),
        )
    if kind is nn.GroupNorm and settings.weight is not None and settings.bias is not None:
        groups, eps = settings.num_groups, settings.eps
        return Form(
            "GroupNorm",
            21,
            lambda op, x, w, b: op.GroupNormalization(x, w, b, num_groups=groups, epsilon=eps),
            ("weight", "bias"),
        )
    return None


class RuleLayer(nn.Module):
    """A layer replaced by its ONNX form, computed by opswap's rules for one target (see ``Form``)."""

    def __init__(self, form: Form, legalizer: Legalizer, original: nn.Module | None = None) -> None:
        super().__init__()
        self.form = form
        self.legalizer = legalizer
        for name in form.weights:  # the original's parameters, shared (state_dict keys stay the same)
            setattr(self, name, getattr(original, name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The form, on ``x`` and the layer's parameters, legalized for the target."""
        weights = [getattr(self, name) for name in self.form.weights]
        opset = max(self.legalizer.opset, self.form.since)
        return self.legalizer.run(self.form.fn, [x, *weights], opset, weights=len(weights))

    def extra_repr(self) -> str:
        """What ``print(model)`` shows for the layer."""
        return f"opswap replacement for {self.form.layer}, legal for {self.legalizer.target.name}"


#: Functional calls replaced through torch.fx, by the form of the layer they compute.
FUNCTIONAL: dict[Callable[..., Any], Callable[[dict[str, Any]], Form]] = {
    F.hardsigmoid: lambda kw: _functional_form(nn.Hardsigmoid()),
    F.hardswish: lambda kw: _functional_form(nn.Hardswish()),
    F.silu: lambda kw: _functional_form(nn.SiLU()),
    F.mish: lambda kw: _functional_form(nn.Mish()),
    F.gelu: lambda kw: _functional_form(nn.GELU(approximate=kw.get("approximate", "none"))),
}


def _functional_form(module: nn.Module) -> Form:
    form = _form(module)
    assert form is not None  # every FUNCTIONAL entry names a layer with a form
    return form


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
    #: module path -> "Hardswish -> opswap replacement".
    replaced: dict[str, str] = field(default_factory=dict)
    #: Functional calls replaced through torch.fx: "F.hardswish" -> count.
    functional: dict[str, int] = field(default_factory=dict)
    #: Why something was not replaced (not traceable, no replacement, replacement illegal too).
    notes: list[str] = field(default_factory=list)
    #: The replacements' rule runner: the routes it took, so far (checking and exporting run it).
    legalizer: Legalizer | None = field(default=None, repr=False)

    @property
    def routes(self) -> list[str]:
        """The routes the replacements computed ("HardSwish: hardswish_via_onnx_function > ..."), sorted."""
        return sorted(self.legalizer.routes) if self.legalizer is not None else []

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "target": self.target,
            "replaced": self.replaced,
            "functional": self.functional,
            "routes": self.routes,
            "notes": self.notes,
        }


def swap_layers(
    model: nn.Module, target: Target, opset: int = 14, dynamo: bool = False
) -> tuple[nn.Module, SwapReport]:
    """Replace, in memory, the layers whose ONNX form ``target`` lacks. Returns the model and a report.

    Whether a layer type's ONNX form is legal depends on the exporter: it is exported the way the
    model will be (TorchScript at ``opset``, or dynamo), alone, and checked; so is its replacement.
    Module replacements change the model object in place; functional calls need torch.fx, so the
    returned model may be a new GraphModule. Nothing installed is modified.
    """
    legalizer = Legalizer(target, opset if not dynamo else max(opset, 18))
    report = SwapReport(target.name, legalizer=legalizer)
    if isinstance(model, torch.jit.ScriptModule) or not isinstance(model, nn.Module):
        report.notes.append("a saved program cannot be changed here; the ONNX-level fix after export covers it")
        return model, report
    decided: dict[tuple[Any, ...], bool] = {}
    for path, module in list(model.named_modules()):
        form = _form(module) if path else None
        if form is None:
            continue
        replacement = RuleLayer(form, legalizer, module)
        key = (type(module).__name__, repr(module))
        if key not in decided:
            decided[key] = _decide(module, replacement, _example(module), target, opset, dynamo, report)
        if decided[key]:
            _set_submodule(model, path, replacement)
            report.replaced[path] = f"{form.layer} -> opswap replacement"
    return _swap_functional(model, legalizer, opset, dynamo, report), report


def _decide(
    original: nn.Module,
    replacement: nn.Module,
    example: torch.Tensor,
    target: Target,
    opset: int,
    dynamo: bool,
    report: SwapReport,
) -> bool:
    """Whether to swap: the original exports illegal and the replacement legal (why not, in the notes)."""
    name = getattr(original, "label", type(original).__name__)
    try:
        legal, _ = _legal_when_exported(original, example, target, opset, dynamo)
        if legal:
            return False
        fixed, why = _legal_when_exported(replacement, example, target, opset, dynamo)
    except NoLegalRoute as exc:
        report.notes.append(f"{name}: no legal route ({exc}); left to the ONNX-level fix after export")
        return False
    except _Undecided as exc:
        report.notes.append(f"{exc}; left to the ONNX-level fix after export")
        return False
    if not fixed:
        report.notes.append(f"{name}: its replacement is illegal too ({why})")
    return fixed


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, module)


class _Call(nn.Module):
    """A functional call as a module, to export it alone."""

    def __init__(self, fn: Callable[..., torch.Tensor], label: str, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.label, self.kwargs = fn, label, kwargs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, **self.kwargs)


def _swap_functional(model: nn.Module, legalizer: Legalizer, opset: int, dynamo: bool, report: SwapReport) -> nn.Module:
    import torch.fx

    class Tracer(torch.fx.Tracer):
        """torch.fx's tracer, keeping replacements made above whole (they read shapes as numbers)."""

        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return isinstance(m, RuleLayer) or super().is_leaf_module(m, qualname)

    try:
        traced = torch.fx.GraphModule(model, Tracer().trace(model))
    except Exception as exc:  # torch.fx raises many types on untraceable control flow
        report.notes.append(
            f"functional calls not checked: the model does not trace with torch.fx ({type(exc).__name__}); "
            "the ONNX-level fix after export covers them"
        )
        return model
    decided: dict[tuple[Any, ...], bool] = {}
    for node in list(traced.graph.nodes):
        if node.op != "call_function" or node.target not in FUNCTIONAL:
            continue
        name = f"F.{node.target.__name__}"
        kwargs = {k: v for k, v in node.kwargs.items() if k != "inplace"}
        if node.target is F.gelu and len(node.args) > 1:
            kwargs["approximate"] = node.args[1]
        form = FUNCTIONAL[node.target](kwargs)
        replacement = RuleLayer(form, legalizer)
        key = (name, tuple(sorted(kwargs.items())))
        if key not in decided:
            original = _Call(node.target, name, **kwargs)
            example = torch.randn(1, 8, 4, 4)
            decided[key] = _decide(original, replacement, example, legalizer.target, opset, dynamo, report)
        if not decided[key]:
            continue
        count = report.functional.get(name, 0)
        submodule = f"opswap_{node.target.__name__}_{count}"
        traced.add_submodule(submodule, replacement)
        node.op, node.target, node.args, node.kwargs = "call_module", submodule, (node.args[0],), {}
        report.functional[name] = count + 1
    if not report.functional:
        return model
    traced.recompile()
    return traced
