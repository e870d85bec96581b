"""Elementwise ops without an ONNX function body: n-ary to binary, sign and friends, hyperbolics."""

from __future__ import annotations

import functools

import numpy as np
import onnx

from opswap.rules.base import Builder, rule
from opswap.rules.values import RuleNotApplicable, Value

BOOL = onnx.TensorProto.BOOL


def _chain(op: Builder, binary: str, values: tuple[Value, ...]) -> Value:
    if not values:
        raise RuleNotApplicable("no inputs")
    if len(values) == 1:
        return op.Identity(values[0])
    return functools.reduce(lambda a, b: op.emit(binary, a, b), values)


@rule("Sum", emits=("Add", "Identity"))
def sum_via_add(op: Builder, *xs: Value) -> Value:
    """Sum(a, b, c, ...) as Add(Add(a, b), c) ..., left to right as ONNX Runtime accumulates."""
    return _chain(op, "Add", xs)


@rule("Max", emits=("Identity", "Max"))
def max_via_binary_max(op: Builder, *xs: Value) -> Value:
    """Max(a, b, c, ...) as a chain of two-input Max."""
    if len(xs) <= 2:
        raise RuleNotApplicable("already binary")
    return _chain(op, "Max", xs)


@rule("Min", emits=("Identity", "Min"))
def min_via_binary_min(op: Builder, *xs: Value) -> Value:
    """Min(a, b, c, ...) as a chain of two-input Min."""
    if len(xs) <= 2:
        raise RuleNotApplicable("already binary")
    return _chain(op, "Min", xs)


@rule("Max", emits=("Greater", "Identity", "IsNaN", "Or", "Where"))
def max_via_where(op: Builder, *xs: Value) -> Value:
    """Max(a, b) as Where(a > b or a is NaN, a, b): ONNX Runtime's own choice on ties and NaN.

    ONNX Runtime returns ``b`` when the two are equal (so Max(-0, +0) is +0 and Max(+0, -0) is -0)
    and NaN when either is NaN; the Where picks the same element, so the result is bit for bit.
    """
    return _pick(op, "Greater", xs)


@rule("Min", emits=("Identity", "IsNaN", "Less", "Or", "Where"))
def min_via_where(op: Builder, *xs: Value) -> Value:
    """Min(a, b) as Where(a < b or a is NaN, a, b): ties and NaN as ONNX Runtime has them."""
    return _pick(op, "Less", xs)


def _pick(op: Builder, compare: str, xs: tuple[Value, ...]) -> Value:
    if len(xs) == 1:
        return op.Identity(xs[0])
    if len(xs) != 2:
        raise RuleNotApplicable("two inputs (more are chained first)")
    a, b = xs
    if a.dtype != b.dtype:
        raise RuleNotApplicable("inputs of different element types")
    take_a = op.emit(compare, a, b)
    if _is_float(a):
        take_a = op.Or(take_a, op.IsNaN(a))
    return op.Where(take_a, a, b)


@rule("Mod", emits=("Add", "And", "Div", "Equal", "Less", "Mul", "Not", "Sub", "Where", "Xor"))
def mod_via_integer_div(op: Builder, a: Value, b: Value, *, fmod: int = 0) -> Value:
    """Integer Mod as a - b * (a / b), ONNX's integer Div truncating toward zero, exact.

    That remainder has the dividend's sign (fmod=1, C's %); for fmod=0 (the divisor's sign, Python's
    %) a nonzero remainder of the other sign moves by b. Float Mod has no exact route here:
    a - b * trunc(a / b) rounds twice.
    """
    if _is_float(a) or _is_float(b):
        raise RuleNotApplicable("float Mod: a - b * trunc(a / b) rounds; no exact route")
    if a.dtype != b.dtype:
        raise RuleNotApplicable("inputs of different element types")
    if a.dtype in _NARROW and op.opset < 14:
        raise RuleNotApplicable("Div, Mul and Sub of 8- and 16-bit integers need opset 14")
    remainder = op.Sub(a, op.Mul(op.Div(a, b), b))
    if fmod or a.dtype in _UNSIGNED:
        return remainder
    zero = op.constant(0, a.dtype)
    other_sign = op.Xor(op.Less(remainder, zero), op.Less(b, zero))
    move = op.And(op.Not(op.Equal(remainder, zero)), other_sign)
    return op.Where(move, op.Add(remainder, b), remainder)


