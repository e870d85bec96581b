"""Activations: routes ONNX's own function bodies (rules/onnx_functions.py) do not give.

ONNX defines HardSigmoid as max(0, min(1, alpha*x + beta)) with Min and Max, and HardSwish as
x * HardSigmoid<alpha=1/6, beta=0.5>(x); those bodies are rules already. Targets that have Clip
(a fused ReLU6-style op on most NPUs) but not Min/Max need the Clip form below. The affine part is
Mul then Add, as ONNX Runtime's kernels evaluate it, so results agree to the last bit on float32.
"""

from __future__ import annotations

from opswap.rules.base import Builder, Value, rule


@rule("HardSigmoid")
def hardsigmoid_via_clip(op: Builder, x: Value, *, alpha: float = 0.2, beta: float = 0.5) -> Value:
    """HardSigmoid as Clip(Add(Mul(x, alpha), beta), 0, 1)."""
    return op.clip(op.Add(op.Mul(x, alpha), beta), 0.0, 1.0)


@rule("Softplus", exact=False, bound="log(1 + tiny) near large negative x: |error| ~1e-6; no overflow")
def softplus_via_stable_log(op: Builder, x: Value) -> Value:
    """log(1 + exp(x)) as Relu(x) + log(1 + exp(-|x|)): no overflow for large x, unlike ONNX's body."""
    tail = op.Log(op.Add(op.Exp(op.Mul(op.Abs(x), -1.0)), 1.0))
    return op.Add(op.Relu(x), tail)  # type: ignore[no-any-return]
