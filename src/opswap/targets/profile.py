"""Target profiles: what a runtime's converter accepts, as data, and the legality of one node.

A profile lists the ops a target accepts; anything not listed is illegal. Per op it may restrict the
opset versions, attribute values and which inputs must be constants, and carry a note that cannot be
checked (reported as a caveat on every such node, never passed silently).
"""

from __future__ import annotations

import enum
import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from opswap.errors import TargetError

if TYPE_CHECKING:
    import onnx

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Level", "OpSupport", "Target", "ValueFacts", "Verdict", "op_name", "parse_profile", "tomllib"]


class Level(enum.IntEnum):
    """How a node stands with a target, from fine to illegal (ordered: max() is the worst)."""

    OK = 0
    #: Legal, with a condition the profile states but opswap cannot check.
    CAVEAT = 1
    #: The converter accepts the op but warns (for example an opset version it does not list).
    WARNING = 2
    #: The converter rejects the node.
    ERROR = 3


@dataclass(frozen=True)
class Verdict:
    """The legality of one node for one target, with the reason in words."""

    level: Level
    reason: str = ""
    #: The only problem is the op's version, which lowering the model's opset can fix.
    version_only: bool = False
    #: The only problems are computed inputs or dynamic shapes, which constant folding may fix.
    static_only: bool = False

    @property
    def legal(self) -> bool:
        """Whether the converter accepts the node (warnings and caveats are legal)."""
        return self.level < Level.ERROR


OK = Verdict(Level.OK)


class ValueFacts(Protocol):
    """What the checker knows about a model's values."""

    def is_static(self, name: str) -> bool:
        """Whether the value is a constant (initializer or Constant output)."""

    def dtype(self, name: str) -> int | None:
        """Element type, if known."""

    def shape(self, name: str) -> tuple[int | None, ...] | None:
        """Shape (None dims are symbolic), or None when the rank is unknown."""


#: ONNX's element types by number, lower case (onnx.TensorProto.DataType, spelled out so that
#: reading a profile needs no onnx import; a test checks it against onnx's own table).
DTYPE_NAMES = {
    0: "undefined", 1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 14: "complex64",
    15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2",
    20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1", 24: "float8e8m0", 25: "uint2",
    26: "int2", 27: "float6e2m3", 28: "float6e3m2",
}  # fmt: skip


def _onnx_dtype_names() -> dict[int, str]:
    """The installed onnx's own table, for element types newer than ``DTYPE_NAMES``."""
    import onnx

    return {int(number): str(name).lower() for name, number in onnx.TensorProto.DataType.items()}


def dtype_name(dtype: int) -> str:
    """ONNX's name for an element type, lower case ("float", "float16", "int64")."""
    name = DTYPE_NAMES.get(dtype)
    return name if name is not None else _onnx_dtype_names().get(dtype, str(dtype))


def _dtype_names(values: list[Any], where: str) -> tuple[str, ...]:
    known = set(DTYPE_NAMES.values())
    if any(not isinstance(v, str) or v.lower() not in known for v in values):
        known |= set(_onnx_dtype_names().values())
    for value in values:
        if not isinstance(value, str) or value.lower() not in known:
            raise TargetError(f"{where}: {value!r} is not an ONNX element type name (float, float16, int64, ...)")
    return tuple(v.lower() for v in values)


