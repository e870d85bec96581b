"""Lowering a model's ai.onnx opset, so every node is at a version the target's converter registers.

A node's version is set by the model's opset import, so "ReduceMean-18 to ReduceMean-13" means
lowering the whole model: every node whose version changes is adapted. Most version bumps only add
element types; the ops whose form or meaning changed have adapters here (reduction axes and split
sizes from inputs back to attributes, the Softmax family's axis, attributes added later with
defaults). Any other change is checked structurally (every attribute and input must exist in the
lower version) and the result goes through onnx's full checker and, in ``fix``, verification. What
changed where is one table, ``opswap.forms`` (attributes that became inputs, moved here by it; other
changes, each with an adapter registered below per op and boundary).
onnx's own version converter was tried first: it writes invalid models for ReduceMean (20 -> 17 keeps
``noop_with_empty_axes``) and cannot go below 14 with HardSwish present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from opswap import forms
from opswap.errors import OpswapError
from opswap.graphs import Scope, iter_scopes, node_label, splice
from opswap.model import Model
from opswap.rules.base import NameGen
from opswap.schemas import since_version
from opswap.targets import Target
from opswap.typeinfo import TypeIndex

#: Lowest opset this module lowers to (older opsets moved Slice, TopK, Clip, Pad inputs to attributes).
LOWEST = 11
#: Highest opset it raises to: the newest the installed onnx defines.
HIGHEST = onnx.defs.onnx_opset_version()


class LoweringError(OpswapError):
    """A node cannot be expressed at the requested opset."""


@dataclass
class Lowering:
    """What lowering changed."""

    from_opset: int
    to_opset: int
    adapted: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"from": self.from_opset, "to": self.to_opset, "adapted": self.adapted}


def version_warnings(model: Model, target: Target, opset: int) -> int | None:
    """How many nodes would be at a version ``target`` does not list at ``opset`` (None: an op is missing)."""
    count = 0
    for scope in iter_scopes(model.proto):
        for node in scope.nodes:
            if node.domain not in ("", "ai.onnx"):
                continue
            version = since_version(node.op_type, "", opset)
            if version is None:
                return None
            entry = target.support(node.op_type)
            if entry is not None and entry.opsets is not None and version not in entry.opsets:
                count += 1
    return count


def raise_target(model: Model, target: Target) -> int:
    """The lowest opset above the model's with fewer nodes at versions ``target`` does not list.

    The model's own opset when no higher one has fewer (``--raise-opset auto``).
    """
    current = model.opset
    best, best_warnings = current, version_warnings(model, target, current)
    for opset in range(current + 1, HIGHEST + 1):
        warnings = version_warnings(model, target, opset)
        if warnings is not None and (best_warnings is None or warnings < best_warnings):
            best, best_warnings = opset, warnings
    return best


def best_opset(model: Model, target: Target) -> int:
    """The highest opset, no higher than the model's, with the fewest nodes at unlisted versions."""
    current = model.opset
    best, best_warnings = current, version_warnings(model, target, current)
    for opset in range(current - 1, LOWEST - 1, -1):
        warnings = version_warnings(model, target, opset)
        if warnings is not None and (best_warnings is None or warnings < best_warnings):
            best, best_warnings = opset, warnings
    return best


#: Models up to this many nodes get a tried-out lowering hint from ``check`` (``lowering_advice``).
ADVICE_NODES = 200_000


