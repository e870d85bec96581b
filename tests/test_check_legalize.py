"""check and legalize on small models: scopes, constraints, route choice, dtypes, provenance, dead ends."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import opswap
from conftest import hardswish_model, make_model, ort_run, save_model, tensor
from opswap.targets import Level
from opswap.targets.profile import parse_profile


def profile(body: str, header: str = "") -> opswap.Target:
    return parse_profile(f'[target]\nname = "t"\nsource = "test"\n{header}\n{body}', "t.toml")


def ops(model: onnx.ModelProto) -> collections.Counter[str]:
    return collections.Counter(n.op_type for n in model.graph.node)


def _if_model() -> onnx.ModelProto:
    """HardSwish inside both branches of an If, reading x from the outer scope."""

    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph(
            [helper.make_node(op, ["x"], [f"{name}_out"], name=f"{name}_{op}")], name, [], [tensor(f"{name}_out", [4])]
        )

    return make_model(
        [
            helper.make_node("ReduceSum", ["x"], ["s"], name="sum", keepdims=0),
            helper.make_node("Greater", ["s", "zero"], ["cond"], name="gt"),
            helper.make_node(
                "If",
                ["cond"],
                ["y"],
                name="if",
                then_branch=branch("then", "HardSwish"),
                else_branch=branch("else", "HardSigmoid"),
            ),
        ],
        [tensor("x", [4])],
        [tensor("y", [4])],
        initializers=[numpy_helper.from_array(np.array(0, dtype=np.float32), "zero")],
    )


def _loop_model() -> onnx.ModelProto:
    """A Loop whose body applies HardSwish to the carried value three times."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep"),
            helper.make_node("HardSwish", ["v_in"], ["v_out"], name="body_hswish"),
        ],
        "body",
        [tensor("i", [], TensorProto.INT64), tensor("cond_in", [], TensorProto.BOOL), tensor("v_in", [4])],
        [tensor("cond_out", [], TensorProto.BOOL), tensor("v_out", [4])],
    )
    return make_model(
        [helper.make_node("Loop", ["n", "", "x"], ["y"], name="loop", body=body)],
        [tensor("x", [4])],
        [tensor("y", [4])],
        initializers=[numpy_helper.from_array(np.array(3, dtype=np.int64), "n")],
    )


def test_check_walks_subgraphs(tmp_path: Path) -> None:
    report = opswap.check(opswap.load(save_model(_if_model(), tmp_path / "m.onnx")), opswap.load_target("snpe-2.7"))
    illegal = {f.op_type: f for f in report.findings if f.level == Level.ERROR}
    assert set(illegal) == {"HardSwish", "HardSigmoid", "If"}  # SNPE 2.5 registers no If either
    assert illegal["HardSwish"].node == "main/if.then_branch/then_HardSwish"


@pytest.mark.parametrize("make", [_if_model, _loop_model], ids=["if", "loop"])
def test_legalize_inside_subgraphs_keeps_outputs(make, tmp_path: Path) -> None:
    source = save_model(make(), tmp_path / "m.onnx")
    target = profile(
        "[ops.If]\n[ops.Loop]\n[ops.Identity]\n[ops.ReduceSum]\n[ops.Greater]\n[ops.Mul]\n[ops.Add]\n[ops.Clip]"
    )
    model = opswap.load(source)
    report = opswap.legalize(model, target)
    assert report.complete
    assert opswap.check(model, target).legal
    onnx.checker.check_model(model.proto, full_check=True)
    for x in (np.linspace(-5, 5, 4, dtype=np.float32), np.linspace(-5, 1, 4, dtype=np.float32) - 3):
        (want,) = ort_run(source, {"x": x})
        (got,) = ort_run(model.proto, {"x": x})
        np.testing.assert_array_equal(got, want)