@dataclass(frozen=True)
class OpSupport:
    """What a target accepts of one op."""

    op_type: str
    domain: str = ""
    #: ONNX ``since_version`` values the converter registers; None accepts every version.
    opsets: tuple[int, ...] | None = None
    #: Attribute name -> allowed values (a missing attribute is checked at its schema default).
    attributes: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    #: Input positions that must be constants (initializers or Constant outputs).
    static_inputs: tuple[int, ...] = ()
    #: Element types accepted for the op's first input (ONNX names: "float", "float16", ...).
    dtypes: tuple[str, ...] | None = None
    #: Largest rank of any input.
    max_rank: int | None = None
    #: How many outputs the converter produces (later outputs must be unused).
    outputs: int | None = None
    #: A condition that cannot be checked; shown as a caveat.
    note: str = ""
    #: Conditions opswap decides per node, by name (see ``CHECKS``): a vendor's words made a check.
    checks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form: every limit (None where the profile sets none)."""
        return {
            "opsets": list(self.opsets) if self.opsets is not None else None,
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "static_inputs": list(self.static_inputs),
            "dtypes": list(self.dtypes) if self.dtypes is not None else None,
            "max_rank": self.max_rank,
            "outputs": self.outputs,
            "note": self.note,
            "checks": list(self.checks),
        }

    @property
    def per_node(self) -> bool:
        """Whether judging a node needs more than its op and version."""
        constraints = self.attributes or self.static_inputs or self.dtypes or self.max_rank or self.outputs
        return bool(constraints or self.checks)


def _kernel_shape_matches_weights(node: onnx.NodeProto, facts: ValueFacts) -> Verdict | None:
    """Qualcomm: "kernel_shape which differs from that of weights is not supported" (Conv), decided.

    No ``kernel_shape`` attribute means the weights' own; otherwise it must equal their spatial dims.
    """
    kernel = next((tuple(a.ints) for a in node.attribute if a.name == "kernel_shape"), None)
    if kernel is None or len(node.input) < 2:
        return None
    shape = facts.shape(node.input[1])
    if shape is None or any(d is None for d in shape[2:]):
        return Verdict(Level.CAVEAT, "kernel_shape must equal the weights' spatial shape, which is not known here")
    if kernel != tuple(shape[2:]):
        return Verdict(Level.ERROR, f"kernel_shape {list(kernel)} differs from the weights' {list(shape[2:])}")
    return None


#: Named per-node checks a profile may list (``checks = [...]``): name -> a verdict, or None if met.
CHECKS: dict[str, Callable[[onnx.NodeProto, ValueFacts], Verdict | None]] = {
    "kernel_shape_matches_weights": _kernel_shape_matches_weights,
}


#: How an op version missing from ``opsets`` is judged: converters such as Qualcomm's warn and go on.
_UNLISTED_OPSET_LEVELS = {"warning": Level.WARNING, "error": Level.ERROR}


@dataclass(frozen=True)
class Target:
    """A target runtime's profile: its accepted ops and how to call its converter."""

    name: str
    description: str
    source: str
    ops: Mapping[tuple[str, str], OpSupport]
    converter: str = ""
    #: Converter arguments; ``{input}`` and ``{output}`` are replaced by paths.
    converter_args: tuple[str, ...] = ()
    converter_output_suffix: str = ""
    unlisted_opset: Level = Level.WARNING
    #: Every node input must have a fully known shape (ONNX Runtime's NNAPI and CoreML EPs).
    fixed_shapes: bool = False
    #: Largest rank of any node input, for every op.
    max_rank: int | None = None
    #: The range of model (ai.onnx) opsets the converter reads.
    model_opsets: tuple[int, int] | None = None
    #: The graph the runtime partitions, when it is not the file's own: "onnxruntime-basic" for ONNX
    #: Runtime's EPs (they see the graph after ORT's basic optimizations: constants folded, Constant
    #: nodes made initializers, redundant nodes removed).
    partitions_after: str = ""
    path: Path | None = None
    #: The name asked for, when it resolved to another release (see ``targets.load_target``).
    requested: str = ""

    @property
    def per_node(self) -> bool:
        """Whether every node must be judged on its own (shape or rank limits for all ops)."""
        return self.fixed_shapes or self.max_rank is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: every setting and every op's limits (``targets show --format json``)."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "converter": self.converter,
            "converter_args": list(self.converter_args),
            "unlisted_opset": self.unlisted_opset.name.lower(),
            "fixed_shapes": self.fixed_shapes,
            "max_rank": self.max_rank,
            "model_opsets": list(self.model_opsets) if self.model_opsets is not None else None,
            "partitions_after": self.partitions_after or None,
            "ops": {(f"{d}:{o}" if d else o): e.to_dict() for (d, o), e in sorted(self.ops.items())},
        }

    def support(self, op_type: str, domain: str = "") -> OpSupport | None:
        """The profile's entry for an op, or None when the target lacks it."""
        return self.ops.get((_norm_domain(domain), op_type))

    def verdict(self, node: onnx.NodeProto, since_version: int | None, facts: ValueFacts) -> Verdict:
        """Judge one node.

        ``since_version`` is the version of the op's schema in force at the node's opset (None for
        ops onnx does not know); ``facts`` tells what is known of the node's inputs.
        """
        entry = self.support(node.op_type, node.domain)
        if entry is None:
            return Verdict(Level.ERROR, f"{op_name(node.op_type, node.domain)} is not supported by {self.name}")
        problems: list[Verdict] = self._shape_problems(node, entry, facts)
        for attr_name, allowed in entry.attributes.items():
            value = attribute_value(node, attr_name, since_version)
            if value is not None and value not in allowed:
                allowed_text = ", ".join(map(str, allowed))
                problems.append(Verdict(Level.ERROR, f"{attr_name}={value} not supported (only {allowed_text})"))
        inputs = node.input
        computed = [k for k in entry.static_inputs if k < len(inputs) and inputs[k] and not facts.is_static(inputs[k])]
        if computed:
            problems.append(Verdict(Level.ERROR, f"{_inputs(computed)} must be a constant", static_only=True))
        if entry.opsets is not None and since_version is not None and since_version not in entry.opsets:
            listed = ", ".join(map(str, entry.opsets))
            reason = f"version {since_version} not in the versions {self.name} lists ({listed})"
            problems.append(Verdict(self.unlisted_opset, reason, version_only=True))
        for name in entry.checks:
            problem = CHECKS[name](node, facts)
            if problem is not None:
                problems.append(problem)
        if entry.note:
            problems.append(Verdict(Level.CAVEAT, entry.note))
        if not problems:
            return OK
        worst = max(p.level for p in problems)
        top = [p for p in problems if p.level == worst]
        return Verdict(
            worst,
            "; ".join(p.reason for p in top),
            version_only=all(p.version_only for p in top),
            static_only=all(p.static_only for p in top),
        )

    def _shape_problems(self, node: onnx.NodeProto, entry: OpSupport, facts: ValueFacts) -> list[Verdict]:
        problems: list[Verdict] = []
        if entry.outputs is not None and any(node.output[entry.outputs :]):
            problems.append(Verdict(Level.ERROR, f"only the first {entry.outputs} output(s) are produced"))
        if entry.dtypes is not None and node.input and node.input[0]:
            dtype = facts.dtype(node.input[0])
            name = dtype_name(dtype) if dtype else None
            if name is not None and name not in entry.dtypes:
                problems.append(Verdict(Level.ERROR, f"{name} input not supported (only {', '.join(entry.dtypes)})"))
        max_rank = min(r for r in (entry.max_rank, self.max_rank, 1 << 30) if r is not None)
        if max_rank < 1 << 30 or self.fixed_shapes:
            # Reasons name input positions, not values, so nodes with the same problem group together.
            unknown, dynamic, ranks = [], [], {}
            for k, name in enumerate(node.input):
                if not name:
                    continue
                shape = facts.shape(name)
                if shape is None:
                    unknown.append(k)
                    continue
                if len(shape) > max_rank:
                    ranks[k] = len(shape)
                if any(d is None for d in shape):
                    dynamic.append(k)
            for k, rank in ranks.items():
                problems.append(Verdict(Level.ERROR, f"input {k} has rank {rank} (at most {max_rank})"))
            if self.fixed_shapes and dynamic:
                shapes = "has a dynamic shape" if len(dynamic) == 1 else "have dynamic shapes"
                reason = f"{_inputs(dynamic)} {shapes}; {self.name} needs fixed shapes"
                problems.append(Verdict(Level.ERROR, reason, static_only=True))
            if self.fixed_shapes and unknown:
                reason = f"shape of {_inputs(unknown)} unknown; {self.name} needs fixed shapes"
                problems.append(Verdict(Level.CAVEAT, reason))
        return problems