def lowering_advice(model: Model, target: Target) -> str:
    """What ``--lower-opset auto`` would do to the version warnings, tried on a copy ("" if nothing).

    Only said when it clears some: the best opset is found, and the lowering is run for real on a
    copy, so the hint names an opset that works (or why it does not).
    """
    current = model.opset
    before = version_warnings(model, target, current)
    if not before:
        return ""
    opset = best_opset(model, target)
    after = version_warnings(model, target, opset)
    if opset >= current or after is None or after >= before:
        return ""
    if sum(len(scope.nodes) for scope in iter_scopes(model.proto)) > ADVICE_NODES:
        gone = before - after
        return f"fix --lower-opset auto would lower the model to opset {opset}: {gone} of {before} version warnings go"
    trial = onnx.ModelProto()
    trial.CopyFrom(model.proto)
    try:
        lower(Model(trial, model.path, model.base_dir), opset)
    except LoweringError as exc:
        return (
            f"lowering to opset {opset} would clear {before - after} of {before} version warnings, but it stops: {exc}"
        )
    left = f" ({after} left)" if after else ""
    gone = before - after
    return f"fix --lower-opset auto lowers the model to opset {opset}: {gone} of {before} version warnings go{left}"


def lower(model: Model, opset: int) -> Lowering:
    """Rewrite ``model`` in place to ai.onnx ``opset``; raises LoweringError naming the first blocker."""
    current = model.opset
    if opset > current:
        raise LoweringError(
            f"{model.name}: opset {opset} is higher than the model's {current}; to go up, use --raise-opset"
        )
    if opset < LOWEST:
        raise LoweringError(f"opset {opset}: lowering below {LOWEST} is not supported")
    return _change(model, opset)


def raise_opset(model: Model, opset: int) -> Lowering:
    """Rewrite ``model`` in place up to ai.onnx ``opset``; raises LoweringError naming the first blocker.

    To use Gelu-20, say, or reach versions a profile lists; all or nothing, like ``lower``.

    Adapters for the ops whose form or meaning changed on the way up: reduction and squeeze axes and
    split sizes from attributes to inputs, Split-18's num_outputs, the Softmax family's axis (13),
    Dropout's ratio (12), RoiAlign's coordinate mode (16: the default changed), GridSample's mode
    names (20). GroupNormalization (21: per-channel scale) and deprecated ops are refused.
    """
    current = model.opset
    if opset < current:
        raise LoweringError(f"{model.name}: opset {opset} is lower than the model's {current}; use --lower-opset")
    if current < LOWEST:
        raise LoweringError(f"{model.name}: raising from opset {current} (below {LOWEST}) is not supported")
    if opset > HIGHEST:
        raise LoweringError(f"opset {opset}: the highest this onnx knows is {HIGHEST}")
    return _change(model, opset)


def _change(model: Model, opset: int) -> Lowering:
    current = model.opset
    report = Lowering(current, opset)
    if opset == current:
        return report
    up = opset > current
    # All or nothing: adapt a copy, and take it only when every node could be changed.
    work = onnx.ModelProto()
    work.CopyFrom(model.proto)
    # Types, shapes and constants are read from the model as it was (the same names): halfway through,
    # the copy's nodes are at mixed versions, where shape inference fails.
    types = TypeIndex(model.proto)
    from opswap.legalize import unused_token

    names = NameGen(token=unused_token(work)) if up else None
    for scope in iter_scopes(work):
        if scope.opsets.get("", current) != current:
            raise LoweringError(f"{scope.path}: its ai.onnx opset differs from the model's")
        inserted: dict[int, list[onnx.NodeProto]] = {}
        for index, node in enumerate(list(scope.nodes)):
            if node.domain not in ("", "ai.onnx"):
                continue
            old, new = since_version(node.op_type, "", current), since_version(node.op_type, "", opset)
            where = f"{scope.path}/{node_label(node, index)}"
            if new is None:
                raise LoweringError(f"{where}: {node.op_type} does not exist at opset {opset}")
            if old == new:
                continue
            if up:
                assert names is not None
                constants = _Constants(scope, names)
                _adapt_up(node, int(old or 0), new, types, where, constants)
                if constants.nodes:
                    inserted[index] = [*constants.nodes, node]
            else:
                _adapt(node, int(old or 0), new, types, where)
                _drop_new_defaults(node, int(old or 0), new)
            _check_structure(node, new, where)
            report.adapted[node.op_type] = report.adapted.get(node.op_type, 0) + 1
        if inserted:
            splice(scope.nodes, inserted)
    _set_opset(work, opset)
    model.proto.CopyFrom(work)
    return report