def test_model_local_function_body_is_checked_and_rewritten(tmp_path: Path) -> None:
    function = helper.make_function(
        "local",
        "Act",
        ["a"],
        ["b"],
        [helper.make_node("HardSwish", ["a"], ["b"], name="f_hswish")],
        [helper.make_opsetid("", 14)],
    )
    model = make_model(
        [helper.make_node("Act", ["x"], ["y"], domain="local", name="call")],
        [tensor("x", [4])],
        [tensor("y", [4])],
        functions=[function],
        extra_opsets=[helper.make_opsetid("local", 1)],
    )
    source = save_model(model, tmp_path / "m.onnx")
    loaded = opswap.load(source)
    target = profile("[ops.Mul]\n[ops.Add]\n[ops.Clip]\n[ops.Constant]")
    found = [f for f in opswap.check(loaded, target).findings if f.level == Level.ERROR]
    assert [(f.op_type, f.node) for f in found] == [("HardSwish", "function local.Act/f_hswish")]
    # Inside a function the element type is unknown (no value_info): no constant can be typed.
    report = opswap.legalize(loaded, target)
    assert not report.complete
    assert "element type of input 'a' is unknown" in report.unresolved[0].explanation


def test_attribute_static_input_and_version_constraints() -> None:
    target = profile(
        """
        [ops.Gemm]
        opsets = [11]
        attributes = { transA = [0] }
        [ops.Expand]
        static_inputs = [1]
        """,
        'unlisted_opset = "error"',
    )
    model = make_model(
        [
            helper.make_node("Gemm", ["a", "b"], ["c"], name="gemm", transA=1),
            helper.make_node("Expand", ["c", "shape"], ["y"], name="expand"),
        ],
        [tensor("a", [3, 2]), tensor("b", [3, 2]), tensor("shape", [2], TensorProto.INT64)],
        [tensor("y", [2, 2])],
        opset=13,
    )
    report = opswap.check(opswap.copy(opswap.model.from_proto(model)), target)
    reasons = {f.op_type: f.reason for f in report.findings}
    assert "transA=1 not supported (only 0)" in reasons["Gemm"]
    assert "version 13 not in the versions t lists (11)" in reasons["Gemm"]
    assert reasons["Expand"] == "input 1 must be a constant"
    assert not report.legal

    # The same shape input as an initializer satisfies the constraint.
    model.graph.initializer.append(numpy_helper.from_array(np.array([2, 2], dtype=np.int64), "shape"))
    report = opswap.check(opswap.model.from_proto(model), target)
    assert "Expand" not in {f.op_type for f in report.findings}


def test_unlisted_version_is_a_warning_by_default() -> None:
    report = opswap.check(opswap.model.from_proto(hardswish_model(opset=14)), opswap.load_target("qairt-2.25"))
    assert report.legal
    # HardSigmoid-6, HardSwish-14 and Mul-14 are registered by QAIRT 2.25: no finding at all.
    assert report.findings == []
    # SNPE 2.5 registers Mul only up to version 7: Mul-14 is a warning, not an error.
    snpe = opswap.check(opswap.model.from_proto(hardswish_model(opset=14)), opswap.load_target("snpe-2.7"))
    assert {(f.op_type, f.level) for f in snpe.findings if f.op_type == "Mul"} == {("Mul", Level.WARNING)}


def test_custom_domain_op_is_illegal_not_a_crash() -> None:
    model = make_model(
        [helper.make_node("FusedThing", ["x"], ["y"], domain="com.vendor", name="fused")],
        [tensor("x", [4])],
        [tensor("y", [4])],
        extra_opsets=[helper.make_opsetid("com.vendor", 1)],
    )
    loaded = opswap.model.from_proto(model)
    report = opswap.check(loaded, opswap.load_target("snpe-2.7"))
    assert [(f.op_type, f.reason) for f in report.findings] == [
        ("FusedThing", "com.vendor:FusedThing is not supported by snpe-2.7")
    ]
    changes = opswap.legalize(loaded, opswap.load_target("snpe-2.7"))
    assert changes.unresolved[0].explanation == "com.vendor:FusedThing: no rule rewrites com.vendor:FusedThing"


def test_route_choice_follows_the_target() -> None:
    # Target with HardSigmoid: HardSwish becomes Mul(x, HardSigmoid(x)), the cheapest legal route.
    with_hardsigmoid = profile("[ops.HardSigmoid]\n[ops.Mul]\n[ops.Add]\n[ops.Clip]")
    model = opswap.model.from_proto(hardswish_model())
    report = opswap.legalize(model, with_hardsigmoid)
    assert {r.op_type: r.route for r in report.rewrites} == {"HardSwish": "hardswish_via_onnx_function"}
    assert ops(model.proto) == {"Mul": 2, "HardSigmoid": 2}

    # Without Clip: Min and Max.
    no_clip = profile("[ops.Mul]\n[ops.Add]\n[ops.Min]\n[ops.Max]")
    model = opswap.model.from_proto(hardswish_model())
    report = opswap.legalize(model, no_clip)
    routes = {r.op_type: r.route for r in report.rewrites}
    assert routes == {
        "HardSwish": "hardswish_via_onnx_function > hardsigmoid_via_onnx_function",
        "HardSigmoid": "hardsigmoid_via_onnx_function",
    }
    assert set(ops(model.proto)) == {"Mul", "Add", "Min", "Max"}


