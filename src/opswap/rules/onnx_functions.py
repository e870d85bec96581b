"""Routes the standard itself gives: ops ONNX defines as functions of other ops.

``onnx.defs`` carries a function body for many ops (``schema.function_body``) and a body built per
node for others (context-dependent functions: Softmax, LayerNormalization, Gelu, ...). Each becomes a
rule here, registered for every op that has one, so nothing the standard already defines is written
again by hand.

A body is written at its own opset (often 18, with ``CastLike`` and reduction axes as inputs). Its
``Constant`` and ``CastLike``-of-constant nodes are folded into typed constants (the input dtype is
known), and each remaining node is re-emitted through the builder, which writes the form in force at
the model's opset (reduction axes as attribute or input, Clip bounds as attributes or inputs). A body
that needs a form with no equivalent at the model's opset is reported as not applicable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from opswap import forms
from opswap.rules.base import REGISTRY, Builder, Rule
from opswap.rules.certificates import describe, is_exact, recorded
from opswap.rules.values import RuleNotApplicable, Value
from opswap.schemas import since_version

#: Bodies not worth a route: training losses, random ops, windows, and ops on sequences.
_SKIP = {
    "Bernoulli", "SequenceMap", "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss",
    "BlackmanWindow", "HammingWindow", "HannWindow", "DynamicQuantizeLinear", "CastLike",
}  # fmt: skip

Const = np.ndarray


def _body(
    op_type: str, opset: int, attrs: dict[str, Any], input_dtypes: list[int | None], n_outputs: int
) -> onnx.FunctionProto:
    try:
        schema: Any = onnx.defs.get_schema(op_type, opset, "")  # the stubs lack the function accessors
    except onnx.defs.SchemaError:
        raise RuleNotApplicable(f"{op_type} does not exist at opset {opset}") from None
    if schema.has_function:
        versions = list(schema.function_opset_versions)
    elif schema.has_context_dependent_function:
        versions = list(schema.context_dependent_function_opset_versions)
    else:
        raise RuleNotApplicable(f"ONNX defines no function body for {op_type}-{schema.since_version}")
    usable = [v for v in versions if v <= opset]
    version = max(usable) if usable else min(versions)
    if schema.has_function:
        raw = schema.get_function_with_opset_version(version)
    else:
        # Absent optional inputs stay absent and only the outputs used are asked for: context-dependent
        # bodies are built for the node's own inputs and outputs.
        names = [f"in{k}" if d is not None else "" for k, d in enumerate(input_dtypes)]
        node = helper.make_node(op_type, names, [f"out{k}" for k in range(n_outputs)], **attrs)
        types = [
            helper.make_tensor_type_proto(d or onnx.TensorProto.UNDEFINED, None).SerializeToString()
            for d in input_dtypes
        ]
        raw = schema.get_context_dependent_function_with_opset_version(version, node.SerializeToString(), types)
    if not raw:
        raise RuleNotApplicable(f"ONNX gives no function body for {op_type} with these attributes")
    body = raw if isinstance(raw, onnx.FunctionProto) else onnx.FunctionProto.FromString(raw)
    return body


def _attr_value(attr: onnx.AttributeProto, caller: dict[str, Any], defaults: dict[str, Any]) -> Any:
    if attr.ref_attr_name:
        name = attr.ref_attr_name
        if name in caller:
            return caller[name]
        if name in defaults:
            return defaults[name]
        return None
    return helper.get_attribute_value(attr)


def _constant_value(attrs: dict[str, Any]) -> Const:
    ((name, value),) = attrs.items()
    if name == "value":
        return numpy_helper.to_array(value)
    if name in ("value_float", "value_floats"):
        return np.asarray(value, dtype=np.float32)
    if name in ("value_int", "value_ints"):
        return np.asarray(value, dtype=np.int64)
    raise RuleNotApplicable(f"Constant with {name} in ONNX's body is not supported")


def expand(
    op_type: str, op: Builder, inputs: list[Value | None], attrs: dict[str, Any], n_outputs: int
) -> tuple[Value | None, ...]:
    """Emit ONNX's function body for ``op_type`` on ``inputs``; return the body's first ``n_outputs``."""
    input_dtypes = [i.dtype if i is not None else None for i in inputs]
    body = _body(op_type, op.opset, attrs, input_dtypes, n_outputs)
    body_opset = next((int(o.version) for o in body.opset_import if o.domain in ("", "ai.onnx")), op.opset)
    schema = onnx.defs.get_schema(op_type, op.opset, "")
    defaults = {
        name: helper.get_attribute_value(a.default_value)
        for name, a in schema.attributes.items()
        if a.default_value.name
    }
    # A formal input the node leaves out is an absent optional input: body nodes reading it get "".
    env: dict[str, Value | Const | None] = dict.fromkeys(body.input)
    for formal, actual in zip(body.input, inputs, strict=False):
        env[formal] = actual
    for node in body.node:
        if node.domain not in ("", "ai.onnx"):
            raise RuleNotApplicable(f"ONNX's body uses {node.domain}:{node.op_type}")
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise RuleNotApplicable(f"ONNX's body for {op_type} uses control flow ({node.op_type})")
        node_attrs = {a.name: v for a in node.attribute if (v := _attr_value(a, attrs, defaults)) is not None}
        if any(name and name not in env for name in node.input):
            raise RuleNotApplicable(f"ONNX's body for {op_type} reads a value it does not define")
        args = [env[name] if name else None for name in node.input]
        while args and args[-1] is None:
            args.pop()
        outs = _emit_body_node(op, node.op_type, args, node_attrs, body_opset, len(node.output))
        for name, value in zip(node.output, outs, strict=False):
            if name:
                env[name] = value
    results: list[Value | None] = []
    for name in list(body.output)[:n_outputs]:
        found = env.get(name)
        if found is None or isinstance(found, Value):
            results.append(found)  # None: the body does not compute it; fatal only if the node uses it
        else:
            results.append(op.constant(found, _onnx_dtype(found)))
    return tuple(results)


def _onnx_dtype(array: Const) -> int:
    return int(helper.np_dtype_to_tensor_dtype(array.dtype))


def _emit_body_node(
    op: Builder, op_type: str, args: list[Value | Const | None], attrs: dict[str, Any], body_opset: int, n_outputs: int
) -> tuple[Value | Const, ...]:
    """Fold what is constant, adapt version-sensitive forms, emit the rest."""
    if op_type == "Constant":
        return (_constant_value(attrs),)
    if op_type in ("CastLike", "Cast"):
        source = args[0]
        target = _onnx_dtype_of(args[1]) if op_type == "CastLike" else int(attrs["to"])
        if not target:
            raise RuleNotApplicable("CastLike to a value of unknown element type")
        if isinstance(source, np.ndarray):
            return (source.astype(helper.tensor_dtype_to_np_dtype(target)),)
        assert source is not None
        return (op.emit("Cast", source, to=target) if source.dtype != target else source,)
    tensors = [_as_value(op, a) for a in args]
    if forms.moved_axes(op_type) is not None:
        axes = attrs.pop("axes", None)
        x = tensors[0]
        assert x is not None
        if len(args) > 1 and args[1] is not None:
            if not isinstance(args[1], np.ndarray):
                if since_version(op_type, "", body_opset) == since_version(op_type, "", op.opset):
                    return (op.emit(op_type, *tensors, **attrs),)
                raise RuleNotApplicable(f"{op_type} with computed axes, in another form at opset {op.opset}")
            axes = [int(a) for a in args[1].ravel()]
        if op_type == "Squeeze":
            return (op.squeeze(x, list(axes)),) if axes is not None else (op.emit("Squeeze", x),)
        if op_type == "Unsqueeze":
            return (op.unsqueeze(x, list(axes)),)
        if axes == [] and attrs.get("noop_with_empty_axes", 0):
            return (x,)
        return (op.reduce(op_type, x, None if not axes else list(axes), **attrs),)
    if op_type == "Clip" and not forms.as_input("Clip", "min", op.opset):
        bounds = [None if a is None else float(np.asarray(a).item()) for a in args[1:3]] if len(args) > 1 else []
        if any(b is not None and not isinstance(a, np.ndarray) for a, b in zip(args[1:3], bounds, strict=False)):
            raise RuleNotApplicable("Clip with computed bounds before opset 11")
        bounds += [None] * (2 - len(bounds))
        assert tensors[0] is not None
        return (op.clip(tensors[0], bounds[0], bounds[1]),)
    written = since_version(op_type, "", body_opset)
    if forms.meaning_changed(op_type) and written != since_version(op_type, "", op.opset):
        raise RuleNotApplicable(f"ONNX's body uses {op_type}-{written}, which differs at opset {op.opset}")
    if n_outputs > 1:
        return op.emit_many(op_type, *tensors, outputs=n_outputs, **attrs)
    return (op.emit(op_type, *tensors, **attrs),)


def _onnx_dtype_of(value: Value | Const | None) -> int | None:
    if isinstance(value, np.ndarray):
        return _onnx_dtype(value)
    return value.dtype if value is not None else None


def _as_value(op: Builder, arg: Value | Const | None) -> Value | None:
    if arg is None or isinstance(arg, Value):
        return arg
    return op.constant(arg, _onnx_dtype(arg))


#: Bodies that are not unary (so not certified) but compute the op's own formula with no rewrite that
#: loses precision: data movement, comparisons, max-subtracted softmax, sums of magnitudes or squares.
_SAME_FORMULA = {
    "CenterCropPad", "Clip", "DepthToSpace", "GreaterOrEqual", "LessOrEqual", "LogSoftmax", "PRelu",
    "RMSNormalization", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceSumSquare", "Softmax", "SpaceToDepth",
    "Swish",
}  # fmt: skip

#: Bodies known to differ numerically from a kernel, and why.
_NUMERICS = {
    "LayerNormalization": "variance as E[x^2] - E[x]^2: loses precision when |mean| >> std",
    "GroupNormalization": "variance as E[x^2] - E[x]^2: loses precision when |mean| >> std",
    "MeanVarianceNormalization": "variance as E[x^2] - E[x]^2: loses precision when |mean| >> std",
    "ReduceLogSumExp": "log(sum(exp(x))) without subtracting the max: overflows for x > 709",
}


def _exactness(name: str) -> tuple[bool, str]:
    certificate = recorded().get(f"{name.lower()}_via_onnx_function")
    if certificate is not None:
        return (True, "") if is_exact(certificate) else (False, describe(certificate))
    if name in _SAME_FORMULA:
        return True, ""
    return False, _NUMERICS.get(name, "ONNX's function body; not certified against a kernel")


def _register() -> None:
    versions: dict[str, list[Any]] = {}  # every version of each ai.onnx op
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain == "":
            versions.setdefault(schema.name, []).append(schema)
    with_bodies = {n for n, v in versions.items() if any(s.has_function or s.has_context_dependent_function for s in v)}
    for name in sorted(with_bodies - _SKIP):
        REGISTRY.setdefault(("", name), []).append(
            Rule(
                id=f"{name.lower()}_via_onnx_function",
                op_type=name,
                fn=_make_fn(name),
                exact=_exactness(name)[0],
                bound=_exactness(name)[1],
                doc="ONNX's function body",
                source="onnx",
                emits=_body_ops(versions[name]),
            )
        )


def _body_ops(versions: list[Any]) -> frozenset[str] | None:
    """The ops ONNX's bodies for an op hold, over all its ``versions`` (schemas; as ``expand`` emits them).

    Constants (and casts of them) become typed constants, CastLike a Cast; None when some version's body is built
    for the node (context-dependent): what it holds depends on the node's attributes and types.
    """
    ops: set[str] = set()
    for schema in versions:
        if schema.has_context_dependent_function:
            return None
        if not schema.has_function:
            continue
        for version in schema.function_opset_versions:
            raw = schema.get_function_with_opset_version(version)
            body = raw if isinstance(raw, onnx.FunctionProto) else onnx.FunctionProto.FromString(raw)
            constants: set[str] = set()  # a Constant, and a cast of one, become typed constants
            for n in body.node:
                if n.op_type == "Constant" or (n.op_type in ("Cast", "CastLike") and n.input[0] in constants):
                    constants.update(n.output)
                else:
                    ops.add("Cast" if n.op_type == "CastLike" else n.op_type)
    return frozenset(ops)


def _make_fn(op_type: str) -> Any:
    def fn(op: Builder, *inputs: Value | None, _n_outputs: int = 1, **attrs: Any) -> tuple[Value | None, ...]:
        return expand(op_type, op, list(inputs), attrs, _n_outputs)

    return fn


_register()
