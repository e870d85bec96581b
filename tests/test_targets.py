"""Shipped profiles: every one loads, cites its source, and says what its sources say."""

from __future__ import annotations

import pytest
from onnx import helper

import opswap
from conftest import make_model, save_model, tensor
from opswap.targets import aliases, builtin_names, diff_targets, load_target

EXPECTED = {
    "snpe-2.7", "snpe-2.20", "qairt-2.25", "snpe-latest", "qnn-2.13", "ort-nnapi", "ort-coreml-neuralnetwork",
    "ort-coreml-mlprogram", "tensorrt-10", "openvino", "tflite",
}  # fmt: skip


def test_every_listed_profile_ships() -> None:
    assert set(builtin_names()) >= EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_profile_loads_and_cites_its_source(name: str) -> None:
    target = load_target(name)
    assert target.name == name
    assert target.source and target.description
    assert len(target.ops) >= 15


@pytest.mark.parametrize(
    ("name", "hardsigmoid", "hardswish"),
    [
        ("snpe-2.7", False, False),
        ("qnn-2.13", False, False),
        ("snpe-2.20", True, False),
        ("qairt-2.25", True, True),
        ("snpe-latest", True, True),
        ("ort-nnapi", False, False),
        ("ort-coreml-neuralnetwork", False, False),
        ("ort-coreml-mlprogram", True, False),
        ("tensorrt-10", True, True),
        ("openvino", True, True),
        ("tflite", True, True),
    ],
)
def test_hard_activations_as_the_sources_say(name: str, hardsigmoid: bool, hardswish: bool) -> None:
    target = load_target(name)
    assert (target.support("HardSigmoid") is not None) == hardsigmoid
    assert (target.support("HardSwish") is not None) == hardswish


def test_ort_mobile_profiles_follow_onnxruntimes_checker() -> None:
    nnapi, coreml_nn = load_target("ort-nnapi"), load_target("ort-coreml-neuralnetwork")
    assert nnapi.fixed_shapes and coreml_nn.fixed_shapes
    assert coreml_nn.max_rank == 5 and nnapi.max_rank is None
    assert len(nnapi.ops) == 53
    # The NeuralNetwork list's "ai.onnx.ReduceSum" row has no colon: the checker, and so we, skip it.
    assert coreml_nn.support("ReduceSum") is None
    assert nnapi.support("QLinearAdd", "com.microsoft") is not None


def test_tensorrt_checks_types_and_first_output() -> None:
    trt = load_target("tensorrt-10")
    assert trt.model_opsets == (9, 24)
    assert trt.ops[("", "LayerNormalization")].outputs == 1
    assert trt.ops[("", "HardSwish")].dtypes == ("float", "float16", "bfloat16")


def test_qnn_names_resolve_to_the_shared_frontend() -> None:
    qnn = load_target("qnn-2.25")
    qairt = load_target("qairt-2.25")
    assert qnn.ops == qairt.ops
    assert qnn.converter == "qnn-onnx-converter" and qairt.converter == "qairt-converter"
    assert set(aliases()) >= {"qnn-2.25", "snpe-2.25", "qnn-latest"}


def test_diff_snpe_27_to_qairt_225() -> None:
    changes = diff_targets(load_target("snpe-2.7"), load_target("qairt-2.25"))
    assert {"HardSigmoid", "HardSwish", "LayerNormalization", "GroupNormalization", "Gelu"} <= set(changes["added"])
    assert changes["removed"] == []
    assert "Add: versions 1,6,7 -> 1,6,7,13,14" in changes["changed"]


def test_targets_diff_cli(cli) -> None:
    result = cli("targets", "diff", "snpe-2.7", "snpe-2.20", "--format", "json")
    assert result.code == 0
    assert set(result.json()["added"]) >= {"HardSigmoid", "Einsum"}


def test_unknown_target_lists_aliases_too(cli, tmp_path) -> None:
    from conftest import hardswish_model, save_model

    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    result = cli("check", model, "--target", "qnn-2.2")
    assert (result.code == 2 and "qnn-2.20" in result.stderr) or "qnn-2.25" in result.stderr
    assert opswap.check(opswap.load(model), load_target("qnn-2.25")).legal