_UNSIGNED = (onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64)
_NARROW = (onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.UINT8, onnx.TensorProto.UINT16)


@rule("Mean", emits=("Add", "Div", "Identity"))
def mean_via_add_div(op: Builder, *xs: Value) -> Value:
    """Mean(a, b, ...) as (a + b + ...) / n."""
    return op.Div(_chain(op, "Add", xs), float(len(xs)))


@rule("Sign", emits=("Cast", "Equal", "Greater", "Less", "Sub", "Where"))
def sign_via_compare(op: Builder, x: Value) -> Value:
    """Sign(x) as Cast(x > 0) - Cast(x < 0), NaN kept as NaN."""
    positive = op.Cast(op.Greater(x, 0), to=x.dtype)
    negative = op.Cast(op.Less(x, 0), to=x.dtype)
    sign = op.Sub(positive, negative)
    if not _is_float(x):
        return sign
    return op.Where(op.Equal(x, x), sign, x)


@rule("Reciprocal", emits=("Div",))
def reciprocal_via_div(op: Builder, x: Value) -> Value:
    """Reciprocal(x) as 1 / x."""
    return op.Div(op.constant(1, x.dtype), x)


@rule("Neg", emits=("Mul",))
def neg_via_mul(op: Builder, x: Value) -> Value:
    """Neg(x) as x * -1 (keeps the sign of zero)."""
    return op.Mul(x, -1)


@rule("Abs", emits=("Max", "Mul"))
def abs_via_max(op: Builder, x: Value) -> Value:
    """Abs(x) as Max(x, x * -1)."""
    if not _is_float(x):
        raise RuleNotApplicable("integer Abs overflows at the minimum value")
    return op.Max(x, op.Mul(x, -1))


@rule("Not", emits=("Equal",))
def not_via_equal(op: Builder, x: Value) -> Value:
    """Not(x) as Equal(x, false) (Equal takes booleans from opset 11 in ONNX Runtime)."""
    if op.opset < 11:
        raise RuleNotApplicable("Equal on booleans before opset 11")
    return op.Equal(x, op.constant(np.array(False), BOOL))


@rule("Not", emits=("Xor",))
def not_via_xor(op: Builder, x: Value) -> Value:
    """Not(x) as Xor(x, true)."""
    return op.Xor(x, op.constant(np.array(True), BOOL))


@rule("Xor", emits=("Equal", "Not"))
def xor_via_not_equal(op: Builder, a: Value, b: Value) -> Value:
    """Xor(a, b) as Not(Equal(a, b))."""
    return op.Not(op.Equal(a, b))


@rule("IsNaN", emits=("Equal", "Not"))
def isnan_via_equal(op: Builder, x: Value) -> Value:
    """IsNaN(x) as Not(Equal(x, x)): NaN is the only value unequal to itself."""
    return op.Not(op.Equal(x, x))


@rule("IsInf", emits=("Equal", "Identity", "Or"))
def isinf_via_equal(op: Builder, x: Value, *, detect_negative: int = 1, detect_positive: int = 1) -> Value:
    """IsInf(x) as Equal(x, +inf) Or Equal(x, -inf), each side only when detected."""
    checks = []
    if detect_positive:
        checks.append(op.Equal(x, op.constant(np.inf, x.dtype)))
    if detect_negative:
        checks.append(op.Equal(x, op.constant(-np.inf, x.dtype)))
    if not checks:
        return op.Equal(x, op.constant(np.nan, x.dtype))  # always false
    return _chain(op, "Or", tuple(checks))


@rule("Pow", emits=("Identity", "Mul"))
def pow_via_mul(op: Builder, x: Value, y: Value) -> Value:
    """Pow(x, 2) as x * x and Pow(x, 3) as x * x * x (a constant small integer exponent)."""
    exponent = y.value()
    if exponent.size != 1 or float(exponent.item()) not in (1.0, 2.0, 3.0):
        raise RuleNotApplicable("only constant exponents 1, 2 and 3")
    if x.dtype != y.dtype:
        raise RuleNotApplicable("mixed types")
    result = x
    for _ in range(int(exponent.item()) - 1):
        result = op.Mul(result, x)
    return result if result is not x else op.Identity(x)


