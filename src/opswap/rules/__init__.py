"""The rule library: one module per family of source ops; ``base`` holds the machinery.

The family modules register their rules when imported; ``rules_for`` and ``all_rules`` import them
on first use (``base`` imports none of them: they import it).
"""

from __future__ import annotations

import functools

from opswap.rules.base import REGISTRY, Builder, Rule, rule
from opswap.rules.values import RuleNotApplicable, Value

__all__ = ["Builder", "Rule", "RuleNotApplicable", "Value", "all_rules", "rule", "rules_for"]


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
    # Importing a rule module registers its rules. Hand-written rules come first, ONNX's bodies after.
    from opswap.rules import activations, elementwise, normalization, onnx_functions, tensor  # noqa: F401
