"""The rule library: one module per family of source ops; ``base`` holds the machinery."""

from opswap.rules.base import Builder, Rule, all_rules, rule, rules_for
from opswap.rules.values import RuleNotApplicable, Value

__all__ = ["Builder", "Rule", "RuleNotApplicable", "Value", "all_rules", "rule", "rules_for"]