def test_dead_end_is_explained_route_by_route() -> None:
    only_mul = profile("[ops.Mul]\n[ops.Add]")
    model = opswap.model.from_proto(hardswish_model())
    report = opswap.legalize(model, only_mul)
    assert not report.complete
    explanation = {u.op_type: u.explanation for u in report.unresolved}["HardSwish"]
    lines = explanation.splitlines()
    assert (
        lines[0]
        == "HardSwish: via hardswish_via_onnx_function: HardSigmoid illegal (HardSigmoid is not supported by t)"
    )
    assert "via hardsigmoid_via_clip: Clip illegal (Clip is not supported by t)" in explanation
    assert "via hardsigmoid_via_onnx_function: Min illegal (Min is not supported by t)" in explanation
    # Nothing was rewritten for an op without a full route.
    assert ops(model.proto)["HardSwish"] == 1


def test_fix_exits_1_and_writes_nothing_without_a_route(cli, tmp_path: Path) -> None:
    source = save_model(hardswish_model(), tmp_path / "m.onnx")
    (tmp_path / "t.toml").write_text('[target]\nname = "t"\nsource = "test"\n[ops.Mul]\n[ops.Add]\n')
    out = tmp_path / "out.onnx"
    result = cli("fix", source, "--target", tmp_path / "t.toml", "-o", out)
    assert result.code == 1
    assert "No legal route" in result.stdout and "Not written" in result.stdout
    assert not out.exists()
    partial = cli("fix", source, "--target", tmp_path / "t.toml", "-o", out, "--allow-partial", "--format", "json")
    assert partial.code == 1
    assert out.exists() and partial.json()["output"] == str(out)


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.FLOAT])
def test_constants_take_the_input_dtype(dtype: int) -> None:
    model = opswap.model.from_proto(hardswish_model(dtype=dtype))
    opswap.legalize(model, opswap.load_target("snpe-2.7"))
    arrays = [onnx.numpy_helper.to_array(t) for t in model.proto.graph.initializer]
    values = {v.item() for a in arrays for v in a.ravel()}
    assert {t.data_type for t in model.proto.graph.initializer} == {dtype}
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    assert np_dtype.type(np.float32(1 / 6)).item() in values  # 1/6, never 0.167
    assert len({(a.shape, a.tobytes()) for a in arrays}) == len(arrays), "equal constants are stored once"
    onnx.checker.check_model(model.proto, full_check=True)


def test_new_nodes_carry_provenance() -> None:
    model = opswap.model.from_proto(hardswish_model())
    opswap.legalize(model, opswap.load_target("snpe-2.7"))
    new = [n for n in model.proto.graph.node if n.name != "mul"]
    assert new
    for node in new:
        meta = {p.key: p.value for p in node.metadata_props}
        assert meta["opswap.rule"] in {"hardswish_via_onnx_function", "hardsigmoid_via_pointwise_conv"}
        assert meta["opswap.source"] in {"hswish", "hsig"}
    assert len({n.name for n in model.proto.graph.node}) == len(model.proto.graph.node)


def test_legal_model_is_left_alone() -> None:
    model = opswap.model.from_proto(hardswish_model())
    before = model.proto.SerializeToString()
    report = opswap.legalize(model, opswap.load_target("qairt-2.25"))
    assert report.rewrites == [] and report.nodes_added == 0
    assert model.proto.SerializeToString() == before