@rule("Sub", emits=("Add", "Mul"))
def sub_via_add_neg(op: Builder, a: Value, b: Value) -> Value:
    """Sub(a, b) as a + b * -1."""
    return op.Add(a, op.Mul(b, -1))


@rule("Clip", emits=("Identity", "Max", "Min"))
def clip_via_max_min(
    op: Builder, x: Value, low: Value | None = None, high: Value | None = None, **bounds: float
) -> Value:
    """Clip(x, low, high) as Min(Max(x, low), high); a missing bound is no bound."""
    if op.source_version is not None and op.source_version < 11:
        lo = bounds.get("min", float(np.finfo(np.float32).min))
        hi = bounds.get("max", float(np.finfo(np.float32).max))
        return op.Min(op.Max(x, lo), hi)
    result = x
    if low is not None:
        result = op.Max(result, low)
    if high is not None:
        result = op.Min(result, high)
    return result if result is not x else op.Identity(x)


# --- transcendental functions from Exp, Log, Sqrt, Sin and Cos ---------------------------------------
# Textbook identities: their rounding differs from a library's dedicated kernels, some lose relative
# precision near 0 (cancellation) or overflow early. Declared approximate; each bound is completed by
# the rule's measured certificate (rules/certificates.json, `opswap rules`).


@rule(
    "Cosh",
    exact=False,
    bound="textbook identity; overflows to inf a little before cosh does (|x| > 88.7)",
    emits=("Add", "Exp", "Mul"),
)
def cosh_via_exp(op: Builder, x: Value) -> Value:
    """Cosh(x) as (exp(x) + exp(-x)) / 2."""
    return op.Mul(op.Add(op.Exp(x), op.Exp(op.Mul(x, -1))), 0.5)


@rule(
    "Sinh",
    exact=False,
    bound="textbook identity; cancellation near 0 (absolute error ~1e-7), early overflow",
    emits=("Exp", "Mul", "Sub"),
)
def sinh_via_exp(op: Builder, x: Value) -> Value:
    """Sinh(x) as (exp(x) - exp(-x)) / 2."""
    return op.Mul(op.Sub(op.Exp(x), op.Exp(op.Mul(x, -1))), 0.5)


@rule("Tan", exact=False, bound="sin / cos: a few ULP, more next to the poles", emits=("Cos", "Div", "Sin"))
def tan_via_sin_cos(op: Builder, x: Value) -> Value:
    """Tan(x) as sin(x) / cos(x)."""
    return op.Div(op.Sin(x), op.Cos(x))


@rule(
    "Asinh",
    exact=False,
    bound="cancellation near 0; x*x overflows for |x| > 1.8e19",
    emits=("Abs", "Add", "Log", "Mul", "Sign", "Sqrt"),
)
def asinh_via_log(op: Builder, x: Value) -> Value:
    """Asinh(x) as sign(x) * log(|x| + sqrt(x^2 + 1)), symmetric so negative x does not cancel."""
    magnitude = op.Abs(x)
    positive = op.Log(op.Add(magnitude, op.Sqrt(op.Add(op.Mul(x, x), 1.0))))
    return op.Mul(positive, op.Sign(x))


@rule(
    "Acosh",
    exact=False,
    bound="loses precision near 1; x*x overflows for |x| > 1.8e19 (inf, not the value or NaN)",
    emits=("Add", "Log", "Mul", "Sqrt", "Sub"),
)
def acosh_via_log(op: Builder, x: Value) -> Value:
    """Acosh(x) as log(x + sqrt(x^2 - 1))."""
    return op.Log(op.Add(x, op.Sqrt(op.Sub(op.Mul(x, x), 1.0))))


@rule(
    "Atanh", exact=False, bound="cancellation near 0 (absolute error ~5e-7)", emits=("Add", "Div", "Log", "Mul", "Sub")
)
def atanh_via_log(op: Builder, x: Value) -> Value:
    """Atanh(x) as log((1 + x) / (1 - x)) / 2."""
    return op.Mul(op.Log(op.Div(op.Add(x, 1.0), op.Sub(op.constant(1.0, x.dtype), x))), 0.5)


def _is_float(x: Value) -> bool:
    return x.dtype in (
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.DOUBLE,
        onnx.TensorProto.FLOAT16,
        onnx.TensorProto.BFLOAT16,
    )


