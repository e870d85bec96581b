"""Rules, their registry, and the builder a rule writes its replacement with.

A rule rewrites one source op into a small subgraph and reads like the formula it stands for::

    @rule("HardSigmoid", emits=("Add", "Clip", "Mul"))
    def hardsigmoid_via_clip(op: Builder, x: Value, *, alpha: float = 0.2, beta: float = 0.5) -> Value:
        return op.clip(op.Add(op.Mul(x, alpha), beta), 0.0, 1.0)

``op.<OpType>(inputs..., attr=value)`` (typed, one method per ai.onnx op: ``rules/ops.py``) emits a
node and returns its output. A Python number among the
inputs becomes a constant in the dtype of the node's first tensor input, so 1/6 is the input dtype's
nearest value to 1/6, never 0.167. Rules work on protobuf nodes directly (no IR objects): only the
nodes that change are ever built.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from opswap import forms
from opswap.rules.ops import Ops
from opswap.rules.values import Input, RuleNotApplicable, Value
from opswap.schemas import output_dtypes, since_version
from opswap.typeinfo import SMALL


class ConstantPool:
    """Where constants go: shared initializers in graphs, Constant nodes in function bodies."""

    def __init__(
        self,
        graph: onnx.GraphProto | None,
        names: NameGen,
        ir_version: int = 10,
    ) -> None:
        self._graph = graph
        self._names = names
        #: Before IR 4 every initializer must also be declared as a graph input.
        self.declares_inputs = ir_version < 4
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
                if self.declares_inputs:
                    self._graph.input.append(helper.make_tensor_value_info(name, tensor.data_type, list(tensor.dims)))
            self._cache[key] = name
            self.added.append(name)
        return name


class NameGen:
    """Fresh value and node names that collide with nothing already in the model.

    Either checked against the names in use, or, for a whole model, made unique by a ``token`` that
    occurs in no name of the model (see ``legalize.unused_token``): every name holding the token is
    new, and a counter keeps the new ones apart. The latter needs no set of a million names.
    """

    def __init__(self, used: Iterable[str] = (), *, token: str = "") -> None:
        self._used = set(used)
        self._counters: dict[str, int] = {}
        self._token = token
        self._count = 0

    def fresh(self, base: str) -> str:
        """A new name starting with ``base``."""
        if self._token:
            self._count += 1
            return f"{base}_{self._token}_{self._count}"
        k = self._counters.get(base, 0)
        while True:
            name = f"{base}_{k}"
            k += 1
            if name not in self._used:
                self._used.add(name)
                self._counters[base] = k
                return name


class Builder(Ops):
    """What a rule calls ``op``: emits nodes for one rewrite at the model's opset.

    ``op.Mul(x, 2.0)`` emits a node and returns its output; numbers become constants in the dtype of
    the node's tensor inputs. Output element types follow the op's schema. Forms that changed across
    opsets have helpers that emit the form in force (``clip``, ``reduce``, ``squeeze``, ``unsqueeze``).
    """

    def __init__(
        self,
        opset: int,
        names: NameGen,
        constants: ConstantPool | None,
        prefix: str,
    ) -> None:
        self.opset = opset
        #: Version of the op being rewritten (for rules that implement some versions only).
        self.source_version: int | None = None
        self.nodes: list[onnx.NodeProto] = []
        #: The values this builder produced (and the rule's inputs), by name.
        self.values: dict[str, Value] = {}
        #: Outputs a rule computes as constants (see ``initializer``): they become initializers under
        #: the node's own output names, with no node.
        self.initializers: dict[str, onnx.TensorProto] = {}
        self._names = names
        self._constants = constants
        self._prefix = prefix

    def emit(self, op_type: str, *inputs: Input, **attrs: Any) -> Value:
        """Emit one ai.onnx node; numbers among ``inputs`` become constants of the tensor inputs' dtype."""
        return self._emit(op_type, inputs, attrs, 1)[0]

    def emit_many(self, op_type: str, *inputs: Input, outputs: int, **attrs: Any) -> tuple[Value, ...]:
        """Emit one ai.onnx node with ``outputs`` outputs (the first ``outputs`` of the op's)."""
        return self._emit(op_type, inputs, attrs, outputs)

    def _emit(
        self, op_type: str, inputs: tuple[Input, ...], attrs: dict[str, Any], n_outputs: int, dtype: int | None = None
    ) -> tuple[Value, ...]:
        if since_version(op_type, "", self.opset) is None:
            raise RuleNotApplicable(f"{op_type} does not exist at opset {self.opset}")
        typed = [i.dtype for i in inputs if isinstance(i, Value)]
        like = next((d for d in typed if d != onnx.TensorProto.BOOL), typed[0] if typed else None)
        names = [self._input_name(i, like) for i in inputs]
        outputs = [self._names.fresh(f"{self._prefix}/{op_type}") for _ in range(n_outputs)]
        node = helper.make_node(op_type, names, outputs, name=outputs[0], **attrs)
        self.nodes.append(node)
        input_dtypes = [i.dtype if isinstance(i, Value) else like for i in inputs]
        inferred = output_dtypes(op_type, "", self.opset, input_dtypes, attrs.get)
        values = []
        for k, out in enumerate(outputs):
            known = dtype if dtype is not None else (inferred[k] if k < len(inferred) else None)
            values.append(Value(out, known or onnx.TensorProto.UNDEFINED))
            self.values[out] = values[-1]
        return tuple(values)

    def constant(self, value: float | int | np.ndarray, dtype: int) -> Value:
        """A constant of element type ``dtype`` (a scalar, or an array of any shape)."""
        array = np.asarray(value)
        tensor = _tensor(array, dtype)
        if self._constants is None:
            out = self._names.fresh(f"{self._prefix}/Constant")
            self.nodes.append(helper.make_node("Constant", [], [out], name=out, value=tensor))
            name = out
        else:
            name = self._constants.get(tensor)
        self.values[name] = Value(name, dtype, tuple(array.shape), array)
        return self.values[name]

    @property
    def holds_initializers(self) -> bool:
        """Whether the scope rewritten can hold initializers.

        A graph can; a function body cannot, nor a graph before IR 4 (an initializer must also be a
        graph input there).
        """
        return self._constants is not None and not self._constants.declares_inputs

    def initializer(self, value: np.ndarray | onnx.TensorProto, dtype: int | None = None) -> Value:
        """A constant output: the node it is returned for becomes an initializer of that name, no node.

        For outputs only (a rule's return value). Where the scope cannot hold initializers, a
        Constant node computes it instead.
        """
        tensor = value if isinstance(value, onnx.TensorProto) else _tensor(np.asarray(value), dtype)
        if not self.holds_initializers:
            return self.constant(numpy_helper.to_array(tensor), tensor.data_type)
        name = self._names.fresh(f"{self._prefix}/initializer")
        self.initializers[name] = tensor
        small = tensor.data_location != onnx.TensorProto.EXTERNAL and math.prod(tensor.dims) <= SMALL
        known = numpy_helper.to_array(tensor) if small else None  # as the model's own constants are known
        self.values[name] = Value(name, tensor.data_type, tuple(tensor.dims), known)
        return self.values[name]

    def clip(self, x: Value, low: float | None, high: float | None) -> Value:
        """``Clip`` with constant bounds, as attributes before opset 11 and as inputs from 11 on."""
        if not forms.as_input("Clip", "min", self.opset):
            bounds: dict[str, Any] = {k: float(v) for k, v in (("min", low), ("max", high)) if v is not None}
            return self.emit("Clip", x, **bounds)
        return self.emit("Clip", x, low, high)

    def reduce(self, op_type: str, x: Value, axes: list[int] | None, keepdims: int = 1, **attrs: Any) -> Value:
        """A reduction over constant ``axes`` (None: all), with axes as attribute or input as the opset wants."""
        return self._with_axes(op_type, x, axes, keepdims=keepdims, **attrs)

    def squeeze(self, x: Value, axes: list[int]) -> Value:
        """``Squeeze`` with constant axes."""
        return self._with_axes("Squeeze", x, axes)

    def unsqueeze(self, x: Value, axes: list[int]) -> Value:
        """``Unsqueeze`` with constant axes."""
        return self._with_axes("Unsqueeze", x, axes)

    def _with_axes(self, op_type: str, x: Value, axes: list[int] | None, **attrs: Any) -> Value:
        if axes is None:
            return self.emit(op_type, x, **attrs)
        if forms.as_input(op_type, "axes", self.opset):
            axes_value = self.constant(np.asarray(axes, dtype=np.int64), onnx.TensorProto.INT64)
            return self._emit(op_type, (x, axes_value), attrs, 1, dtype=x.dtype)[0]
        return self.emit(op_type, x, axes=list(axes), **attrs)

    def _input_name(self, value: Input, like: int | None) -> str:
        if value is None:
            return ""
        if isinstance(value, Value):
            return value.name
        if like is None:
            raise RuleNotApplicable("a constant needs a tensor input to take its dtype from")
        return self.constant(value, like).name


