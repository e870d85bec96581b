"""The rule library: one module per family of source ops; ``base`` holds the machinery."""

from opswap.rules.base import Builder, Rule, RuleNotApplicable, Value, all_rules, rule, rules_for

__all__ = ["Builder", "Rule", "RuleNotApplicable", "Value", "all_rules", "rule", "rules_for"]
