"""The typed ``op.<OpType>`` methods a rule writes with (src/opswap/rules/ops.py, written from onnx's schemas)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto

from opswap.rules.base import Builder, ConstantPool, NameGen
from opswap.rules.values import RuleNotApplicable, Value

ROOT = Path(__file__).resolve().parent.parent


def _script():  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location("rule_ops", ROOT / "scripts" / "rule_ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def builder(opset: int) -> Builder:
    return Builder(opset, NameGen(), ConstantPool(None, NameGen()), "t")


def test_the_shipped_ops_module_is_what_the_schemas_give() -> None:
    script = _script()
    assert script.TARGET.read_text(encoding="utf-8") == script.text(), "run: python scripts/rule_ops.py"
    every_op = {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == "" and not s.deprecated}
    assert {op for op in every_op if not hasattr(Builder, op)} == set()


def test_inputs_are_positional_numbers_become_typed_constants_and_trailing_omitted_ones_are_dropped() -> None:
    op = builder(13)
    x = Value("x", TensorProto.FLOAT16)
    y = op.Clip(x, None, 6.0)
    clip = op.nodes[-1]
    assert (clip.op_type, clip.input[0], clip.input[1]) == ("Clip", "x", "")
    assert op.values[clip.input[2]].dtype == TensorProto.FLOAT16  # 6.0 in the input's element type
    assert y.dtype == TensorProto.FLOAT16
    op.Clip(x, None, None)
    assert list(op.nodes[-1].input) == ["x"]  # not ["x", "", ""]


def test_attributes_are_keywords_and_older_versions_forms_are_there_too() -> None:
    op = builder(14)
    out = op.Cast(Value("x", TensorProto.FLOAT), to=TensorProto.INT64)
    assert out.dtype == TensorProto.INT64
    assert [a.name for a in op.nodes[-1].attribute] == ["to"]
    old = builder(10)
    old.Clip(Value("x", TensorProto.FLOAT), min=0.0, max=6.0)  # Clip-6 had attributes
    assert sorted(a.name for a in old.nodes[-1].attribute) == ["max", "min"]
    with pytest.raises(TypeError):
        op.Cast(Value("x", TensorProto.FLOAT), too=TensorProto.INT64)  # type: ignore[call-arg]


def test_an_op_with_several_outputs_returns_them_all_typed() -> None:
    op = builder(14)
    values, indices = op.TopK(Value("x", TensorProto.FLOAT), Value("k", TensorProto.INT64), axis=-1)
    assert (values.dtype, indices.dtype) == (TensorProto.FLOAT, TensorProto.INT64)
    assert len(op.nodes[-1].output) == 2
    (only,) = op.Dropout(Value("x", TensorProto.FLOAT), outputs=1)
    assert only.dtype == TensorProto.FLOAT and len(op.nodes[-1].output) == 1


def test_a_misspelt_op_is_an_error_and_a_newer_op_is_not_applicable_at_an_older_opset() -> None:
    op = builder(14)
    with pytest.raises(AttributeError):
        op.Mull  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(RuleNotApplicable, match="Gelu does not exist at opset 14"):
        op.Gelu(Value("x", TensorProto.FLOAT))
