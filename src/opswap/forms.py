"""Op forms by version: one table for the rule builder, ONNX-body re-emission and opset lowering.

Two kinds of change matter when a node is written at another opset than the one its form was
written for:

* :data:`MOVED`: an attribute that became an input (reduction axes, Squeeze/Unsqueeze axes, Split
  sizes, Clip bounds, Dropout's ratio). The builder emits the form in force at the model's opset,
  bodies are re-emitted in it, and lowering/raising moves the value across by itself.
* :data:`CHANGED`: versions where an op's meaning or layout changed in a way no moving of values
  expresses (the Softmax family's axis at 13, Split's ``num_outputs`` at 18, Pad's axes at 18, ...).
  A body written at one side is not re-emitted at the other; lowering and raising need an adapter,
  registered per op and boundary with :func:`adapter` (see ``opsets``), the way rules are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

REDUCTIONS_WITH_AXES_AT_18 = (
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceSumSquare",
)


@dataclass(frozen=True)
class Moved:
    """Attribute ``name`` of ``op_type`` is input ``position`` from opset ``since`` on."""

    op_type: str
    name: str
    position: int
    since: int
    #: What the attribute held: "ints" (axes, sizes), "float" (a ratio), "bound" (a bound in the
    #: input's own element type: moving it needs that type).
    kind: str = "ints"


MOVED: tuple[Moved, ...] = (
    Moved("ReduceSum", "axes", 1, 13),
    *(Moved(op, "axes", 1, 18) for op in REDUCTIONS_WITH_AXES_AT_18),
    Moved("Squeeze", "axes", 1, 13),
    Moved("Unsqueeze", "axes", 1, 13),
    Moved("Split", "split", 1, 13),
    Moved("Clip", "min", 1, 11, "bound"),
    Moved("Clip", "max", 2, 11, "bound"),
    Moved("Dropout", "ratio", 1, 12, "float"),
)

_MOVED_BY_OP = {op: tuple(m for m in MOVED if m.op_type == op) for op in {m.op_type for m in MOVED}}

#: Versions at which an op's meaning or layout changed beyond a moved attribute, with what changed.
CHANGED: dict[str, tuple[tuple[int, str], ...]] = {
    "Softmax": ((13, "works on one axis, default -1 (was: flattened to 2-D at axis, default 1)"),),
    "LogSoftmax": ((13, "works on one axis, default -1 (was: flattened to 2-D at axis, default 1)"),),
    "Hardmax": ((13, "works on one axis, default -1 (was: flattened to 2-D at axis, default 1)"),),
    "Split": ((18, "num_outputs"),),
    "Pad": ((11, "pads and value as inputs"), (18, "axes input"), (19, "wrap mode")),
    "Slice": ((10, "starts, ends, axes, steps as inputs"),),
    "TopK": ((10, "k as an input"),),
    "Resize": ((11, "roi and sizes"), (13, "tf_half_pixel_for_nn removed"), (18, "axes, antialias")),
    "Upsample": ((9, "scales as an input"),),
    "Reshape": ((14, "allowzero"),),
    "BatchNormalization": ((14, "training_mode, running statistics outputs"),),
    "Cast": ((19, "saturate"),),
    "Shape": ((15, "start and end"),),
    "RoiAlign": ((16, "coordinate_transformation_mode, default half_pixel"),),
    "GridSample": ((20, "mode names linear and cubic"),),
    "GroupNormalization": ((21, "scale and bias per channel (were per group)"),),
    "Constant": ((12, "value_float(s), value_int(s)"),),
}


def moved(op_type: str) -> tuple[Moved, ...]:
    """The attributes of ``op_type`` that became inputs (empty for most ops)."""
    return _MOVED_BY_OP.get(op_type, ())


def as_input(op_type: str, name: str, opset: int) -> bool:
    """Whether ``name`` is an input (not an attribute) of ``op_type`` at ``opset``."""
    return any(m.name == name and opset >= m.since for m in moved(op_type))


def moved_axes(op_type: str) -> Moved | None:
    """The ``axes`` entry of a reduction or Squeeze/Unsqueeze, else None."""
    return next((m for m in moved(op_type) if m.name == "axes"), None)


#: Ops whose changes only added attributes whose defaults keep the old meaning (or a Constant's
#: spellings): a node written without them means the same on both sides.
ATTRIBUTES_ADDED = frozenset({"Reshape", "BatchNormalization", "Cast", "Shape", "Constant"})


def meaning_changed(op_type: str) -> bool:
    """Whether the op's meaning or layout changed beyond moved attributes and added defaults."""
    return op_type in CHANGED and op_type not in ATTRIBUTES_ADDED


def between(since: int, low: int, high: int) -> bool:
    """Whether a change at opset ``since`` lies between ``low`` (exclusive) and ``high`` (inclusive)."""
    return low < since <= high


#: An adapter rewrites one node across one boundary, in place (its arguments are the lowering's).
Adapter = Callable[..., None]

#: op type -> its adapters as (boundary, "down" or "up", adapter), in registration order. Keyed by op:
#: lowering looks this up for every node whose version changes, and most ops have none.
ADAPTERS: dict[str, list[tuple[int, str, Adapter]]] = {}


def adapter(op_types: str | tuple[str, ...], since: int, direction: str) -> Callable[[Adapter], Adapter]:
    """Register an adapter for ``op_types`` crossing opset ``since`` going ``direction``."""
    if direction not in ("down", "up"):
        raise ValueError(f"direction must be 'down' or 'up', not {direction!r}")
    names = (op_types,) if isinstance(op_types, str) else op_types

    def register(fn: Adapter) -> Adapter:
        for op in names:
            ADAPTERS.setdefault(op, []).append((since, direction, fn))
        return fn

    return register


def adapters(op_type: str, old: int, new: int) -> list[tuple[int, Adapter]]:
    """The adapters a node of ``op_type`` moving from opset ``old`` to ``new`` needs, boundary by boundary.

    Going down, the newest boundary first (each adapter sees the form just above its boundary);
    going up, the oldest first.
    """
    registered = ADAPTERS.get(op_type)
    if not registered:
        return []
    direction = "down" if new < old else "up"
    low, high = min(old, new), max(old, new)
    found = [(since, fn) for since, way, fn in registered if way == direction and between(since, low, high)]
    return sorted(found, key=lambda pair: -pair[0] if direction == "down" else pair[0])


__all__ = [
    "ADAPTERS",
    "ATTRIBUTES_ADDED",
    "CHANGED",
    "MOVED",
    "Moved",
    "adapter",
    "adapters",
    "as_input",
    "between",
    "meaning_changed",
    "moved",
    "moved_axes",
]
