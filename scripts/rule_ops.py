"""Write ``src/opswap/rules/ops.py``: one typed method per ai.onnx op, what a rule calls as ``op.X``.

The methods come from the installed onnx's op schemas (every version of each op): inputs positional,
in the newest version's order (optional ones default to None, a variadic one is ``*name``);
attributes keyword-only, typed by their attribute type, the union over the op's versions (an input
that was an attribute before, such as Clip's ``min``, gets a trailing ``_``). An op with more than one
output in some version returns a tuple and takes ``outputs=`` (how many). Run
``python scripts/rule_ops.py`` after upgrading onnx; ``tests/test_rule_ops.py`` fails while the
shipped file differs from what this writes.
"""

from __future__ import annotations

import keyword
import sys
from collections import defaultdict
from pathlib import Path

import onnx
from onnx.defs import OpSchema

TARGET = Path(__file__).resolve().parent.parent / "src" / "opswap" / "rules" / "ops.py"

_ATTRIBUTE_TYPES = {
    OpSchema.AttrType.FLOAT: "float",
    OpSchema.AttrType.INT: "int",
    OpSchema.AttrType.STRING: "str | bytes",
    OpSchema.AttrType.TENSOR: "onnx.TensorProto",
    OpSchema.AttrType.GRAPH: "onnx.GraphProto",
    OpSchema.AttrType.FLOATS: "Sequence[float]",
    OpSchema.AttrType.INTS: "Sequence[int]",
    OpSchema.AttrType.STRINGS: "Sequence[str | bytes]",
    OpSchema.AttrType.TENSORS: "Sequence[onnx.TensorProto]",
    OpSchema.AttrType.GRAPHS: "Sequence[onnx.GraphProto]",
}

_HEADER = '''"""Typed ``op.<OpType>`` methods for rules: one per ai.onnx op of onnx {version}.

Written by ``scripts/rule_ops.py`` from onnx's op schemas; do not edit (``tests/test_rule_ops.py``
holds it equal to what the script writes). Inputs are positional: a Python number becomes a constant
of the tensor inputs' element type, None an omitted optional input. Attributes are keyword-only and
are the union over the op's versions: the builder emits the op at the model's opset, and an
attribute that version does not have is the checker's error. An op with more than one output in
some version returns a tuple; ``outputs`` says how many are wanted.
"""

# ruff: noqa: E741

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import onnx

from opswap.rules.values import Input, Value


def _present(*inputs: Input) -> tuple[Input, ...]:
    """The inputs without trailing omitted ones (ONNX lets trailing optional inputs be left out)."""
    end = len(inputs)
    while end and inputs[end - 1] is None:
        end -= 1
    return inputs[:end]


def _given(**attributes: Any) -> dict[str, Any]:
    """The attributes a call sets (None: not set, the op's default applies)."""
    return {{name: value for name, value in attributes.items() if value is not None}}


class Ops:
    """The ai.onnx ops as methods; a subclass says how one node is emitted (``emit``, ``emit_many``)."""

    def emit(self, op_type: str, *inputs: Input, **attributes: Any) -> Value:
        """Emit one node with one output and return it."""
        raise NotImplementedError

    def emit_many(self, op_type: str, *inputs: Input, outputs: int, **attributes: Any) -> tuple[Value, ...]:
        """Emit one node with ``outputs`` outputs and return them."""
        raise NotImplementedError
'''


def _identifier(name: str, taken: set[str]) -> str:
    name = (
        name
        if name.isidentifier() and not keyword.iskeyword(name)
        else "".join(c if c.isalnum() else "_" for c in name)
    )
    while name in taken or keyword.iskeyword(name) or name in ("self", "outputs"):
        name += "_"
    return name


def _method(name: str, versions: list[OpSchema]) -> str:
    newest = versions[-1]
    attributes: dict[str, OpSchema.AttrType] = {}
    for schema in versions:  # oldest first: the newest version's type wins
        for attr_name, attr in schema.attributes.items():
            attributes[attr_name] = attr.type
    taken = set(attributes)
    params, passed, variadic = ["self"], [], False
    for k, formal in enumerate(newest.inputs):
        ident = _identifier(formal.name, taken)
        taken.add(ident)
        if formal.option == OpSchema.FormalParameterOption.Variadic:
            params.append(f"*{ident}: Input")
            passed.append(f"*{ident}")
            variadic = True
        else:
            optional = formal.option == OpSchema.FormalParameterOption.Optional or k >= newest.min_input
            params.append(f"{ident}: Input" + (" = None" if optional else ""))
            passed.append(ident)
    if newest.inputs and not variadic:
        params.append("/")
    many = max(s.max_output for s in versions) > 1
    keywords = [f"{a}: {_ATTRIBUTE_TYPES.get(t, 'Any')} | None = None" for a, t in sorted(attributes.items())]
    if many:
        keywords.append(f"outputs: int = {max(newest.min_output, 1)}")
    if keywords and not variadic:
        params.append("*")
    params += keywords
    since = ", ".join(str(s.since_version) for s in versions)
    lines = ["    def " + name + "(", *[f"        {p}," for p in params]]
    lines.append("    ) -> tuple[Value, ...]:" if many else "    ) -> Value:")
    lines.append(f'        """``{name}`` (versions {since})."""')
    call_inputs = f"*_present({', '.join(passed)})" if passed else ""
    head = f'"{name}"' + (f", {call_inputs}" if call_inputs else "")
    if attributes:
        lines.append("        attributes = _given(")
        lines += [f"            {a}={a}," for a in sorted(attributes)]
        lines.append("        )")
        tail = ", outputs=outputs, **attributes" if many else ", **attributes"
    else:
        tail = ", outputs=outputs" if many else ""
    call = f"        return self.{'emit_many' if many else 'emit'}("
    if len(call) + len(head) + len(tail) + 1 <= 120:
        lines.append(f"{call}{head}{tail})")
    else:  # one argument per line, with the trailing comma that keeps ruff's format so
        arguments = [f'"{name}"', *([call_inputs] if call_inputs else []), *[t for t in tail.split(", ") if t]]
        lines += [call, *[f"            {a}," for a in arguments], "        )"]
    return "\n".join(lines)


def text() -> str:
    """The module ``scripts/rule_ops.py`` writes, for the installed onnx."""
    by_name: dict[str, list[OpSchema]] = defaultdict(list)
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain == "" and not schema.deprecated:
            by_name[schema.name].append(schema)
    methods = [_method(name, sorted(v, key=lambda s: s.since_version)) for name, v in sorted(by_name.items())]
    return _HEADER.format(version=onnx.__version__) + "\n" + "\n\n".join(methods) + "\n"


if __name__ == "__main__":
    TARGET.write_text(text(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