def test_clip_before_opset_11_takes_attributes() -> None:
    old = make_model(
        [helper.make_node("HardSigmoid", ["x"], ["y"], name="hsig")], [tensor("x", [8])], [tensor("y", [8])], opset=9
    )
    loaded = opswap.model.from_proto(old)
    opswap.legalize(loaded, opswap.load_target("snpe-2.7"))
    clip = next(n for n in loaded.proto.graph.node if n.op_type == "Clip")
    assert len(clip.input) == 1
    assert {a.name: a.f for a in clip.attribute} == {"min": 0.0, "max": 1.0}
    x = np.linspace(-8, 8, 8, dtype=np.float32)
    (want,) = ort_run(old, {"x": x})
    (got,) = ort_run(loaded.proto, {"x": x})
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("keepdims", [1, 0])
def test_spatial_reducemean_becomes_globalaveragepool(keepdims: int) -> None:
    """The dynamo exporter's global pooling (and ShuffleNet's ``x.mean([2, 3])``, without keepdims), for a
    target (like CoreML NeuralNetwork) without ReduceMean."""
    axes = numpy_helper.from_array(np.array([-1, -2], dtype=np.int64), "axes")
    original = make_model(
        [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=keepdims, name="pool")],
        [tensor("x", [1, 8, 7, 7])],
        [tensor("y", [1, 8, 1, 1] if keepdims else [1, 8])],
        opset=18,
        initializers=[axes],
    )
    model = opswap.model.from_proto(original)
    report = opswap.legalize(model, profile("[ops.GlobalAveragePool]\n[ops.Conv]\n[ops.Squeeze]"))
    assert {r.op_type: r.route for r in report.rewrites} == {"ReduceMean": "reducemean_via_globalaveragepool"}
    assert [n.op_type for n in model.proto.graph.node] == ["GlobalAveragePool"] + ([] if keepdims else ["Squeeze"])
    x = np.random.default_rng(0).standard_normal((1, 8, 7, 7)).astype(np.float32)
    (want,), (got,) = ort_run(original, {"x": x}), ort_run(model.proto, {"x": x})
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_hardsigmoid_becomes_a_pointwise_conv_per_channel_count() -> None:
    """[N, C, ...] inputs take the Conv + Clip route (ORT fuses it); the per-channel constants follow
    each node's own channel count even though one route is planned for all (a route that reads
    shapes is keyed by them, also when the shape is read one step down, as in HardSwish)."""
    proto = make_model(
        [
            helper.make_node("HardSwish", ["x"], ["a"], name="hs_a"),
            helper.make_node("Conv", ["a", "w"], ["b"], name="widen"),
            helper.make_node("HardSwish", ["b"], ["c"], name="hs_b"),
            helper.make_node("HardSigmoid", ["c"], ["y"], name="hg", alpha=1 / 6, beta=0.5),
        ],
        [tensor("x", (1, 3, 5, 5))],
        [tensor("y", (1, 8, 5, 5))],
        initializers=[numpy_helper.from_array(np.ones((8, 3, 1, 1), np.float32), "w")],
    )
    original, model = opswap.model.from_proto(proto), opswap.model.from_proto(proto)
    model.proto = onnx.ModelProto.FromString(proto.SerializeToString())
    report = opswap.legalize(model, opswap.load_target("snpe-2.7"))
    assert {r.route for r in report.rewrites} == {
        "hardswish_via_onnx_function > hardsigmoid_via_pointwise_conv",
        "hardsigmoid_via_pointwise_conv",
    }
    convs = [n for n in model.proto.graph.node if n.op_type == "Conv"]
    groups = sorted(a.i for n in convs for a in n.attribute if a.name == "group")
    assert groups == [3, 8, 8]
    x = np.random.default_rng(0).normal(0, 4, (1, 3, 5, 5)).astype(np.float32)
    result = opswap.verify(original, model, inputs=[{"x": x}])
    assert result.passed and result.max_abs == 0.0


def test_nonzero_of_a_bool_mask_is_fixed_for_tensorrt() -> None:
    """TensorRT's NonZero takes float inputs only: a boolean mask goes through an exact Cast first."""
    from opswap.fix import fix
    from opswap.model import from_proto
    from opswap.targets import load_target

    model = make_model(
        [helper.make_node("Greater", ["x", "zero"], ["mask"]), helper.make_node("NonZero", ["mask"], ["y"])],
        [tensor("x", [4, 5])],
        [tensor("y", [2, "n"], TensorProto.INT64)],
        opset=17,
        initializers=[numpy_helper.from_array(np.zeros((1,), np.float32), "zero")],
    )
    report = fix(from_proto(model), load_target("tensorrt-10"))
    assert not report.before.legal and report.legal
    assert [r.route for r in report.legalization.rewrites] == ["nonzero_via_float"]
    assert report.verification is not None and report.verification.passed and report.verification.max_abs == 0


