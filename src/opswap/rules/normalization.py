"""Normalizations and softmax-like ops, written with reductions over known axes.

Each needs the input's rank (``shapes=True``) to turn ``axis`` into the list of reduced axes.
"""

from __future__ import annotations

import numpy as np
import onnx

from opswap.rules.base import Builder, rule
from opswap.rules.values import RuleNotApplicable, Value

FLOAT = onnx.TensorProto.FLOAT


def _axes_from(axis: int, rank: int) -> list[int]:
    start = axis + rank if axis < 0 else axis
    if not 0 <= start < rank:
        raise RuleNotApplicable(f"axis {axis} out of range for rank {rank}")
    return list(range(start, rank))


def _per_channel(op: Builder, v: Value, rank: int) -> Value:
    """A [C] parameter shaped [C, 1, ..., 1] to broadcast over an NC... input."""
    return op.unsqueeze(v, list(range(1, rank - 1))) if rank > 2 else v


def _scale_shift(op: Builder, y: Value, scale: Value, bias: Value, rank: int) -> Value:
    """Y * scale[c] + bias[c] over an NC... tensor."""
    return op.Add(op.Mul(y, _per_channel(op, scale, rank)), _per_channel(op, bias, rank))


def _standardized(op: Builder, x: Value, axes: list[int], epsilon: float) -> Value:
    """(x - mean) / sqrt(var + eps) over ``axes``, two-pass."""
    _, deviation, variance = _moments(op, x, axes)
    return op.Div(deviation, op.Sqrt(op.Add(variance, epsilon)))


def _moments(op: Builder, x: Value, axes: list[int]) -> tuple[Value, Value, Value]:
    """Mean, deviation and (biased) variance over ``axes``, two-pass."""
    mean = op.reduce("ReduceMean", x, axes)
    deviation = op.Sub(x, mean)
    variance = op.reduce("ReduceMean", op.Mul(deviation, deviation), axes)
    return mean, deviation, variance


@rule("LayerNormalization", shapes=True, emits=("Add", "Cast", "Mul", "Reciprocal", "ReduceMean", "Sqrt", "Sub"))
def layernormalization_via_moments(
    op: Builder,
    x: Value,
    scale: Value,
    bias: Value | None = None,
    *,
    axis: int = -1,
    epsilon: float = 1e-5,
    stash_type: int = 1,
    _n_outputs: int = 1,
) -> tuple[Value, ...]:
    """(x - mean) / sqrt(var + eps) * scale + bias over axes [axis, rank); also Mean and InvStdDev."""
    axes = _axes_from(axis, x.rank)
    work = op.Cast(x, to=FLOAT) if stash_type == 1 and x.dtype != FLOAT else x
    mean, deviation, variance = _moments(op, work, axes)
    inv_std = op.Reciprocal(op.Sqrt(op.Add(variance, epsilon)))
    normalized = op.Mul(deviation, inv_std)
    if normalized.dtype != x.dtype:
        normalized = op.Cast(normalized, to=x.dtype)
    y = op.Mul(normalized, scale)
    if bias is not None:
        y = op.Add(y, bias)
    return (y, mean, inv_std)[: max(1, _n_outputs)]


@rule("InstanceNormalization", shapes=True, emits=("Add", "Div", "Mul", "ReduceMean", "Sqrt", "Sub", "Unsqueeze"))
def instancenormalization_via_moments(
    op: Builder, x: Value, scale: Value, bias: Value, *, epsilon: float = 1e-5
) -> Value:
    """(x - mean) / sqrt(var + eps) * scale[c] + bias[c], moments over the spatial axes."""
    rank = x.rank
    if rank < 3:
        raise RuleNotApplicable("InstanceNormalization needs N, C and at least one spatial axis")
    return _scale_shift(op, _standardized(op, x, list(range(2, rank)), epsilon), scale, bias, rank)


@rule("BatchNormalization", shapes=True, opsets=(9, 14, 15), emits=("Add", "Div", "Mul", "Sqrt", "Sub", "Unsqueeze"))
def batchnormalization_via_arithmetic(
    op: Builder,
    x: Value,
    scale: Value,
    bias: Value,
    mean: Value,
    var: Value,
    *,
    epsilon: float = 1e-5,
    momentum: float = 0.9,
    training_mode: int = 0,
    _n_outputs: int = 1,
) -> Value:
    """Inference BatchNormalization: (x - mean) / sqrt(var + eps) * scale + bias, per channel."""
    del momentum  # used in training only
    if training_mode or _n_outputs > 1:
        raise RuleNotApplicable("training mode (running statistics outputs)")
    rank = x.rank
    std = op.Sqrt(op.Add(_per_channel(op, var, rank), epsilon))
    return _scale_shift(op, op.Div(op.Sub(x, _per_channel(op, mean, rank)), std), scale, bias, rank)


