"""Certificates keep exactness honest: a rule declared exact must measure as exact."""

from __future__ import annotations

import pytest

from opswap.certify import certify, unary_rules
from opswap.rules.certificates import is_exact, recorded

UNARY = unary_rules()


def test_unary_rules_are_found() -> None:
    ids = {r.id for r in UNARY}
    assert {"hardsigmoid_via_clip", "hardswish_via_onnx_function", "softplus_via_onnx_function"} <= ids


@pytest.mark.parametrize("rule", [r for r in UNARY if r.exact], ids=lambda r: r.id)
def test_a_rule_declared_exact_certifies_on_sampled_inputs(rule) -> None:
    found = certify(rule, samples=1 << 20)
    assert found.max_ulp <= 4 and found.mismatches == 0, found


@pytest.mark.parametrize("rule", UNARY, ids=lambda r: r.id)
def test_every_unary_rule_has_a_recorded_certificate_that_sampling_does_not_beat(rule) -> None:
    certificate = recorded().get(rule.id)
    assert certificate is not None, "run: opswap rules --certify --full --write src/opswap/rules/certificates.json"
    assert is_exact(certificate) == rule.exact or rule.source == "opswap"
    if certificate["full"]:
        sampled = certify(rule, samples=1 << 18, seed=1)
        assert sampled.max_ulp <= certificate["max_ulp"]
        assert sampled.mismatches <= certificate["mismatches"]


def test_onnx_softplus_body_overflows_and_the_stable_rule_does_not() -> None:
    body, stable = recorded()["softplus_via_onnx_function"], recorded()["softplus_via_stable_log"]
    assert body["mismatches"] > 0
    assert stable["mismatches"] == 0