def test_a_dead_end_suggests_allow_approx_only_when_that_route_ends_legal() -> None:
    from conftest import target_of
    from opswap.legalize import legalize
    from opswap.model import from_proto

    def erf_model() -> onnx.ModelProto:
        return make_model([helper.make_node("Erf", ["x"], ["y"])], [tensor("x", [2, 3])], [tensor("y", [2, 3])])

    # The A&S polynomial needs Sign (or its compares), Abs, Exp, Mul, Add, Div: all here.
    enough = target_of("Sign", "Abs", "Exp", "Mul", "Add", "Div", "Sub", "Neg", "Reciprocal")
    report = legalize(from_proto(erf_model()), enough)
    (dead,) = report.unresolved
    assert "--allow-approx takes it" in dead.explanation
    assert legalize(from_proto(erf_model()), enough, allow_approx=True).complete
    # Without Sign and the compares behind it, the flag leads nowhere, and the message says so.
    short = target_of("Abs", "Exp", "Mul", "Add", "Div", "Sub", "Neg", "Reciprocal")
    (dead,) = legalize(from_proto(erf_model()), short).unresolved
    assert "no legal route even with --allow-approx" in dead.explanation and "takes it" not in dead.explanation
    assert not legalize(from_proto(erf_model()), short, allow_approx=True).complete


@pytest.mark.parametrize("op_type", ["Max", "Min"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32])
def test_binary_max_and_min_via_where_pick_what_onnx_runtime_picks(op_type: str, dtype: type) -> None:
    """Ties (+0 and -0), NaN on either side, infinities, broadcasting and arrays long enough for
    ORT's vectorized loops: the rewrite returns ORT's own element, bit for bit."""
    from opswap.legalize import legalize
    from opswap.model import from_proto

    rng = np.random.default_rng(0)
    n = 4099
    if dtype == np.int32:
        a = rng.integers(-5, 5, (3, n)).astype(dtype)
        b = rng.integers(-5, 5, (1, n)).astype(dtype)
    else:
        special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0], dtype=dtype)
        a = rng.choice(special, (3, n)).astype(dtype)
        b = rng.choice(special, (1, n)).astype(dtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    original = make_model(
        [helper.make_node(op_type, ["a", "b"], ["y"])],
        [tensor("a", [3, n], elem), tensor("b", [1, n], elem)],
        [tensor("y", [3, n], elem)],
        opset=13,
    )
    model = from_proto(original)
    report = legalize(model, profile("\n".join(f"[ops.{op}]" for op in ("Where", "Greater", "Less", "Or", "IsNaN"))))
    assert report.complete and op_type not in ops(model.proto)
    (want,) = ort_run(original, {"a": a, "b": b})
    (got,) = ort_run(model.proto, {"a": a, "b": b})
    assert want.tobytes() == got.tobytes()


def test_expand_and_constantofshape_of_a_shape_known_only_at_run_time() -> None:
    """A dynamic batch: Expand and ConstantOfShape read Shape(x), which no fold can make constant."""
    from opswap.legalize import legalize
    from opswap.model import from_proto

    one = helper.make_tensor("", TensorProto.FLOAT, [1], [1.5])
    original = make_model(
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Expand", ["b", "s"], ["e"]),
            helper.make_node("ConstantOfShape", ["s"], ["c"], value=one),
            helper.make_node("Add", ["e", "c"], ["y"]),
        ],
        [tensor("x", ["n", 4]), tensor("b", [1, 4])],
        [tensor("y", ["n", 4])],
    )
    model = from_proto(original)
    target = profile("\n".join(f"[ops.{op}]" for op in ("Shape", "Where", "Add", "ConstantOfShape", "Expand")))
    without = {
        "Expand": profile("\n".join(f"[ops.{op}]" for op in ("Shape", "Where", "Add", "ConstantOfShape"))),
        "ConstantOfShape": profile("\n".join(f"[ops.{op}]" for op in ("Shape", "Where", "Add", "Expand"))),
    }
    assert opswap.check(model, target).legal
    for missing, lacking in without.items():
        model = from_proto(original)
        report = legalize(model, lacking)
        assert report.complete and missing not in ops(model.proto), missing
        for batch in (1, 5, 0):
            feeds = {"x": np.zeros((batch, 4), np.float32), "b": np.arange(4, dtype=np.float32).reshape(1, 4)}
            (want,) = ort_run(original, feeds)
            (got,) = ort_run(model.proto, feeds)
            assert want.shape == got.shape == (batch, 4) and want.tobytes() == got.tobytes()


