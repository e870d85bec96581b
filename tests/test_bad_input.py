"""Bad input: one line on stderr, exit code 2, no traceback, input untouched, no output left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from onnx import helper

from conftest import hardswish_model, save_model

GOOD_PROFILE = """
[target]
name = "mine"
source = "test"
[ops.Relu]
"""


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("opswap: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.onnx"
    noise.write_bytes(os.urandom(4096))
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    truncated = tmp_path / "truncated.onnx"
    whole = hardswish_model().SerializeToString()
    truncated.write_bytes(whole[: len(whole) // 2])
    no_graph = tmp_path / "tensor.onnx"
    no_graph.write_bytes(helper.make_tensor("t", 1, [1], [1.0]).SerializeToString())
    no_opset = tmp_path / "no-opset.onnx"
    model = hardswish_model()
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    save_model(model, no_opset)
    return {
        "missing": (tmp_path / "missing.onnx", "no such file"),
        "empty": (empty, "empty file"),
        "random bytes": (noise, ""),
        "text": (text, ""),
        "truncated": (truncated, ""),
        "not a model": (no_graph, "not an ONNX model"),
        "no ai.onnx opset": (no_opset, "no ai.onnx opset import"),
    }


@pytest.mark.parametrize(
    "kind", ["missing", "empty", "random bytes", "text", "truncated", "not a model", "no ai.onnx opset"]
)
@pytest.mark.parametrize("command", ["check", "fix"])
def test_bad_model_file(cli, tmp_path: Path, kind: str, command: str) -> None:
    path, fragment = _bad_files(tmp_path)[kind]
    before = path.read_bytes() if path.exists() else None
    out = tmp_path / "out.onnx"
    args = [command, path, "--target", "snpe-2.7"] + (["-o", out] if command == "fix" else [])
    result = cli(*args)
    _assert_one_line_error(result, path.name, fragment)
    assert not out.exists()
    assert (path.read_bytes() if path.exists() else None) == before


def test_unknown_target_suggests_close_names(cli, tmp_path: Path) -> None:
    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    _assert_one_line_error(cli("check", model, "--target", "snpe-27"), "unknown target 'snpe-27'", "snpe-2.7")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[target\nname=", "not valid TOML"),
        (GOOD_PROFILE + "[ops.Relu.extra]\n", "unknown key 'extra'"),
        (GOOD_PROFILE.replace('name = "mine"', "name = 3"), "expected str"),
        ('[target]\nname = "x"\n', "missing key 'source'"),
        (GOOD_PROFILE + "[ops.Add]\nopsets = ['13']\n", "list of integers"),
    ],
)
def test_bad_profile(cli, tmp_path: Path, text: str, fragment: str) -> None:
    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    profile = tmp_path / "p.toml"
    profile.write_text(text)
    _assert_one_line_error(cli("check", model, "--target", profile), "p.toml", fragment)


def test_missing_profile_file(cli, tmp_path: Path) -> None:
    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    _assert_one_line_error(cli("check", model, "--target", tmp_path / "nope.toml"), "no such profile file")


def test_output_equal_to_input_is_refused(cli, tmp_path: Path) -> None:
    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    before = model.read_bytes()
    _assert_one_line_error(cli("fix", model, "--target", "snpe-2.7", "-o", model), "--in-place")
    assert model.read_bytes() == before
    assert cli("fix", model, "--target", "snpe-2.7", "-o", model, "--in-place").code == 0
    assert model.read_bytes() != before


def test_missing_output_folder(cli, tmp_path: Path) -> None:
    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    _assert_one_line_error(
        cli("fix", model, "--target", "snpe-2.7", "-o", tmp_path / "no" / "out.onnx"), "does not exist"
    )


def test_symbolic_dims_need_input_shape(cli, tmp_path: Path) -> None:
    model = hardswish_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    path = save_model(model, tmp_path / "m.onnx")
    out = tmp_path / "out.onnx"
    _assert_one_line_error(
        cli("fix", path, "--target", "snpe-2.7", "-o", out),
        "m.onnx: input 'x' has a symbolic dimension 'batch'",
        "--input-shape",
    )
    assert not out.exists()
    ok = cli("fix", path, "--target", "snpe-2.7", "-o", out, "--input-shape", "x=4,3,8,8")
    assert ok.code == 0, ok.stderr
    assert out.exists()


def test_bad_input_shape_syntax(cli, tmp_path: Path) -> None:
    path = save_model(hardswish_model(), tmp_path / "m.onnx")
    _assert_one_line_error(
        cli("fix", path, "--target", "snpe-2.7", "-o", tmp_path / "o.onnx", "--input-shape", "x:1,2"), "NAME=D1,D2"
    )


def test_unknown_torchvision_model(cli) -> None:
    pytest.importorskip("torchvision")
    _assert_one_line_error(cli("check", "torchvision:mobilenet_v9", "--target", "snpe-2.7"), "no model 'mobilenet_v9'")


@pytest.mark.parametrize("command", ["check", "fix"])
def test_model_failing_onnxs_checker(cli, tmp_path: Path, command: str) -> None:
    """The CLI runs onnx's checker beside its own work (a forked child): its verdict still decides."""
    model = hardswish_model()
    model.graph.node[2].input[1] = "nowhere"  # an input no node produces
    path = save_model(model, tmp_path / "broken.onnx")
    before = path.read_bytes()
    out = tmp_path / "out.onnx"
    args = [command, path, "--target", "snpe-2.7"] + (["-o", out] if command == "fix" else [])
    _assert_one_line_error(cli(*args), "broken.onnx", "invalid ONNX model")
    assert path.read_bytes() == before and not out.exists()


def test_unsupported_ir_version(cli, tmp_path: Path) -> None:
    model = hardswish_model()
    model.ir_version = 99
    path = save_model(model, tmp_path / "future.onnx")
    _assert_one_line_error(cli("check", path, "--target", "snpe-2.7"), "IR version 99 is newer")


def test_unwritable_output_is_one_line(cli, tmp_path: Path) -> None:
    """As root, a read-only folder does not stop a write; an output path that is a folder does."""
    path = save_model(hardswish_model(), tmp_path / "m.onnx")
    folder = tmp_path / "out.onnx"
    folder.mkdir()
    _assert_one_line_error(cli("fix", path, "--target", "snpe-2.7", "-o", folder), "out.onnx", "cannot write")
    assert folder.is_dir()


def test_read_only_output_folder(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder that refuses new files: one line naming the output, nothing left, input untouched.

    Really read-only when the tests run as a user; as root (CI), which may write anywhere, the
    refusal is simulated where the write starts (the temporary file beside the output).
    """
    import tempfile

    import opswap
    from opswap.errors import ModelError

    path = save_model(hardswish_model(), tmp_path / "m.onnx")
    before = path.read_bytes()
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            result = cli("fix", path, "--target", "snpe-2.7", "-o", folder / "out.onnx")
        finally:
            folder.chmod(0o755)
        _assert_one_line_error(result, "out.onnx", "cannot write", "Permission denied")
    else:

        def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        model = opswap.load(path)
        with pytest.raises(ModelError, match=r"out\.onnx: cannot write \(Permission denied\)"):
            opswap.fix(model, opswap.load_target("snpe-2.7"), folder / "out.onnx", convert=False)
    assert list(folder.iterdir()) == []
    assert path.read_bytes() == before
