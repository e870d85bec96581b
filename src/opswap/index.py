"""What the passes know about one model's graph: one index, dropped explicitly when the graph changes.

The scopes (a walk over every node), element types, shapes and small constants (``TypeIndex``),
which values are constants, and which ops the scans met. Check, fold, legalize and fix share one
index per model: each fact is found once, when first asked. A pass that changes the graph (a fold, a
fusion, a rewrite) says so with ``invalidate``; nothing is updated behind anyone's back.

The index is the ``ValueFacts`` a target judges the model's nodes with. While routes are only being
planned, a rule's emitted nodes are judged with a ``PlanFacts``: what the rule's builder knows of the
values it made and the constants it used, over the model's index. Planning never changes the index.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import TYPE_CHECKING

import onnx

from opswap.graphs import Scope, iter_scopes
from opswap.schemas import since_version

if TYPE_CHECKING:
    from opswap.rules.values import Value
    from opswap.typeinfo import Shape, TypeIndex

#: An op as scans key it: the op type alone in the default domain, else (op type, domain).
OpKey = str | tuple[str, str]


class GraphIndex:
    """Facts about one model's values and scopes, each found when first asked."""

    def __init__(self, proto: onnx.ModelProto) -> None:
        self.proto = proto
        #: Model-local functions (domain, name): a node calling one is judged through its body.
        self.local_functions = frozenset((f.domain, f.name) for f in proto.functions)
        self._scopes: list[Scope] | None = None
        self._types: TypeIndex | None = None
        self._static: set[str] | None = None
        #: Every op met by scans since the index was built (see ``check.Judge.scan``).
        self.ops: set[OpKey] = set()

    def invalidate(self) -> None:
        """Forget everything: the graph changed (nodes folded, fused, rewritten or removed)."""
        self._scopes = None
        self._types = None
        self._static = None
        self.ops = set()

    @property
    def scopes(self) -> list[Scope]:
        """The model's scopes: the main graph, subgraphs, model-local functions (one walk)."""
        if self._scopes is None:
            self._scopes = list(iter_scopes(self.proto))
        return self._scopes

    @property
    def types(self) -> TypeIndex:
        """Element types, shapes and small constants of the model's values (built when first asked)."""
        if self._types is None:
            from opswap.typeinfo import TypeIndex

            self._types = TypeIndex(self.proto, self.scopes)
        return self._types

    def dtype(self, name: str) -> int | None:
        """The element type of a value."""
        return self.types.dtype(name)

    def shape(self, name: str) -> Shape | None:
        """The shape of a value."""
        return self.types.shape(name)

    def is_static(self, name: str) -> bool:
        """Whether a value is a constant: an initializer or a Constant node's output."""
        if self._static is None:
            self._static = _static_names(self.scopes)
        return name in self._static


def op_version(node: onnx.NodeProto, opsets: Mapping[str, int]) -> int | None:
    """The node's op version at its scope's opsets (None for a domain the scope does not import)."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    return since_version(node.op_type, domain, opsets[domain]) if domain in opsets else None


class PlanFacts:
    """What is known while a rule's emitted nodes are judged: the builder's values over the model's.

    ``values`` are the builder's (the rule's inputs and what it made), ``made`` the names its nodes
    compute, ``constants`` the names it stored as constants. The model's index answers for the
    rest: the source node's inputs. ``keyed_shapes`` says whether the route is keyed on its input
    shapes; when it is not, a verdict that read one of them holds for this node only, and ``unsure``
    records that (as it does when a made value's element type or shape is unknown here: the model's
    own check may know it), so the verdict is not reused for other nodes (see ``legalize``).
    """

    __slots__ = ("_constants", "_index", "_keyed_shapes", "_made", "_values", "unsure")

    def __init__(
        self,
        index: GraphIndex,
        values: Mapping[str, Value],
        made: Set[str],
        constants: Set[str],
        keyed_shapes: bool,
    ) -> None:
        self._index = index
        self._values = values
        self._made = made
        self._constants = constants
        self._keyed_shapes = keyed_shapes
        self.unsure = False

    def is_static(self, name: str) -> bool:
        """A constant the rule made or was given, else what the model says (route keys hold it)."""
        value = self._values.get(name)
        if (value is not None and value.const is not None) or name in self._constants:
            return True
        return False if name in self._made else self._index.is_static(name)

    def dtype(self, name: str) -> int | None:
        """The builder's element type, else the model's (route keys hold the inputs' types)."""
        value = self._values.get(name)
        if value is not None and value.dtype:
            return value.dtype
        if name in self._made:
            self.unsure = True
            return None
        return self._index.dtype(name)

    def shape(self, name: str) -> Shape | None:
        """The builder's shape where it knows one, else the model's (for the source node's inputs)."""
        value = self._values.get(name)
        if value is not None and value.shape is not None:
            return value.shape
        if name in self._made:
            self.unsure = True
            return None
        if not self._keyed_shapes:
            self.unsure = True
        return self._index.shape(name)


def _static_names(scopes: list[Scope]) -> set[str]:
    names: set[str] = set()
    for scope in scopes:
        if isinstance(scope.owner, onnx.GraphProto):
            names.update(t.name for t in scope.owner.initializer)
        names.update(n.output[0] for n in scope.nodes if n.op_type == "Constant" and n.domain in ("", "ai.onnx"))
    return names


__all__ = ["GraphIndex", "OpKey", "PlanFacts", "op_version"]