class _Constants:
    """New constant inputs for one node: initializers in a graph, Constant nodes before it in a function."""

    def __init__(self, scope: Scope, names: NameGen) -> None:
        self._scope = scope
        self._names = names
        self.nodes: list[onnx.NodeProto] = []

    def add(self, value: np.ndarray) -> str:
        name = self._names.fresh("opswap_opset")
        tensor = numpy_helper.from_array(value, name)
        owner = self._scope.owner
        if isinstance(owner, onnx.GraphProto):
            owner.initializer.append(tensor)
        else:
            node = helper.make_node("Constant", [], [name], name=name, value=tensor)
            owner.node.append(node)  # spliced in before its reader
            self.nodes.append(node)
        return name


def _set_opset(proto: onnx.ModelProto, opset: int) -> None:
    for imports in [proto.opset_import, *(f.opset_import for f in proto.functions)]:
        for entry in imports:
            if entry.domain in ("", "ai.onnx"):
                entry.version = opset


def _attr(node: onnx.NodeProto, name: str) -> onnx.AttributeProto | None:
    return next((a for a in node.attribute if a.name == name), None)


def _drop_attr(node: onnx.NodeProto, name: str, allowed: tuple[Any, ...], where: str) -> None:
    """Remove an attribute the lower version lacks, if its value means what the lower version does."""
    attr = _attr(node, name)
    if attr is None:
        return
    value = helper.get_attribute_value(attr)
    if value not in allowed:
        raise LoweringError(f"{where}: {node.op_type} with {name}={value} has no equivalent at the lower opset")
    node.attribute.remove(attr)


def _input_to_attr(
    node: onnx.NodeProto, position: int, name: str, types: TypeIndex, where: str, *, floating: bool = False
) -> None:
    """Move a constant input (axes, split sizes; a ratio when ``floating``) into the attribute older versions take."""
    if len(node.input) <= position or not node.input[position]:
        return
    value = types.const(node.input[position])
    if value is None:
        raise LoweringError(f"{where}: {node.op_type}'s {name} is computed, not constant; older versions need it fixed")
    if floating:
        node.attribute.append(helper.make_attribute(name, float(np.asarray(value).item())))
        del node.input[position:]
        return
    values = [int(v) for v in np.asarray(value).ravel()]
    if values:
        node.attribute.append(helper.make_attribute(name, values))
    else:
        # Empty axes reduce over every axis, as no attribute does, unless the node asks for a no-op.
        noop = _attr(node, "noop_with_empty_axes")
        if noop is not None and noop.i:
            raise LoweringError(f"{where}: {node.op_type} with empty axes as a no-op has no older equivalent")
    del node.input[position:]


def _adapt(node: onnx.NodeProto, old: int, new: int, types: TypeIndex, where: str) -> None:
    """Write ``node`` (at opset ``old``) in its form at the lower opset ``new`` (see ``forms``)."""
    for entry in forms.moved(node.op_type):
        if forms.between(entry.since, new, old):
            if entry.kind == "bound":
                raise LoweringError(f"{where}: {node.op_type}'s {entry.name} input has no attribute form here")
            _input_to_attr(node, entry.position, entry.name, types, where, floating=entry.kind == "float")
    for _, fn in forms.adapters(node.op_type, old, new):
        fn(node, types, where)


def _adapt_up(node: onnx.NodeProto, old: int, new: int, types: TypeIndex, where: str, constants: _Constants) -> None:
    """Write ``node`` (at opset ``old``) in its form at the higher opset ``new`` (see ``forms``)."""
    if onnx.defs.get_schema(node.op_type, new, "").deprecated:
        raise LoweringError(f"{where}: {node.op_type} is deprecated at opset {new}")
    for entry in forms.moved(node.op_type):
        attr = _attr(node, entry.name)
        if not forms.between(entry.since, old, new) or attr is None:
            continue
        if entry.kind == "ints":
            _attr_to_input(node, entry.name, entry.position, np.asarray(list(attr.ints), dtype=np.int64), constants)
        elif entry.kind == "float":
            _attr_to_input(node, entry.name, entry.position, np.asarray(attr.f, dtype=np.float32), constants)
        else:
            raise LoweringError(f"{where}: {node.op_type}'s {entry.name} needs its input's element type to move")
    for _, fn in forms.adapters(node.op_type, old, new):
        fn(node, types, where)