# Abramowitz & Stegun 7.1.26: |error| <= 1.5e-7 in exact arithmetic; float32 evaluation adds rounding.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


@rule(
    "Erf",
    exact=False,
    bound="A&S 7.1.26: |error| <= 1.5e-7 in exact arithmetic, ~6e-7 in float32",
    emits=("Abs", "Add", "Div", "Exp", "Mul", "Sign", "Sub"),
)
def erf_via_polynomial(op: Builder, x: Value) -> Value:
    """erf(x) = sign(x) * (1 - poly(t) * exp(-x^2)), t = 1 / (1 + p|x|), for targets without Erf."""
    magnitude = op.Abs(x)
    t = op.Div(op.constant(1.0, x.dtype), op.Add(op.Mul(magnitude, _ERF_P), 1.0))
    poly = op.Mul(t, _ERF_A[4])
    for coefficient in reversed(_ERF_A[:4]):
        poly = op.Mul(op.Add(poly, coefficient), t)
    tail = op.Mul(poly, op.Exp(op.Mul(op.Mul(x, x), -1.0)))
    return op.Mul(op.Sub(op.constant(1.0, x.dtype), tail), op.Sign(x))


@rule("Greater", emits=("Less",))
def greater_via_less(op: Builder, a: Value, b: Value) -> Value:
    """A > b as b < a."""
    return op.Less(b, a)


@rule("Less", emits=("Greater",))
def less_via_greater(op: Builder, a: Value, b: Value) -> Value:
    """A < b as b > a."""
    return op.Greater(b, a)


@rule("And", emits=("Not", "Or"))
def and_via_or(op: Builder, a: Value, b: Value) -> Value:
    """A and b as not (not a or not b)."""
    return op.Not(op.Or(op.Not(a), op.Not(b)))


@rule("Or", emits=("And", "Not"))
def or_via_and(op: Builder, a: Value, b: Value) -> Value:
    """A or b as not (not a and not b)."""
    return op.Not(op.And(op.Not(a), op.Not(b)))


@rule("Floor", emits=("Ceil", "Mul"))
def floor_via_ceil(op: Builder, x: Value) -> Value:
    """floor(x) as -ceil(-x)."""
    return op.Mul(op.Ceil(op.Mul(x, -1)), -1)


@rule("Ceil", emits=("Floor", "Mul"))
def ceil_via_floor(op: Builder, x: Value) -> Value:
    """ceil(x) as -floor(-x)."""
    return op.Mul(op.Floor(op.Mul(x, -1)), -1)


@rule("ArgMin", emits=("ArgMax", "Mul"))
def argmin_via_argmax(op: Builder, x: Value, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0) -> Value:
    """ArgMin(x) as ArgMax(-x): the same positions, ties broken the same way."""
    if not _is_float(x):
        raise RuleNotApplicable("negating integers overflows at the minimum value")
    extra = {"select_last_index": select_last_index} if op.opset >= 12 else {}
    return op.ArgMax(op.Mul(x, -1), axis=axis, keepdims=keepdims, **extra)


@rule("Sigmoid", exact=False, bound="1 / (1 + exp(-x)): |error| ~2e-7", emits=("Add", "Div", "Exp", "Mul"))
def sigmoid_via_exp(op: Builder, x: Value) -> Value:
    """sigmoid(x) as 1 / (1 + exp(-x))."""
    return op.Div(op.constant(1.0, x.dtype), op.Add(op.Exp(op.Mul(x, -1)), 1.0))


#: Element types whose every non-zero value stays non-zero in float32 (none underflows to 0).
_NONZERO_CASTABLE = frozenset(
    getattr(onnx.TensorProto, name)
    for name in ("BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
)


@rule("NonZero", emits=("Cast", "NonZero"))
def nonzero_via_float(op: Builder, x: Value) -> Value:
    """NonZero(x) as NonZero(Cast(x, float)), for bool and integer x (TensorRT takes float only).

    Exact: every non-zero integer or true is a non-zero float (the largest uint64 is 1.8e19, finite).
    """
    if x.dtype not in _NONZERO_CASTABLE:
        raise RuleNotApplicable("for bool and integer inputs only (a tiny float64 would cast to 0)")
    return op.NonZero(op.Cast(x, to=onnx.TensorProto.FLOAT))
