"""Data movement and linear algebra: Gemm, pooling as reductions, shape ops folded to constants.

Rules that fold to constants (Size, Shape, ConstantOfShape, Range) apply only when what they depend
on is static; converters such as Qualcomm's fold the same cases at conversion time.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper, numpy_helper

from opswap.rules.base import Builder, rule
from opswap.rules.values import RuleNotApplicable, Value
from opswap.typeinfo import MAX_FOLDED, too_big

INT64 = onnx.TensorProto.INT64
BOOL = onnx.TensorProto.BOOL


@rule("Gemm", emits=("Add", "MatMul", "Mul", "Transpose"))
def gemm_via_matmul(
    op: Builder,
    a: Value,
    b: Value,
    c: Value | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    transA: int = 0,
    transB: int = 0,
) -> Value:
    """Alpha * A' @ B' + beta * C with MatMul, Transpose, Mul and Add (each only when needed)."""
    left = op.Transpose(a, perm=[1, 0]) if transA else a
    right = op.Transpose(b, perm=[1, 0]) if transB else b
    y = op.MatMul(left, right)
    if alpha != 1.0:
        y = op.Mul(y, alpha)
    if c is not None:
        y = op.Add(y, c if beta == 1.0 else op.Mul(c, beta))
    return y


@rule("GlobalAveragePool", shapes=True, emits=("ReduceMean",))
def globalaveragepool_via_reducemean(op: Builder, x: Value) -> Value:
    """Mean over every spatial axis, kept as size 1."""
    return op.reduce("ReduceMean", x, list(range(2, x.rank)))


@rule("GlobalMaxPool", shapes=True, emits=("ReduceMax",))
def globalmaxpool_via_reducemax(op: Builder, x: Value) -> Value:
    """Max over every spatial axis, kept as size 1."""
    return op.reduce("ReduceMax", x, list(range(2, x.rank)))


def _reduction_axes(x: Value, axes_input: Value | None, axes_attr: list[int] | None) -> list[int] | None:
    if axes_input is not None:
        axes = [int(a) for a in axes_input.value().ravel()]
    elif axes_attr is not None:
        axes = list(axes_attr)
    else:
        return None
    rank = x.rank
    return sorted(a + rank if a < 0 else a for a in axes)


@rule("ReduceMean", shapes=True, emits=("GlobalAveragePool", "Squeeze"))
def reducemean_via_globalaveragepool(
    op: Builder,
    x: Value,
    axes_input: Value | None = None,
    *,
    axes: list[int] | None = None,
    keepdims: int = 1,
    noop_with_empty_axes: int = 0,
) -> Value:
    """ReduceMean over all spatial axes is GlobalAveragePool (the dynamo exporter's pooling).

    Without keepdims (``x.mean([2, 3])``, ShuffleNet's head), a Squeeze of those axes follows.
    """
    del noop_with_empty_axes  # only matters when axes are empty, and here they are the spatial axes
    rank = x.rank
    spatial = list(range(2, rank))
    if rank < 3 or _reduction_axes(x, axes_input, axes) != spatial:
        raise RuleNotApplicable("only the mean over every spatial axis")
    pooled = op.GlobalAveragePool(x)
    return pooled if keepdims else op.squeeze(pooled, spatial)


@rule("ReduceMean", emits=("Cast", "Div", "ReduceSum", "Size"))
def reducemean_via_reducesum(
    op: Builder,
    x: Value,
    axes_input: Value | None = None,
    *,
    axes: list[int] | None = None,
    keepdims: int = 1,
    noop_with_empty_axes: int = 0,
) -> Value:
    """ReduceSum / n, n = Size(x) / Size(the sum with kept dims): works for runtime axes and shapes."""
    flags = {"noop_with_empty_axes": noop_with_empty_axes} if noop_with_empty_axes else {}

    def summed(keep: int) -> Value:
        if axes_input is not None:
            return op.emit("ReduceSum", x, axes_input, keepdims=keep, **flags)
        return op.reduce("ReduceSum", x, list(axes) if axes else None, keepdims=keep, **flags)

    total = summed(keepdims)
    kept = total if keepdims else summed(1)
    count = op.Div(op.Size(x), op.Size(kept))
    return op.Div(total, op.Cast(count, to=x.dtype))


@rule("Flatten", shapes=True, emits=("Reshape",))
def flatten_via_reshape(op: Builder, x: Value, *, axis: int = 1) -> Value:
    """Flatten to 2-D as Reshape: a constant shape, or [0, -1] / [1, -1] when dims are symbolic."""
    rank = x.rank
    split = axis + rank if axis < 0 else axis
    shape = x.shape or ()
    if all(d is not None for d in shape):
        static = [int(d or 0) for d in shape]
        dims = [math.prod(static[:split]), math.prod(static[split:])]
    elif split == 1 and shape[0] is None:
        dims = [0, -1]
    elif split == 0:
        dims = [1, -1]
    else:
        raise RuleNotApplicable("symbolic dims that Reshape cannot express")
    return op.Reshape(x, op.constant(np.asarray(dims, dtype=np.int64), INT64))


@rule("Reshape", emits=("Reshape",))
def reshape_without_allowzero(op: Builder, x: Value, shape: Value, *, allowzero: int = 0) -> Value:
    """Reshape with allowzero=1 and a constant shape holding no 0 is the same Reshape without it."""
    dims = shape.value()
    if not allowzero or np.any(np.asarray(dims) == 0):
        raise RuleNotApplicable("only drops allowzero=1 when the constant shape has no zero")
    return op.Reshape(x, shape)


@rule("Squeeze", shapes=True, emits=("Reshape",))
def squeeze_via_reshape(
    op: Builder, x: Value, axes_input: Value | None = None, *, axes: list[int] | None = None
) -> Value:
    """Squeeze as Reshape to the static output shape."""
    shape = x.static_shape()
    chosen = _reduction_axes(x, axes_input, axes)
    if chosen is None:
        chosen = [k for k, d in enumerate(shape) if d == 1]
    if any(shape[k] != 1 for k in chosen):
        raise RuleNotApplicable("squeezing a dim that is not 1")
    out = [d for k, d in enumerate(shape) if k not in chosen]
    return op.Reshape(x, op.constant(np.asarray(out, dtype=np.int64), INT64))


@rule("Unsqueeze", shapes=True, emits=("Reshape",))
def unsqueeze_via_reshape(
    op: Builder, x: Value, axes_input: Value | None = None, *, axes: list[int] | None = None
) -> Value:
    """Unsqueeze as Reshape to the static output shape."""
    shape = list(x.static_shape())
    if axes_input is not None:
        chosen = [int(a) for a in axes_input.value().ravel()]
    elif axes is not None:
        chosen = list(axes)
    else:
        raise RuleNotApplicable("no axes")
    rank = len(shape) + len(chosen)
    for a in sorted(a + rank if a < 0 else a for a in chosen):
        shape.insert(a, 1)
    return op.Reshape(x, op.constant(np.asarray(shape, dtype=np.int64), INT64))


def _axis_count(axes: Value) -> int:
    if axes.const is not None:
        return int(axes.const.size)
    shape = axes.static_shape()
    return int(np.prod(shape))  # one axis for a scalar


def _named_by(op: Builder, axes: Value, rank: int) -> Value:
    """int64 [rank]: 1 at each position an axis computed at run time names (negative ones counted from the end)."""
    count = _axis_count(axes)
    if count == 0:
        raise RuleNotApplicable("no axes")
    normalized = op.Where(op.Less(axes, 0), op.Add(axes, rank), axes)
    row = op.Reshape(normalized, op.constant(np.asarray([1, count], dtype=np.int64), INT64))
    positions = op.constant(np.arange(rank, dtype=np.int64).reshape(rank, 1), INT64)
    return op.reduce("ReduceMax", op.Cast(op.Equal(positions, row), to=INT64), [1], keepdims=0)


def _reshape_to_computed(op: Builder, x: Value, shape: Value, zeros: bool) -> Value:
    """Reshape to a shape computed at run time; where it may hold a 0, that 0 must mean 0 (allowzero)."""
    if not zeros:
        return op.Reshape(x, shape)
    if op.opset < 14:
        raise RuleNotApplicable("the computed shape may hold a 0, which Reshape before opset 14 reads as 'copy'")
    return op.Reshape(x, shape, allowzero=1)


def _may_be_empty(x: Value) -> bool:
    return x.shape is None or any(d is None or d == 0 for d in x.shape)


def _static(x: Value) -> bool:
    return x.shape is not None and None not in x.shape


@rule(
    "Unsqueeze",
    opsets=(13, 21, 23, 24, 25),
    shapes=True,
    emits=("Add", "Cast", "CumSum", "Equal", "Gather", "Less", "Max", "ReduceMax", "Reshape", "Shape", "Sub", "Where"),
)
def unsqueeze_via_computed_shape(op: Builder, x: Value, axes: Value) -> Value:
    """Unsqueeze with axes computed at run time (or of a shape known only then), as Reshape to the shape they give.

    Position p of the output is 1 where an axis names it, else the next dimension of ``x``
    (Gather of Shape(x) at the count of earlier positions no axis names).
    """
    if axes.const is not None and _static(x):
        raise RuleNotApplicable("constant axes of a static shape (unsqueeze_via_reshape)")
    rank = x.rank + _axis_count(axes)
    one = op.constant(1, INT64)
    if x.rank == 0:
        return op.Reshape(x, op.constant(np.ones(rank, dtype=np.int64), INT64))
    inserted = _named_by(op, axes, rank)
    earlier = op.Sub(op.CumSum(op.Sub(one, inserted), op.constant(0, INT64)), one)
    dims = op.Gather(op.Shape(x), op.Max(earlier, op.constant(0, INT64)), axis=0)
    shape = op.Where(op.Cast(inserted, to=BOOL), one, dims)
    return _reshape_to_computed(op, x, shape, _may_be_empty(x))


@rule(
    "Squeeze",
    opsets=(13, 21, 23, 24, 25),
    shapes=True,
    emits=("Add", "Cast", "Compress", "Equal", "Less", "ReduceMax", "Reshape", "Shape", "Where"),
)
def squeeze_via_computed_shape(op: Builder, x: Value, axes: Value | None = None) -> Value:
    """Squeeze with axes computed at run time (or of a shape known only then), as a computed Reshape.

    The shape is Shape(x) without the dimensions the axes name.
    """
    if axes is None or (axes.const is not None and _static(x)):
        raise RuleNotApplicable("no axes, or constant axes of a static shape (squeeze_via_reshape)")
    kept = op.Equal(_named_by(op, axes, x.rank), op.constant(0, INT64))
    shape = op.Compress(op.Shape(x), kept, axis=0)
    return _reshape_to_computed(op, x, shape, _may_be_empty(x))


@rule("Dropout", opsets=(7, 10, 12, 13, 22), emits=("Expand", "Identity", "Shape"))
def dropout_inference_via_identity(
    op: Builder,
    x: Value,
    ratio: Value | None = None,
    training_mode: Value | None = None,
    *,
    seed: int = 0,
    _n_outputs: int = 1,
) -> tuple[Value, ...]:
    """Dropout at inference is the identity; its mask, when asked for, is all true."""
    del ratio, seed
    if training_mode is not None and bool(training_mode.value().item()):
        raise RuleNotApplicable("training mode is random")
    y = op.Identity(x)
    if _n_outputs < 2:
        return (y,)
    mask = op.Expand(op.constant(np.array(True), BOOL), op.Shape(x))
    return (y, mask)


@rule("Trilu", shapes=True, emits=("Greater", "Less", "Not", "Where"))
def trilu_via_where(op: Builder, x: Value, k: Value | None = None, *, upper: int = 1) -> Value:
    """Where(mask, x, 0), the mask comparing a constant (column - row) grid of the last two dims with k."""
    shape = x.static_shape()
    if len(shape) < 2:
        raise RuleNotApplicable("rank < 2")
    rows, cols = shape[-2], shape[-1]
    if rows * cols > MAX_FOLDED:
        raise RuleNotApplicable("mask too large to store")
    offset = np.arange(cols, dtype=np.int64)[None, :] - np.arange(rows, dtype=np.int64)[:, None]
    diagonal = k if k is not None else op.constant(0, INT64)
    grid = op.constant(offset, INT64)
    # upper keeps column - row >= k; lower keeps column - row <= k
    mask = op.Not(op.Less(grid, diagonal)) if upper else op.Not(op.Greater(grid, diagonal))
    return op.Where(mask, x, op.constant(0, x.dtype))


@rule("Expand", emits=("And", "Mul"))
def expand_via_mul(op: Builder, x: Value, shape: Value) -> Value:
    """Expand(x, shape) as x * ones(shape) (And with true for booleans): the same bidirectional broadcast."""
    dims = [int(d) for d in shape.value().ravel()]
    reason = too_big(dims)
    if reason is not None:
        raise RuleNotApplicable(f"the ones tensor: {reason}")
    if x.dtype == BOOL:
        return op.And(x, op.constant(np.ones(dims, dtype=bool), BOOL))
    return op.Mul(x, op.constant(np.ones(dims), x.dtype))


@rule("Expand", emits=("ConstantOfShape", "Where"))
def expand_via_where(op: Builder, x: Value, shape: Value) -> Value:
    """Expand(x, shape) as Where(ConstantOfShape(shape, true), x, x), for a shape computed at run time.

    Where broadcasts its three inputs as Expand broadcasts ``x`` with ``shape`` (bidirectionally), and
    picks ``x`` everywhere: every element type, bit for bit, with no constant of the output's size.
    """
    if shape.const is not None:
        raise RuleNotApplicable("the shape is a constant (expand_via_mul)")
    true = helper.make_tensor("", BOOL, [1], [True])
    return op.Where(op.ConstantOfShape(shape, value=true), x, x)


@rule("Tile", emits=("Concat", "Identity"))
def tile_via_concat(op: Builder, x: Value, repeats: Value) -> Value:
    """Tile as Concat of copies along each repeated axis."""
    counts = [int(r) for r in repeats.value().ravel()]
    if any(r < 1 for r in counts) or sum(counts) > 256:
        raise RuleNotApplicable("repeats must be small positive constants")
    result = x
    for axis, count in enumerate(counts):
        if count > 1:
            result = op.Concat(*([result] * count), axis=axis)
    return result if result is not x else op.Identity(x)


@rule("Tile", shapes=True, emits=("Concat", "Expand", "Max", "Mul", "Reshape", "Shape", "Slice", "Unsqueeze"))
def tile_via_expand(op: Builder, x: Value, repeats: Value) -> Value:
    """Tile with repeats computed at run time: a new axis before each axis, expanded to its count, merged.

    [d0, d1] -> [1, d0, 1, d1] -> Expand to [r0, d0, r1, d1] -> Reshape to [r0*d0, r1*d1]: the copies
    in Tile's order, moved, never computed. A repeat of 0 is tiled once and sliced away after, so
    the Reshape never meets a 0 (which before opset 14 it reads as "copy that dimension").
    """
    if repeats.const is not None:
        raise RuleNotApplicable("the repeats are constants (tile_via_concat)")
    if op.opset < 12:
        raise RuleNotApplicable("Max of int64 needs opset 12")
    rank = x.rank
    if rank == 0:
        raise RuleNotApplicable("Tile of a scalar")
    column = op.constant(np.asarray([rank, 1], dtype=np.int64), INT64)
    shape = op.Shape(x)
    zero = op.constant(np.zeros(rank, dtype=np.int64), INT64)
    counts = repeats if _may_be_empty(x) else op.Max(repeats, op.constant(1, INT64))
    pairs = op.Concat(op.Reshape(counts, column), op.Reshape(shape, column), axis=1)
    interleaved = op.Reshape(pairs, op.constant(np.asarray([2 * rank], dtype=np.int64), INT64))
    spread = op.Expand(op.unsqueeze(x, [2 * k for k in range(rank)]), interleaved)
    tiled = _reshape_to_computed(op, spread, op.Mul(counts, shape), zeros=_may_be_empty(x))
    if counts is repeats:
        return tiled
    return op.Slice(tiled, zero, op.Mul(repeats, shape))


@rule("Constant", emits=())
def constant_as_initializer(
    op: Builder,
    *,
    value: onnx.TensorProto | None = None,
    value_float: float | None = None,
    value_floats: list[float] | None = None,
    value_int: int | None = None,
    value_ints: list[int] | None = None,
    value_string: bytes | None = None,
    value_strings: list[bytes] | None = None,
    sparse_value: onnx.SparseTensorProto | None = None,
) -> Value:
    """The Constant's value as an initializer of the same name: no node left."""
    if not op.holds_initializers:
        raise RuleNotApplicable("this scope holds no initializers (a function body, or IR < 4 without graph inputs)")
    if sparse_value is not None:
        raise RuleNotApplicable("sparse_value: a sparse constant is not made an initializer")
    if value is not None:
        tensor = onnx.TensorProto()
        tensor.CopyFrom(value)  # raw or typed data, or an external data reference, kept as they are
        return op.initializer(tensor)
    for given, dtype in (
        (value_float, np.float32),
        (value_floats, np.float32),
        (value_int, np.int64),
        (value_ints, np.int64),
        (value_string, object),
        (value_strings, object),
    ):
        if given is not None:
            return op.initializer(np.asarray(given, dtype=dtype))
    raise RuleNotApplicable("the Constant has no value attribute")


@rule("Size", shapes=True, emits=())
def size_via_constant(op: Builder, x: Value) -> Value:
    """The element count of a static shape, as a constant."""
    return op.initializer(np.asarray(math.prod(x.static_shape()), dtype=np.int64))


@rule("Shape", shapes=True, emits=())
def shape_via_constant(op: Builder, x: Value, *, start: int = 0, end: int | None = None) -> Value:
    """A static shape (or its start:end slice) as a constant."""
    dims = np.asarray(x.static_shape(), dtype=np.int64)
    return op.initializer(dims[start:end])


@rule("ConstantOfShape", emits=())
def constantofshape_via_constant(op: Builder, shape: Value, *, value: onnx.TensorProto | None = None) -> Value:
    """ConstantOfShape with a constant shape, as the constant itself."""
    dims = [int(d) for d in shape.value().ravel()]
    reason = too_big(dims)
    if reason is not None:
        raise RuleNotApplicable(f"the constant: {reason}")
    fill, dtype = _fill(value)
    return op.initializer(np.full(dims, fill), dtype)


@rule("ConstantOfShape", emits=("Expand",))
def constantofshape_via_expand(op: Builder, shape: Value, *, value: onnx.TensorProto | None = None) -> Value:
    """ConstantOfShape with a shape computed at run time, as Expand of the one-element value to it.

    The value becomes a rank-0 constant, so the output has rank len(shape) (rank 0 for an empty
    shape) and every dimension the shape gives, zeros included.
    """
    if shape.const is not None:
        raise RuleNotApplicable("the shape is a constant (constantofshape_via_constant)")
    fill, dtype = _fill(value)
    return op.Expand(op.constant(fill, dtype), shape)


def _fill(value: onnx.TensorProto | None) -> tuple[np.ndarray, int]:
    """ConstantOfShape's one value as a rank-0 array, and its element type (default: float 0)."""
    if value is None:
        return np.zeros((), dtype=np.float32), onnx.TensorProto.FLOAT
    return numpy_helper.to_array(value).reshape(()), value.data_type


@rule("Range", emits=("Add", "Cast", "Ceil", "ConstantOfShape", "CumSum", "Div", "Max", "Mul", "Reshape", "Sub"))
def range_via_cumsum(op: Builder, start: Value, limit: Value, delta: Value) -> Value:
    """Start + delta * [0, 1, ..., n-1], n = max(ceil((limit - start) / delta), 0), via CumSum of ones."""
    if start.const is not None and limit.const is not None and delta.const is not None:
        first, last, step = start.const.item(), limit.const.item(), delta.const.item()
        if step == 0 or not all(math.isfinite(v) for v in (first, last, step)):
            raise RuleNotApplicable(f"Range({first}, {last}, {step}) has no finite length")
        if isinstance(first, int) and isinstance(last, int) and isinstance(step, int):
            length = max(-((first - last) // step), 0)  # exact ceil((last - first) / step)
        else:
            length = max(math.ceil((last - first) / step), 0)
        if length <= MAX_FOLDED:
            return op.initializer(np.arange(first, last, step, dtype=start.const.dtype), start.dtype)
        # too long to store: computed at run time below, as for inputs that are not constants
    double = onnx.TensorProto.DOUBLE
    span = op.Div(op.Cast(op.Sub(limit, start), to=double), op.Cast(delta, to=double))
    count = op.Max(op.Cast(op.Ceil(span), to=INT64), op.constant(0, INT64))
    one = helper.make_tensor("", start.dtype, [1], [1])
    ones = op.ConstantOfShape(op.Reshape(count, op.constant(np.asarray([1], dtype=np.int64), INT64)), value=one)
    index = op.Sub(op.CumSum(ones, op.constant(0, INT64)), op.constant(1, start.dtype))
    return op.Add(start, op.Mul(index, delta))


@rule("Einsum", shapes=True, emits=("Identity", "MatMul", "ReduceSum", "Reshape", "Transpose"))
def einsum_via_matmul(op: Builder, *xs: Value, equation: str | bytes) -> Value:
    """Einsum of one or two operands as ReduceSum, Transpose, Reshape and one batched MatMul.

    Letters only one operand has and the output lacks are summed first; then the operands are laid
    out as [batch, rows, k] and [batch, k, cols] (batch: letters both operands and the output have;
    k: letters both have and the output lacks), multiplied, and laid out in the output's order.
    Not applicable to ellipses, a letter repeated within one operand (diagonals), more than two
    operands, or shapes that are not static.
    """
    text = (equation.decode() if isinstance(equation, bytes) else equation).replace(" ", "")
    if "." in text:
        raise RuleNotApplicable("ellipsis in the equation")
    inputs_text, arrow, output = text.partition("->")
    operands = inputs_text.split(",")
    if not arrow:  # implicit output: the letters used once, in alphabetical order
        letters = "".join(operands)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(operands) != len(xs) or len(xs) not in (1, 2):
        raise RuleNotApplicable("one or two operands only")
    if any(len(set(term)) != len(term) for term in (*operands, output)):
        raise RuleNotApplicable("a letter repeated within one operand (a diagonal)")
    sizes: dict[str, int] = {}
    for term, x in zip(operands, xs, strict=True):
        shape = x.static_shape()
        if len(shape) != len(term):
            raise RuleNotApplicable("the equation's rank differs from the input's")
        for letter, dim in zip(term, shape, strict=True):
            if sizes.setdefault(letter, dim) != dim:
                raise RuleNotApplicable("broadcast dimensions")
    values, terms = list(xs), list(operands)
    for k, term in enumerate(terms):  # sum out what only this operand has and the output lacks
        others = "".join(t for j, t in enumerate(terms) if j != k)
        alone = [axis for axis, c in enumerate(term) if c not in output and c not in others]
        if alone:
            values[k] = op.reduce("ReduceSum", values[k], alone, keepdims=0)
            terms[k] = "".join(c for c in term if (c not in output and c in others) or c in output)
    if len(values) == 1:
        return _laid_out(op, values[0], terms[0], output)
    a, b = terms
    batch = [c for c in output if c in a and c in b]
    shared = [c for c in a if c in b and c not in output]
    rows, cols = [c for c in a if c not in b], [c for c in b if c not in a]
    left = _grouped(op, values[0], a, [batch, rows, shared], sizes)
    right = _grouped(op, values[1], b, [batch, shared, cols], sizes)
    product = op.MatMul(left, right)
    order = "".join(batch + rows + cols)
    dims = [sizes[c] for c in order]
    product = op.Reshape(product, op.constant(np.asarray(dims, dtype=np.int64), INT64))
    return _laid_out(op, product, order, output)


def _grouped(op: Builder, x: Value, term: str, groups: list[list[str]], sizes: dict[str, int]) -> Value:
    """``x`` transposed to the groups' letters in order, then reshaped to one dimension per group."""
    order = "".join(c for group in groups for c in group)
    if term != order:
        x = _laid_out(op, x, term, order)
    dims = [math.prod(sizes[c] for c in group) for group in groups]
    return op.Reshape(x, op.constant(np.asarray(dims, dtype=np.int64), INT64))


def _laid_out(op: Builder, x: Value, term: str, order: str) -> Value:
    """``x``, whose axes are ``term``'s letters, transposed to ``order`` (Identity when already so)."""
    if term == order:
        return op.Identity(x)
    return op.Transpose(x, perm=[term.index(c) for c in order])
