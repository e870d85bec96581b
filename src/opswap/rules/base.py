"""Rules, their registry, and the builder a rule writes its replacement with.

A rule rewrites one source op into a small subgraph and reads like the formula it stands for::

    @rule("HardSwish")
    def hardswish_via_hardsigmoid(op, x):
        return op.Mul(x, op.HardSigmoid(x, alpha=1 / 6, beta=0.5))

``op.<OpType>(inputs..., attr=value)`` emits a node and returns its output. A Python number among the
inputs becomes a constant in the dtype of the node's first tensor input, so 1/6 is the input dtype's
nearest value to 1/6, never 0.167. Rules work on protobuf nodes directly (no IR objects): only the
nodes that change are ever built.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import onnx
from onnx import helper


@dataclass(frozen=True)
class Value:
    """A tensor a rule computes with: its name in the graph and its element type."""

    name: str
    dtype: int


Input = Value | float | int | None


class RuleNotApplicable(Exception):
    """Raised by a rule when the node is outside what the rule handles (reason in the message)."""


class ConstantPool:
    """Where constants go: shared initializers in graphs, Constant nodes in function bodies."""

    def __init__(self, graph: onnx.GraphProto | None, names: NameGen) -> None:
        self._graph = graph
        self._names = names
        self._cache: dict[tuple[int, tuple[int, ...], bytes], str] = {}
        self.added: list[str] = []

    def get(self, tensor: onnx.TensorProto) -> str:
        """Name of an initializer holding ``tensor``'s value; equal constants are stored once."""
        key = (tensor.data_type, tuple(tensor.dims), tensor.SerializeToString())
        name = self._cache.get(key)
        if name is None:
            name = self._names.fresh("opswap_const")
            if self._graph is not None:
                tensor.name = name
                self._graph.initializer.append(tensor)
            self._cache[key] = name
            self.added.append(name)
        return name


class NameGen:
    """Fresh value and node names that collide with nothing already in the model."""

    def __init__(self, used: Iterable[str] = ()) -> None:
        self._used = set(used)
        self._counters: dict[str, int] = {}

    def fresh(self, base: str) -> str:
        """A new name starting with ``base``."""
        k = self._counters.get(base, 0)
        while True:
            name = f"{base}_{k}"
            k += 1
            if name not in self._used:
                self._used.add(name)
                self._counters[base] = k
                return name


class Builder:
    """What a rule calls ``op``: emits nodes for one rewrite and remembers their output dtypes."""

    def __init__(
        self,
        opset: int,
        names: NameGen,
        constants: ConstantPool | None,
        prefix: str,
        dtypes: dict[str, int] | None = None,
    ) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        #: Element types of the values this builder produced (and of the rule's inputs).
        self.dtypes: dict[str, int] = dict(dtypes or {})
        self._names = names
        self._constants = constants
        self._prefix = prefix

    def __getattr__(self, op_type: str) -> Callable[..., Any]:
        if not op_type[:1].isupper():
            raise AttributeError(op_type)
        return functools.partial(self.emit, op_type)

    def emit(self, op_type: str, *inputs: Input, _outputs: int = 1, _dtype: int | None = None, **attrs: Any) -> Any:
        """Emit one ai.onnx node; numbers among ``inputs`` become constants of the tensor inputs' dtype."""
        like = next((i.dtype for i in inputs if isinstance(i, Value)), None)
        names = [self._input_name(i, like) for i in inputs]
        outputs = [self._names.fresh(f"{self._prefix}/{op_type}") for _ in range(_outputs)]
        node = helper.make_node(op_type, names, outputs, name=outputs[0], **attrs)
        self.nodes.append(node)
        dtype = _dtype if _dtype is not None else like
        values = [Value(o, dtype if dtype is not None else onnx.TensorProto.UNDEFINED) for o in outputs]
        for v in values:
            self.dtypes[v.name] = v.dtype
        return values[0] if _outputs == 1 else tuple(values)

    def constant(self, value: float | int, dtype: int) -> Value:
        """A scalar constant of element type ``dtype``."""
        tensor = helper.make_tensor("", dtype, [], [value])
        if self._constants is None:
            out = self._names.fresh(f"{self._prefix}/Constant")
            self.nodes.append(helper.make_node("Constant", [], [out], name=out, value=tensor))
            name = out
        else:
            name = self._constants.get(tensor)
        self.dtypes[name] = dtype
        return Value(name, dtype)

    def clip(self, x: Value, low: float, high: float) -> Value:
        """``Clip`` with constant bounds, as attributes before opset 11 and as inputs from 11 on."""
        if self.opset < 11:
            return self.emit("Clip", x, min=float(low), max=float(high))  # type: ignore[no-any-return]
        return self.emit("Clip", x, low, high)  # type: ignore[no-any-return]

    def _input_name(self, value: Input, like: int | None) -> str:
        if value is None:
            return ""
        if isinstance(value, Value):
            return value.name
        if like is None:
            raise RuleNotApplicable("a constant needs a tensor input to take its dtype from")
        return self.constant(value, like).name


@dataclass(frozen=True)
class Rule:
    """A rewrite of one source op into ops a target may accept."""

    id: str
    op_type: str
    fn: Callable[..., Any] = field(repr=False)
    domain: str = ""
    #: Equal to the source op up to floating-point rounding (a few ULP).
    exact: bool = True
    #: For approximate rules: the stated error bound, in words.
    bound: str = ""
    #: Versions of the source op the rule implements; None for all.
    opsets: tuple[int, ...] | None = None
    doc: str = ""

    def apply(self, op: Builder, inputs: list[Value | None], attrs: dict[str, Any]) -> Any:
        """Run the rule; its keyword parameters receive the node's attributes."""
        accepted = inspect.signature(self.fn).parameters
        unknown = [a for a in attrs if a not in accepted]
        if unknown:
            raise RuleNotApplicable(f"attribute {', '.join(unknown)} not handled by {self.id}")
        return self.fn(op, *inputs, **attrs)


REGISTRY: dict[tuple[str, str], list[Rule]] = {}


def rule(
    op_type: str,
    *,
    exact: bool = True,
    bound: str = "",
    opsets: tuple[int, ...] | None = None,
    domain: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a rule for ``op_type``; the function's name is the rule id."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not exact and not bound:
            raise ValueError(f"approximate rule {fn.__name__} must state its error bound")
        doc = inspect.getdoc(fn) or ""
        entry = Rule(fn.__name__, op_type, fn, domain, exact, bound, opsets, doc.splitlines()[0] if doc else "")
        REGISTRY.setdefault((domain, op_type), []).append(entry)
        return fn

    return register


def rules_for(op_type: str, domain: str = "") -> list[Rule]:
    """The registered rules whose source op is ``op_type``."""
    _load_rule_modules()
    return REGISTRY.get(("" if domain == "ai.onnx" else domain, op_type), [])


def all_rules() -> list[Rule]:
    """Every registered rule, by source op then id."""
    _load_rule_modules()
    return sorted((r for rules in REGISTRY.values() for r in rules), key=lambda r: (r.op_type, r.id))


@functools.cache
def _load_rule_modules() -> None:
    from opswap.rules import activations  # noqa: F401  (registers its rules on import)


def emitted_ops(entry: Rule, opset: int = 14, dtype: int = onnx.TensorProto.FLOAT) -> list[str]:
    """The op types a rule emits for a single-input node with default attributes."""
    op = Builder(opset, NameGen(), ConstantPool(None, NameGen()), "x")
    entry.apply(op, [Value("x", dtype)], {})
    return sorted({n.op_type for n in op.nodes})
