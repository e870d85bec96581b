"""Facts read from ONNX's own op schemas: versions in force, output element types, version-sensitive forms."""

from __future__ import annotations

import functools
from collections.abc import Callable

import onnx

_TYPE_NAMES = {
    f"tensor({name})": value
    for name, value in {
        "float": onnx.TensorProto.FLOAT,
        "double": onnx.TensorProto.DOUBLE,
        "float16": onnx.TensorProto.FLOAT16,
        "bfloat16": onnx.TensorProto.BFLOAT16,
        "bool": onnx.TensorProto.BOOL,
        "int64": onnx.TensorProto.INT64,
        "int32": onnx.TensorProto.INT32,
        "int8": onnx.TensorProto.INT8,
        "uint8": onnx.TensorProto.UINT8,
        "string": onnx.TensorProto.STRING,
    }.items()
}


@functools.lru_cache(maxsize=8192)
def since_version(op_type: str, domain: str, opset: int) -> int | None:
    """The version of ``op_type`` in force at ``opset`` (None if onnx has no such op then)."""
    try:
        return int(onnx.defs.get_schema(op_type, opset, domain).since_version)
    except onnx.defs.SchemaError:
        return None


@functools.lru_cache(maxsize=4096)
def output_type_sources(op_type: str, domain: str, opset: int) -> tuple[tuple[tuple[int, ...], int | None], ...]:
    """Per output: the input positions sharing its type parameter, and its fixed type if it has one.

    Read from the schema's type constraints: an output typed ``T`` has the type of the inputs typed
    ``T``; an output whose constraint allows one type only (``tensor(bool)``) has that type.
    """
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return ()
    allowed = {c.type_param_str: list(c.allowed_type_strs) for c in schema.type_constraints}
    inputs = [i.type_str for i in schema.inputs]
    result = []
    for out in schema.outputs:
        same = tuple(k for k, type_str in enumerate(inputs) if type_str == out.type_str)
        options = allowed.get(out.type_str, [out.type_str])
        fixed = _TYPE_NAMES.get(options[0]) if len(options) == 1 else None
        result.append((same, fixed))
    return tuple(result)


#: Ops whose output element type an attribute sets: the attribute, and the type when it is absent
#: (None: the first input's).
_TYPE_ATTRIBUTE: dict[str, tuple[str, int | None]] = {
    "Cast": ("to", None),
    "ConstantOfShape": ("value", onnx.TensorProto.FLOAT),
    "EyeLike": ("dtype", None),
    "RandomNormal": ("dtype", onnx.TensorProto.FLOAT),
    "RandomUniform": ("dtype", onnx.TensorProto.FLOAT),
    "RandomNormalLike": ("dtype", None),
    "RandomUniformLike": ("dtype", None),
    "Multinomial": ("dtype", onnx.TensorProto.INT32),
}
#: The ops whose output type an attribute sets (read the attribute only for these).
TYPED_BY_ATTRIBUTE = frozenset(_TYPE_ATTRIBUTE)


def output_dtypes(
    op_type: str,
    domain: str,
    opset: int,
    input_dtypes: list[int | None],
    attribute: Callable[[str], object] = lambda name: None,
) -> list[int | None]:
    """Element types of a node's outputs from its inputs' and, where one sets it, an attribute's.

    ``attribute(name)`` gives the node's attribute value (a TensorProto for ``value``) or None.
    """
    if op_type in _TYPE_ATTRIBUTE and domain in ("", "ai.onnx"):
        name, default = _TYPE_ATTRIBUTE[op_type]
        value = attribute(name)
        if isinstance(value, onnx.TensorProto):
            return [int(value.data_type)]
        if isinstance(value, int):
            return [value]
        if default is None and op_type != "Cast":
            return [input_dtypes[0] if input_dtypes else None]
        return [default]
    if op_type == "CastLike" and domain == "":
        return [input_dtypes[1] if len(input_dtypes) > 1 else None]
    result: list[int | None] = []
    for same, fixed in output_type_sources(op_type, domain, opset):
        dtype = fixed
        for k in same:
            if dtype is None and k < len(input_dtypes) and input_dtypes[k]:
                dtype = input_dtypes[k]
        result.append(dtype)
    return result