def finding_kind(reason: str) -> str:
    """What kind of warning or caveat ``reason`` is, for summaries (see ``report.FINDING_ADVICE``).

    ``version``: a version the profile does not list; ``shape``: input shapes a fixed-shape target needs
    are unknown; ``kernel_shape``: a Conv's weights are computed, so their shape is not known; ``note``:
    a condition the profile's source states, which opswap cannot decide from the graph.
    """
    if reason.startswith("version ") and " not in the versions " in reason:
        return "version"
    if reason.startswith("kernel_shape must equal"):
        return "kernel_shape"
    if "needs fixed shapes" in reason:
        return "shape"
    return "note"


def _suffix(value: str, where: str) -> str:
    """A converter's output name ending (``.dlc``, ``_tflite``).

    It is appended to the model's stem, so it must not lead out of the model's folder.
    """
    if "/" in value or "\\" in value or value in (".", ".."):
        raise TargetError(f"{where} converter_output_suffix: {value!r} is not a file name ending (.dlc, _tflite)")
    return value


def _inputs(positions: list[int]) -> str:
    """``input 1`` or ``inputs 0, 2``."""
    return f"input {positions[0]}" if len(positions) == 1 else f"inputs {', '.join(map(str, positions))}"


def op_name(op_type: str, domain: str) -> str:
    """``Op`` for ai.onnx, ``domain:Op`` otherwise."""
    domain = _norm_domain(domain)
    return f"{domain}:{op_type}" if domain else op_type


