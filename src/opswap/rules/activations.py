"""Piecewise-linear activations: HardSigmoid and HardSwish.

ONNX defines both as functions (``onnx.defs.get_schema("HardSwish").function_body``):
HardSwish(x) = x * HardSigmoid<alpha=1/6, beta=0.5>(x) and
HardSigmoid(x) = max(0, min(1, alpha * x + beta)). The rules below are those definitions, with the
affine part written as Mul then Add exactly as ONNX Runtime's kernels evaluate it, so the results
agree to the last bit on float32 (tests run them against ONNX's own node tests).
"""

from __future__ import annotations

from opswap.rules.base import Builder, Value, rule


@rule("HardSigmoid")
def hardsigmoid_via_clip(op: Builder, x: Value, *, alpha: float = 0.2, beta: float = 0.5) -> Value:
    """HardSigmoid as Clip(Add(Mul(x, alpha), beta), 0, 1)."""
    return op.clip(op.Add(op.Mul(x, alpha), beta), 0.0, 1.0)


@rule("HardSigmoid")
def hardsigmoid_via_min_max(op: Builder, x: Value, *, alpha: float = 0.2, beta: float = 0.5) -> Value:
    """HardSigmoid as Max(Min(Add(Mul(x, alpha), beta), 1), 0), for targets without Clip."""
    return op.Max(op.Min(op.Add(op.Mul(x, alpha), beta), 1.0), 0.0)  # type: ignore[no-any-return]


@rule("HardSwish")
def hardswish_via_hardsigmoid(op: Builder, x: Value) -> Value:
    """HardSwish as ONNX defines it: x * HardSigmoid(x; alpha=1/6, beta=0.5)."""
    return op.Mul(x, op.HardSigmoid(x, alpha=1 / 6, beta=0.5))  # type: ignore[no-any-return]