@pytest.mark.parametrize("repeats", [[2, 1, 3], [1, 0, 2], [3, 3, 1]])
def test_tile_with_repeats_computed_at_run_time(repeats: list[int]) -> None:
    from opswap.legalize import legalize
    from opswap.model import from_proto

    original = make_model(
        [helper.make_node("Tile", ["x", "r"], ["y"])],
        [tensor("x", [2, 3, 4]), tensor("r", [3], TensorProto.INT64)],
        [tensor("y", ["a", "b", "c"])],
        opset=13,
    )
    model = from_proto(original)
    kept = ("Shape", "Concat", "Reshape", "Expand", "Unsqueeze", "Mul", "Max", "Slice")
    report = legalize(model, profile("\n".join(f"[ops.{op}]" for op in kept)))
    assert report.complete and "Tile" not in ops(model.proto)
    feeds = {"x": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "r": np.asarray(repeats, np.int64)}
    (want,) = ort_run(original, feeds)
    (got,) = ort_run(model.proto, feeds)
    assert want.shape == got.shape and np.array_equal(want, got)


def test_shape_arithmetic_upstream_of_an_illegal_node_is_folded_and_nothing_else() -> None:
    """Exporters compute a Reshape's shape from Shape(x): the target lacks the Expand it feeds, whose
    rule needs a constant shape. The cone above the Expand folds; a legal Shape elsewhere stays."""
    from opswap.legalize import legalize
    from opswap.model import from_proto

    original = make_model(
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Gather", ["s", "zero"], ["rows"], axis=0),
            helper.make_node("Concat", ["rows", "four"], ["shape"], axis=0),
            helper.make_node("Expand", ["b", "shape"], ["e"]),
            helper.make_node("Add", ["x", "e"], ["y"]),
            helper.make_node("Shape", ["x"], ["shape_out"]),
        ],
        [tensor("x", [3, 4]), tensor("b", [1, 4])],
        [tensor("y", [3, 4]), tensor("shape_out", [2], TensorProto.INT64)],
        initializers=[
            numpy_helper.from_array(np.array([0], np.int64), "zero"),
            numpy_helper.from_array(np.array([4], np.int64), "four"),
        ],
    )
    model = from_proto(original)
    report = legalize(model, profile("\n".join(f"[ops.{op}]" for op in ("Shape", "Gather", "Concat", "Add", "Mul"))))
    assert report.complete and report.folded == 3  # Shape, Gather, Concat
    assert ops(model.proto) == {"Mul": 1, "Add": 1, "Shape": 1}
    feeds = {"x": np.ones((3, 4), np.float32), "b": np.arange(4, dtype=np.float32).reshape(1, 4)}
    for want, got in zip(ort_run(original, feeds), ort_run(model.proto, feeds), strict=True):
        assert np.array_equal(want, got)


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_integer_mod_via_div_is_exact_for_every_sign(fmod: int, dtype: type) -> None:
    """Qualcomm's HTP computes some Mod node tests wrong; the integer route gives ORT's Mod exactly,
    Python's sign convention (fmod=0) and C's (fmod=1), extremes of the type included."""
    from opswap.legalize import legalize
    from opswap.model import from_proto

    info = np.iinfo(dtype)
    rng = np.random.default_rng(fmod)
    a = rng.integers(info.min, info.max, 5000, dtype=dtype, endpoint=True)
    b = rng.integers(info.min, info.max, 5000, dtype=dtype, endpoint=True)
    a[:4] = [info.min, info.max, 0, 1]
    b[b == 0] = 7
    if info.min < 0:
        b[(a == info.min) & (b == -1)] = 3  # INT_MIN / -1 overflows in both
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    original = make_model(
        [helper.make_node("Mod", ["a", "b"], ["y"], fmod=fmod)],
        [tensor("a", [5000], elem), tensor("b", [5000], elem)],
        [tensor("y", [5000], elem)],
        opset=14,  # Div of 8-bit integers since 14
    )
    model = from_proto(original)
    kept = ("Div", "Mul", "Sub", "Add", "Less", "Xor", "And", "Not", "Equal", "Where")
    report = legalize(model, profile("\n".join(f"[ops.{op}]" for op in kept)))
    assert report.complete and "Mod" not in ops(model.proto)
    (want,) = ort_run(original, {"a": a, "b": b})
    (got,) = ort_run(model.proto, {"a": a, "b": b})
    assert np.array_equal(want, got)