def _norm_domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def attribute_value(node: onnx.NodeProto, name: str, since_version: int | None) -> Any:
    """A node's attribute value, or the schema's default when the node omits it.

    None when the op version has no such attribute (the constraint does not apply).
    """
    for attr in node.attribute:
        if attr.name == name:
            from onnx import helper

            return plain(helper.get_attribute_value(attr))
    if since_version is None:
        return None
    return _schema_default(node.op_type, node.domain, since_version, name)


@functools.lru_cache(maxsize=4096)
def _schema_default(op_type: str, domain: str, version: int, name: str) -> Any:
    import onnx

    try:
        schema = onnx.defs.get_schema(op_type, version, domain)
    except onnx.defs.SchemaError:
        return None
    attr = schema.attributes.get(name)
    if attr is None or not attr.default_value.name:
        return None
    return plain(onnx.helper.get_attribute_value(attr.default_value))


def plain(value: Any) -> Any:
    """An attribute's value as profiles compare it: text for bytes, tuples for lists."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return tuple(plain(v) for v in value)
    return value


# --- parsing -------------------------------------------------------------------------------------

_TARGET_KEYS = {
    "name": str,
    "description": str,
    "source": str,
    "converter": str,
    "converter_args": list,
    "converter_output_suffix": str,
    "unlisted_opset": str,
    "fixed_shapes": bool,
    "max_rank": int,
    "model_opsets": list,
    "partitions_after": str,
}
_OP_KEYS = {
    "opsets": list,
    "attributes": dict,
    "static_inputs": list,
    "note": str,
    "dtypes": list,
    "max_rank": int,
    "outputs": int,
    "checks": list,
}


def parse_profile(text: str, origin: str) -> Target:
    """Parse a TOML profile; every mistake is reported with the file and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{origin}: not valid TOML: {exc}") from None
    except RecursionError:
        raise TargetError(f"{origin}: not a profile (nested too deeply to parse)") from None
    _check_keys(data, {"target": dict, "ops": dict}, origin)
    header = data.get("target")
    if header is None:
        raise TargetError(f"{origin}: missing [target] table")
    _check_keys(header, _TARGET_KEYS, f"{origin} [target]")
    for required in ("name", "source"):
        if required not in header:
            raise TargetError(f"{origin} [target]: missing key {required!r} (profiles cite their source)")
    level_name = header.get("unlisted_opset", "warning")
    if level_name not in _UNLISTED_OPSET_LEVELS:
        raise TargetError(f"{origin} [target] unlisted_opset: must be 'warning' or 'error', not {level_name!r}")
    ops: dict[tuple[str, str], OpSupport] = {}
    for key, entry in data.get("ops", {}).items():
        where = f"{origin} [ops.{key}]"
        if not isinstance(entry, dict):
            raise TargetError(f"{where}: must be a table")
        _check_keys(entry, _OP_KEYS, where)
        domain, _, op_type = key.rpartition(":")
        support = OpSupport(
            op_type=op_type,
            domain=_norm_domain(domain),
            opsets=_ints(entry["opsets"], f"{where} opsets") if "opsets" in entry else None,
            attributes={
                name: tuple(plain(v) for v in (values if isinstance(values, list) else [values]))
                for name, values in entry.get("attributes", {}).items()
            },
            static_inputs=_ints(entry.get("static_inputs", []), f"{where} static_inputs"),
            dtypes=_dtype_names(entry["dtypes"], f"{where} dtypes") if "dtypes" in entry else None,
            max_rank=entry.get("max_rank"),
            outputs=entry.get("outputs"),
            note=entry.get("note", ""),
            checks=_checks(entry.get("checks", []), f"{where} checks"),
        )
        ops[(support.domain, op_type)] = support
    return Target(
        name=header["name"],
        description=header.get("description", ""),
        source=header["source"],
        ops=ops,
        converter=header.get("converter", ""),
        converter_args=tuple(str(a) for a in header.get("converter_args", [])),
        converter_output_suffix=_suffix(header.get("converter_output_suffix", ""), f"{origin} [target]"),
        unlisted_opset=_UNLISTED_OPSET_LEVELS[level_name],
        fixed_shapes=header.get("fixed_shapes", False),
        max_rank=header.get("max_rank"),
        model_opsets=_opset_range(header["model_opsets"], f"{origin} [target] model_opsets")
        if "model_opsets" in header
        else None,
        partitions_after=_partitions_after(header.get("partitions_after", ""), f"{origin} [target]"),
    )


