"""onnxscript's pattern rewriter: one rule per op, applied by ``onnxscript.rewriter.rewrite``."""

from __future__ import annotations

import onnx
from onnxscript.rewriter import pattern, rewrite


def _hardsigmoid(op, x, alpha: float, beta: float):  # type: ignore[no-untyped-def]
    return op.Clip(
        op.Add(op.Mul(x, op.Constant(value_float=alpha)), op.Constant(value_float=beta)),
        op.Constant(value_float=0.0),
        op.Constant(value_float=1.0),
    )


def _hardsigmoid_pattern(op, x):  # type: ignore[no-untyped-def]
    return op.HardSigmoid(x, _allow_other_attributes=True)


def _hardsigmoid_rewrite(op, x, **_):  # type: ignore[no-untyped-def]
    # The chain graphs use the default attributes.
    return _hardsigmoid(op, x, 0.2, 0.5)


def _hardswish_pattern(op, x):  # type: ignore[no-untyped-def]
    return op.HardSwish(x)


def _hardswish_rewrite(op, x):  # type: ignore[no-untyped-def]
    return op.Mul(x, _hardsigmoid(op, x, 1 / 6, 0.5))


RULES = [
    pattern.RewriteRule(_hardsigmoid_pattern, _hardsigmoid_rewrite),
    pattern.RewriteRule(_hardswish_pattern, _hardswish_rewrite),
]


def run(src: str, dst: str) -> None:
    onnx.save(rewrite(onnx.load(src), RULES), dst)