def _attr_to_input(node: onnx.NodeProto, name: str, position: int, value: np.ndarray, constants: _Constants) -> None:
    """Move an attribute's value into the constant input newer versions take at ``position``."""
    attr = _attr(node, name)
    if attr is None:
        return
    node.attribute.remove(attr)
    while len(node.input) < position:
        node.input.append("")
    node.input.insert(position, constants.add(value))


# --- adapters, per op and boundary (forms.CHANGED says what changed) --------------------------------


@forms.adapter(("ReduceSum",), 13, "down")
@forms.adapter(forms.REDUCTIONS_WITH_AXES_AT_18, 18, "down")
def _reduce_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types  # the axes move by the table; the no-op flag has no older form
    _drop_attr(node, "noop_with_empty_axes", (0,), where)


@forms.adapter("Split", 18, "down")
def _split_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types
    _drop_attr_if_divisible(node, where)


@forms.adapter("Split", 18, "up")
def _split_up(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types, where
    has_sizes = len(node.input) > 1 and bool(node.input[1])
    if not has_sizes and _attr(node, "num_outputs") is None:
        node.attribute.append(helper.make_attribute("num_outputs", len(node.output)))


@forms.adapter(("Softmax", "LogSoftmax", "Hardmax"), 13, "down")
def _softmax_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    _softmax_axis(node, types, where, old_default=-1, change="changes meaning before opset 13")


@forms.adapter(("Softmax", "LogSoftmax", "Hardmax"), 13, "up")
def _softmax_up(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    _softmax_axis(node, types, where, old_default=1, change="changes meaning at opset 13")


@forms.adapter("Reshape", 14, "down")
def _reshape_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    shape = types.const(node.input[1])
    if shape is not None and not np.any(np.asarray(shape) == 0):
        _drop_attr(node, "allowzero", (0, 1), where)  # no zero in the shape: allowzero changes nothing
    else:
        _drop_attr(node, "allowzero", (0,), where)


@forms.adapter("BatchNormalization", 14, "down")
def _batchnorm_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types
    _drop_attr(node, "training_mode", (0,), where)
    if len([o for o in node.output if o]) > 1:
        raise LoweringError(f"{where}: BatchNormalization with running statistics outputs")


@forms.adapter("Cast", 19, "down")
def _cast_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types
    _drop_attr(node, "saturate", (1,), where)


@forms.adapter("Shape", 15, "down")
def _shape_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types
    _drop_attr(node, "start", (0,), where)
    _drop_attr(node, "end", (), where)


@forms.adapter("Pad", 18, "down")
def _pad_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types
    if len(node.input) > 3 and node.input[3]:
        raise LoweringError(f"{where}: Pad with axes has no equivalent before opset 18")
    mode = _attr(node, "mode")
    if mode is not None and mode.s == b"wrap":
        raise LoweringError(f"{where}: Pad mode 'wrap' has no equivalent before opset 19")


@forms.adapter("Constant", 12, "down")
def _constant_down(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types, where
    _constant_as_tensor(node)


@forms.adapter("RoiAlign", 16, "up")
def _roialign_up(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types, where
    if _attr(node, "coordinate_transformation_mode") is None:
        # RoiAlign-16 added the mode with default half_pixel; before, it was output_half_pixel.
        node.attribute.append(helper.make_attribute("coordinate_transformation_mode", "output_half_pixel"))


@forms.adapter("Resize", 13, "up")
def _resize_up(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types
    mode = _attr(node, "coordinate_transformation_mode")
    if mode is not None and mode.s == b"tf_half_pixel_for_nn":
        raise LoweringError(f"{where}: Resize mode tf_half_pixel_for_nn was removed at opset 13")


@forms.adapter("GridSample", 20, "up")
def _gridsample_up(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types, where
    mode = _attr(node, "mode")
    if mode is not None:
        mode.s = {b"bilinear": b"linear", b"bicubic": b"cubic"}.get(mode.s, mode.s)


@forms.adapter("GroupNormalization", 21, "up")
def _groupnorm_up(node: onnx.NodeProto, types: TypeIndex, where: str) -> None:
    del types
    raise LoweringError(f"{where}: GroupNormalization's scale and bias are per group before 21, per channel after")


def _drop_attr_if_divisible(node: onnx.NodeProto, where: str) -> None:
    # Split-18's num_outputs equals Split-13's even split when the axis divides evenly; verification checks it.
    attr = _attr(node, "num_outputs")
    if attr is not None:
        if attr.i != len(node.output):
            raise LoweringError(f"{where}: Split num_outputs differs from its outputs")
        node.attribute.remove(attr)


def _softmax_axis(node: onnx.NodeProto, types: TypeIndex, where: str, old_default: int, change: str) -> None:
    """Set the Softmax family's axis to -1, where that means the same on both sides of opset 13.

    Before 13 the op works on the input flattened to 2-D at ``axis`` (default 1); from 13 on, on that
    one axis (default -1): the same only on the last axis. ``old_default``: the default of the
    version the node is at now.
    """
    attr = _attr(node, "axis")
    axis = attr.i if attr is not None else old_default
    shape = types.shape(node.input[0])
    if not (axis == -1 or (shape is not None and axis == len(shape) - 1)):
        raise LoweringError(f"{where}: {node.op_type} over axis {axis} (not the last) {change}")
    if attr is None:
        node.attribute.append(helper.make_attribute("axis", -1))
    else:
        attr.i = -1


def _constant_as_tensor(node: onnx.NodeProto) -> None:
    attr = node.attribute[0]
    values = {
        "value_float": np.asarray(attr.f, dtype=np.float32),
        "value_floats": np.asarray(list(attr.floats), dtype=np.float32),
        "value_int": np.asarray(attr.i, dtype=np.int64),
        "value_ints": np.asarray(list(attr.ints), dtype=np.int64),
    }
    if attr.name in values:
        tensor = numpy_helper.from_array(np.asarray(values[attr.name]))
        del node.attribute[:]
        node.attribute.append(helper.make_attribute("value", tensor))


def _drop_new_defaults(node: onnx.NodeProto, old: int, new: int) -> None:
    """Remove attributes the lower version lacks that are set to their default in the higher one.

    ONNX adds attributes with defaults that keep the earlier behaviour (Resize-18's antialias = 0 and
    keep_aspect_ratio_policy = "stretch", which the dynamo exporter writes out): at the default, the
    node means what the lower version does without them. Other values stay, and are refused by
    ``_check_structure``.
    """
    if not old:
        return
    try:
        higher, lower_schema = onnx.defs.get_schema(node.op_type, old, ""), onnx.defs.get_schema(node.op_type, new, "")
    except onnx.defs.SchemaError:
        return
    for attr in list(node.attribute):
        if attr.name in lower_schema.attributes or attr.name not in higher.attributes:
            continue
        default = higher.attributes[attr.name].default_value
        if default.name and helper.get_attribute_value(attr) == helper.get_attribute_value(default):
            node.attribute.remove(attr)


def _check_structure(node: onnx.NodeProto, version: int, where: str) -> None:
    schema = onnx.defs.get_schema(node.op_type, version, "")
    unknown = [a.name for a in node.attribute if a.name not in schema.attributes]
    if unknown:
        raise LoweringError(f"{where}: {node.op_type}-{version} has no attribute {', '.join(unknown)}")
    if len(node.input) > schema.max_input:
        raise LoweringError(f"{where}: {node.op_type}-{version} takes at most {schema.max_input} inputs")