@rule("LpNormalization", shapes=True, emits=("Abs", "Div", "Equal", "Mul", "ReduceSum", "Sqrt", "Where"))
def lpnormalization_via_reduce(op: Builder, x: Value, *, axis: int = -1, p: int = 2) -> Value:
    """X / ||x||_p along ``axis`` (p = 1 or 2); a zero norm gives 0, as ONNX's reference does."""
    axes = _axes_from(axis, x.rank)[:1]
    if p == 2:
        norm = op.Sqrt(op.reduce("ReduceSum", op.Mul(x, x), axes))
    elif p == 1:
        norm = op.reduce("ReduceSum", op.Abs(x), axes)
    else:
        raise RuleNotApplicable(f"p={p}")
    return op.Where(op.Equal(norm, 0.0), op.constant(0.0, x.dtype), op.Div(x, norm))


@rule("Softmax", shapes=True, opsets=(1, 11), emits=("Div", "Exp", "ReduceMax", "ReduceSum", "Sub"))
def softmax_coerced_via_exp(op: Builder, x: Value, *, axis: int = 1) -> Value:
    """Softmax before opset 13 (over all axes from ``axis`` on, as one): exp(x - max) / sum."""
    axes = _axes_from(axis, x.rank)
    shifted = op.Exp(op.Sub(x, op.reduce("ReduceMax", x, axes)))
    return op.Div(shifted, op.reduce("ReduceSum", shifted, axes))


@rule("LogSoftmax", shapes=True, opsets=(1, 11), emits=("Exp", "Log", "ReduceMax", "ReduceSum", "Sub"))
def logsoftmax_coerced_via_exp(op: Builder, x: Value, *, axis: int = 1) -> Value:
    """LogSoftmax before opset 13: (x - max) - log(sum(exp(x - max))) over axes from ``axis`` on."""
    axes = _axes_from(axis, x.rank)
    shifted = op.Sub(x, op.reduce("ReduceMax", x, axes))
    return op.Sub(shifted, op.Log(op.reduce("ReduceSum", op.Exp(shifted), axes)))


@rule("Hardmax", shapes=True, opsets=(13,), emits=("ArgMax", "Cast", "Equal"))
def hardmax_via_argmax(op: Builder, x: Value, *, axis: int = -1) -> Value:
    """One-hot of the first maximum along ``axis``: Equal(positions, ArgMax(x))."""
    rank = x.rank
    (position,) = _axes_from(axis, rank)[:1]
    size = x.shape[position] if x.shape is not None else None
    if size is None:
        raise RuleNotApplicable("the size of the softmax axis must be static")
    positions = np.arange(size, dtype=np.int64).reshape([size if k == position else 1 for k in range(rank)])
    first = op.ArgMax(x, axis=position, keepdims=1)
    hit = op.Equal(op.constant(positions, onnx.TensorProto.INT64), first)
    return op.Cast(hit, to=x.dtype)


@rule(
    "GroupNormalization",
    shapes=True,
    opsets=(21,),
    emits=("Add", "Cast", "Div", "Mul", "ReduceMean", "Reshape", "Shape", "Sqrt", "Sub", "Unsqueeze"),
)
def groupnormalization_via_moments(
    op: Builder,
    x: Value,
    scale: Value,
    bias: Value,
    *,
    num_groups: int,
    epsilon: float = 1e-5,
    stash_type: int = 1,
) -> Value:
    """Two-pass moments over each group: x as [N, G, -1], normalized, reshaped back, scale and bias per channel."""
    rank = x.rank
    if rank < 3:
        raise RuleNotApplicable("GroupNormalization needs N, C and at least one spatial axis")
    int64 = onnx.TensorProto.INT64
    work = op.Cast(x, to=FLOAT) if stash_type == 1 and x.dtype != FLOAT else x
    grouped = op.Reshape(work, op.constant(np.asarray([0, num_groups, -1], dtype=np.int64), int64))
    normalized = _standardized(op, grouped, [2], epsilon)
    shape = x.shape or ()
    target = (
        op.constant(np.asarray([0 if d is None else d for d in shape], dtype=np.int64), int64)
        if all(d is not None for d in shape[1:])
        else op.Shape(x)
    )
    restored = op.Reshape(normalized, target)
    if restored.dtype != x.dtype:
        restored = op.Cast(restored, to=x.dtype)
    return _scale_shift(op, restored, scale, bias, rank)
