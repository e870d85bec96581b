"""Activations: routes ONNX's own function bodies (rules/onnx_functions.py) do not give.

ONNX defines HardSigmoid as max(0, min(1, alpha*x + beta)) with Min and Max, and HardSwish as
x * HardSigmoid<alpha=1/6, beta=0.5>(x); those bodies are rules already. Targets that have Clip
(a fused ReLU6-style op on most NPUs) but not Min/Max need the Clip form below. The affine part is
Mul then Add, as ONNX Runtime's kernels evaluate it, so results agree to the last bit on float32.

The pointwise-convolution form computes the same affine part as a 1x1 convolution with one group per
channel. It is one node fewer, and it is what keeps a converted MobileNetV3 fast where the original
ran: ONNX Runtime fuses Conv + Clip into one kernel in its channel-blocked layout, where a chain of
scalar Mul, Add and Clip forces a layout change around every activation (see bench/bench_latency.py).
"""

from __future__ import annotations

import numpy as np
import onnx

from opswap.rules.base import Builder, rule
from opswap.rules.values import RuleNotApplicable, Value

#: Element types the pointwise-convolution form is for: the ones NPUs run. ONNX's Conv also takes
#: double, but ONNX Runtime has no double Conv kernel, so a float64 model takes the Clip form
#: (the same function, and verifiable on ORT).
_CONV_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)


@rule("HardSigmoid", emits=("Add", "Clip", "Mul"))
def hardsigmoid_via_clip(op: Builder, x: Value, *, alpha: float = 0.2, beta: float = 0.5) -> Value:
    """HardSigmoid as Clip(Add(Mul(x, alpha), beta), 0, 1)."""
    return op.clip(op.Add(op.Mul(x, alpha), beta), 0.0, 1.0)


@rule("HardSigmoid", shapes=True, emits=("Clip", "Conv"))
def hardsigmoid_via_pointwise_conv(op: Builder, x: Value, *, alpha: float = 0.2, beta: float = 0.5) -> Value:
    """HardSigmoid as Clip(Conv(x, alpha, bias beta, a group per channel), 0, 1), for [N, C, ...] inputs."""
    if x.dtype not in _CONV_TYPES:
        raise RuleNotApplicable("the Conv form is for float32 and float16 (no double Conv kernel in ONNX Runtime)")
    if x.rank < 3:
        raise RuleNotApplicable("Conv needs a batch, a channel and a spatial dimension")
    channels = x.shape[1] if x.shape else None
    if channels is None:
        raise RuleNotApplicable(f"the channel count of {x.name!r} is not static")
    weight = op.constant(np.full((channels, 1) + (1,) * (x.rank - 2), alpha), x.dtype)
    bias = op.constant(np.full((channels,), beta), x.dtype)
    return op.clip(op.Conv(x, weight, bias, group=channels), 0.0, 1.0)


@rule(
    "Softplus",
    exact=False,
    bound="log(1 + tiny) near large negative x: |error| ~1e-6; no overflow",
    emits=("Abs", "Add", "Exp", "Log", "Mul", "Relu"),
)
def softplus_via_stable_log(op: Builder, x: Value) -> Value:
    """log(1 + exp(x)) as Relu(x) + log(1 + exp(-|x|)): no overflow for large x, unlike ONNX's body."""
    tail = op.Log(op.Add(op.Exp(op.Mul(op.Abs(x), -1.0)), 1.0))
    return op.Add(op.Relu(x), tail)