def test_float_mod_says_there_is_no_exact_route() -> None:
    from opswap.legalize import legalize
    from opswap.model import from_proto

    model = from_proto(
        make_model(
            [helper.make_node("Mod", ["a", "b"], ["y"], fmod=1)],
            [tensor("a", [4]), tensor("b", [4])],
            [tensor("y", [4])],
            opset=13,
        )
    )
    report = legalize(model, profile("[ops.Div]\n[ops.Mul]\n[ops.Sub]"))
    assert not report.complete and "float Mod: a - b * trunc(a / b) rounds" in report.unresolved[0].explanation


@pytest.mark.parametrize("op_type", ["Unsqueeze", "Squeeze"])
def test_constant_axes_of_a_dynamic_batch_go_through_a_computed_reshape(op_type: str) -> None:
    """A target without Unsqueeze/Squeeze, a dynamic batch: Reshape to a shape computed from Shape(x)."""
    from opswap.legalize import legalize
    from opswap.model import from_proto

    shape_in, shape_out = (["n", 3], ["n", 1, 3]) if op_type == "Unsqueeze" else (["n", 1, 3], ["n", 3])
    original = make_model(
        [helper.make_node(op_type, ["x", "axes"], ["y"])],
        [tensor("x", shape_in)],
        [tensor("y", shape_out)],
        opset=14,  # a dynamic dimension may be 0: the computed Reshape needs allowzero
        initializers=[numpy_helper.from_array(np.array([1], np.int64), "axes")],
    )
    model = from_proto(original)
    kept = ("Shape", "Reshape", "Where", "Less", "Add", "Equal", "Cast", "ReduceMax", "Sub", "CumSum")
    report = legalize(model, profile("\n".join(f"[ops.{op}]" for op in (*kept, "Gather", "Max", "Compress"))))
    assert report.complete and op_type not in ops(model.proto)
    for batch in (1, 4, 0):
        x = np.arange(batch * 3, dtype=np.float32).reshape([batch, 3] if op_type == "Unsqueeze" else [batch, 1, 3])
        (want,) = ort_run(original, {"x": x})
        (got,) = ort_run(model.proto, {"x": x})
        assert want.shape == got.shape and np.array_equal(want, got)


def test_causal_attention_with_a_kv_cache_for_a_target_without_attention() -> None:
    """ONNX's own body for Attention, asked for the outputs the node uses (the KV cache), with the causal
    mask typed like the ConstantOfShape it is added to: legal with --allow-approx (the body is not
    certified against a kernel), and what ORT's Attention kernel computes."""
    import onnx.defs

    from opswap.legalize import legalize
    from opswap.model import from_proto

    b, heads, seq, past, dim = 2, 3, 4, 5, 8
    original = make_model(
        [
            helper.make_node(
                "Attention", ["q", "k", "v", "", "past_k", "past_v"], ["y", "present_k", "present_v"], is_causal=1
            )
        ],
        [tensor(n, [b, heads, seq, dim]) for n in ("q", "k", "v")]
        + [tensor(n, [b, heads, past, dim]) for n in ("past_k", "past_v")],
        [tensor("y", [b, heads, seq, dim])]
        + [tensor(n, [b, heads, past + seq, dim]) for n in ("present_k", "present_v")],
        opset=23,
    )
    every_op_but_attention = sorted({s.name for s in onnx.defs.get_all_schemas() if s.domain == ""} - {"Attention"})
    model = from_proto(original)
    target = profile("\n".join(f"[ops.{op}]" for op in every_op_but_attention))
    assert not legalize(from_proto(original), target).complete  # the body is not certified exact
    report = legalize(model, target, allow_approx=True)
    assert report.complete and "Attention" not in ops(model.proto)
    rng = np.random.default_rng(0)
    feeds = {
        name: rng.standard_normal([b, heads, past if name.startswith("past") else seq, dim]).astype(np.float32)
        for name in ("q", "k", "v", "past_k", "past_v")
    }
    want = ort_run(original, feeds)
    got = ort_run(model.proto, feeds)
    assert [w.shape for w in want] == [g.shape for g in got]
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
