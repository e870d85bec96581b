"""The certificates shipped with opswap: each unary rule measured against ONNX Runtime's kernel.

Written by ``opswap rules --certify --full --write src/opswap/rules/certificates.json`` (all 2^32
float32 inputs); see opswap/certify.py for how they are measured.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any


@functools.cache
def recorded() -> Mapping[str, Mapping[str, Any]]:
    """Certificates by rule id (empty if the file is missing); the file ``opswap.catalogue`` reads."""
    from opswap.catalogue import certificates

    return certificates()


def describe(certificate: Mapping[str, Any]) -> str:
    """A certificate as a stated bound: ULPs, absolute error, and where inf/NaN appear wrongly."""
    inputs = "all 2^32 float32 inputs" if certificate["full"] else f"{certificate['inputs']:,} sampled float32 inputs"
    text = f"vs ONNX Runtime: max {certificate['max_ulp']:,} ULP, |error| <= {certificate['max_abs']:.2g}"
    if certificate["mismatches"]:
        text += f"; inf/NaN where the op is finite (or the reverse) on {certificate['mismatches']:,} inputs"
    return f"{text} ({inputs})"


def is_exact(certificate: Mapping[str, Any]) -> bool:
    """Exact means equal up to a few ULP everywhere, with no inf/NaN disagreement."""
    return int(certificate["max_ulp"]) <= 4 and not certificate["mismatches"]