@pytest.mark.parametrize("name", [*builtin_names(), *aliases()])
def test_fix_with_every_shipped_target_runs_to_its_converter(cli, tmp_path, name: str) -> None:
    """No target's converter step fails opswap itself (onnx2tf writes a folder: ``<stem>_tflite``)."""
    model = save_model(
        make_model(
            [helper.make_node("Relu", ["x"], ["y"], name="relu")],
            [tensor("x", [1, 3, 4, 4])],
            [tensor("y", [1, 3, 4, 4])],
            opset=13,
        ),
        tmp_path / "relu.onnx",
    )
    out = tmp_path / "out.onnx"
    result = cli("fix", model, "--target", name, "-o", out, "--samples", "1", "--format", "json")
    assert result.code in (0, 1), result.stderr
    converter = result.json()["converter"]
    if converter is not None and converter["in_process"]:  # run by `opswap convert`, on the model as named
        assert converter["command"] == f"opswap convert {model} --target {name} -o {out}"
    elif converter is not None and not converter["found"]:
        expected = out.with_name("out" + load_target(name).converter_output_suffix)
        assert str(expected) in converter["command"]


def test_a_converter_output_suffix_cannot_leave_the_folder(cli, tmp_path) -> None:
    profile = tmp_path / "evil.toml"
    profile.write_text(
        '[target]\nname = "evil"\nsource = "test"\nconverter = "x"\nconverter_output_suffix = "/../../x"\n[ops.Relu]\n'
    )
    result = cli("targets", "show", profile)
    assert result.code == 2
    assert "converter_output_suffix: '/../../x' is not a file name ending" in result.stderr


def test_tflite_takes_constant_nodes_as_onnx2tf_lowers_them() -> None:
    """onnx2tf's flatbuffer_direct lowers Constant nodes inline (its source, cited in the profile)."""
    from opswap.targets import load_target

    support = load_target("tflite").support("Constant")
    assert support is not None and support.opsets is None


def test_a_release_between_shipped_ones_resolves_to_the_nearest_below(cli, tmp_path) -> None:
    from conftest import hardswish_model, save_model

    source = save_model(hardswish_model(), tmp_path / "m.onnx")
    done = cli("check", source, "-t", "snpe-2.14", "--format", "json")
    assert done.code == 1 and done.json()["target"] == "snpe-2.7"
    assert "snpe-2.14: no profile of that release; using snpe-2.7" in done.stderr
    assert cli("check", source, "-t", "qnn-2.30").stdout.count("qnn-2.25") >= 1
    for other_major in ("tensorrt-11", "snpe-1.9"):
        refused = cli("check", source, "-t", other_major)
        assert refused.code == 2 and "unknown target" in refused.stderr


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("coreml", "ort-coreml-mlprogram"), ("trt", "tensorrt-10"), ("qnn", "qnn-htp"), ("nnapi", "ort-nnapi")],
)
def test_a_family_word_points_to_its_profiles(cli, tmp_path, typed: str, meant: str) -> None:
    from conftest import hardswish_model, save_model

    done = cli("check", save_model(hardswish_model(), tmp_path / "m.onnx"), "-t", typed)
    assert done.code == 2 and meant in done.stderr and "mnn" not in done.stderr.split("did you mean")[-1]


def test_targets_show_json_carries_every_limit_the_profile_sets(cli) -> None:
    """Issue 16, point 7: nothing the checker uses is left out of the JSON (dtypes, ranks, shapes, opsets)."""
    import opswap

    coreml = cli("targets", "show", "ort-coreml-mlprogram", "-f", "json").json()
    assert coreml["fixed_shapes"] is True and coreml["max_rank"] == 5
    assert coreml["partitions_after"] == "onnxruntime-basic"
    data = cli("targets", "show", "tensorrt-10", "-f", "json").json()
    profile = opswap.load_target("tensorrt-10")
    assert data["model_opsets"] == (list(profile.model_opsets) if profile.model_opsets else None)
    limited = [(f"{d}:{o}" if d else o, e) for (d, o), e in profile.ops.items() if e.dtypes or e.max_rank or e.outputs]
    assert limited, "the profile sets per-op limits"
    for name, entry in limited:
        shown = data["ops"][name]
        assert shown["dtypes"] == (list(entry.dtypes) if entry.dtypes else None)
        assert shown["max_rank"] == entry.max_rank and shown["outputs"] == entry.outputs