def _checks(names: list[Any], where: str) -> tuple[str, ...]:
    unknown = [n for n in names if not isinstance(n, str) or n not in CHECKS]
    if unknown:
        raise TargetError(f"{where}: unknown check {unknown[0]!r} (known: {', '.join(sorted(CHECKS))})")
    return tuple(names)


#: What ``partitions_after`` may name.
PARTITIONS_AFTER = ("", "onnxruntime-basic")


def _partitions_after(value: str, where: str) -> str:
    if value not in PARTITIONS_AFTER:
        raise TargetError(f"{where} partitions_after: must be 'onnxruntime-basic' or absent, not {value!r}")
    return value


def _opset_range(values: list[Any], where: str) -> tuple[int, int]:
    pair = _ints(values, where)
    if len(pair) != 2 or pair[0] > pair[1]:
        raise TargetError(f"{where}: expected [lowest, highest]")
    return pair[0], pair[1]


def _check_keys(table: Mapping[str, Any], known: Mapping[str, type], where: str) -> None:
    for key, value in table.items():
        if key not in known:
            raise TargetError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        if not isinstance(value, known[key]) or (known[key] is int and isinstance(value, bool)):
            raise TargetError(f"{where} {key}: expected {known[key].__name__}, got {type(value).__name__}")


def _ints(values: list[Any], where: str) -> tuple[int, ...]:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise TargetError(f"{where}: expected a list of integers")
    return tuple(values)