def _tensor(array: np.ndarray, dtype: int | None) -> onnx.TensorProto:
    """``array`` as a tensor of element type ``dtype`` (the array's own when None)."""
    if dtype == onnx.TensorProto.BFLOAT16:
        return helper.make_tensor("", dtype, list(array.shape), array.astype(np.float32).ravel().tolist())
    if dtype is not None:
        array = array.astype(helper.tensor_dtype_to_np_dtype(dtype))
    return numpy_helper.from_array(array, "")


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
    #: Where the route comes from: "opswap" (written here) or "onnx" (the standard's function body).
    source: str = "opswap"
    #: The rule reads input shapes (looked up, with shape inference if needed, only for such rules).
    shapes: bool = False
    #: The op types the rule's replacement may hold (its declaration, checked by the conformance
    #: tests); None where that depends on the node (ONNX's context-dependent bodies). Which routes
    #: read shapes is worked out from these.
    emits: frozenset[str] | None = None

    def apply(self, op: Builder, inputs: list[Value | None], attrs: dict[str, Any], n_outputs: int = 1) -> Any:
        """Run the rule; its keyword parameters receive the node's attributes."""
        parameters = _parameters(self.fn)
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        unknown = [a for a in attrs if a not in parameters]
        if unknown and not takes_any:
            raise RuleNotApplicable(f"attribute {', '.join(unknown)} not handled by {self.id}")
        required = [
            name
            for name, p in parameters.items()
            if p.kind is p.KEYWORD_ONLY and p.default is p.empty and name not in attrs
        ]
        if required:
            raise RuleNotApplicable(f"{self.id} needs attribute {', '.join(required)}")
        positional = [p for p in parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
        if not any(p.kind is p.VAR_POSITIONAL for p in parameters.values()) and len(inputs) > len(positional):
            raise RuleNotApplicable(f"{self.id} takes {len(positional)} inputs, the node has {len(inputs)}")
        if self.opsets is not None and op.source_version not in self.opsets:
            raise RuleNotApplicable(f"{self.id} implements versions {list(self.opsets)} only")
        extra = {"_n_outputs": n_outputs} if "_n_outputs" in parameters else {}
        return self.fn(op, *inputs, **attrs, **extra)


@functools.cache
def _parameters(fn: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    return inspect.signature(fn).parameters


REGISTRY: dict[tuple[str, str], list[Rule]] = {}


def rule(
    op_type: str,
    *,
    exact: bool = True,
    bound: str = "",
    opsets: tuple[int, ...] | None = None,
    domain: str = "",
    shapes: bool = False,
    emits: Iterable[str],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a rule for ``op_type``; the function's name is the rule id.

    ``emits`` lists every op type the replacement may hold (the conformance tests hold a rule to it);
    ``shapes=True`` says the rule reads its inputs' shapes.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not exact and not bound:
            raise ValueError(f"approximate rule {fn.__name__} must state its error bound")
        doc = inspect.getdoc(fn) or ""
        first_line = doc.splitlines()[0] if doc else ""
        entry = Rule(
            fn.__name__, op_type, fn, domain, exact, bound, opsets, first_line, shapes=shapes, emits=frozenset(emits)
        )
        REGISTRY.setdefault((domain, op_type), []).append(entry)
        return fn

    return register


def emitted_ops(entry: Rule) -> list[str] | None:
    """The op types a rule declares it emits, sorted; None where that depends on the node."""
    return None if entry.emits is None else sorted(entry.emits)
