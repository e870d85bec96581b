"""Loading and saving: atomic writes, inputs never touched, external data carried over unread."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import opswap
from conftest import hardswish_model, make_model, ort_run, save_model, tensor
from opswap import model as model_io
from opswap.errors import ModelError
from opswap.typeinfo import infer_shapes


def _weights_model() -> onnx.ModelProto:
    """y = HardSwish(x @ W): W is big enough to go to external data."""
    weights = numpy_helper.from_array(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32), "W")
    return make_model(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
            helper.make_node("HardSwish", ["h"], ["y"], name="hswish"),
        ],
        [tensor("x", [2, 64])],
        [tensor("y", [2, 64])],
        initializers=[weights],
    )


def _save_external(model: onnx.ModelProto, path: Path) -> None:
    onnx.save(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )


def test_failed_write_leaves_no_file_and_input_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = save_model(_weights_model(), tmp_path / "m.onnx")
    before = source.read_bytes()
    model = opswap.load(source)
    opswap.legalize(model, opswap.load_target("snpe-2.7"))
    out = tmp_path / "out.onnx"

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_io.os, "replace", failing_replace)
    with pytest.raises(ModelError, match="No space left on device"):
        opswap.save(model, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"], "no temporary file may be left behind"
    assert source.read_bytes() == before


def test_interrupted_write_leaves_previous_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = opswap.load(save_model(_weights_model(), tmp_path / "m.onnx"))
    out = tmp_path / "out.onnx"
    out.write_bytes(b"previous result")

    def interrupted_fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(model_io.os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        opswap.save(model, out)
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "out.onnx"]


def test_external_data_stays_external_and_unread(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    source_dir.mkdir()
    source = source_dir / "m.onnx"
    _save_external(_weights_model(), source)
    data = source_dir / "weights.bin"
    data_before = data.read_bytes()

    model = opswap.load(source)
    weights = next(t for t in model.proto.graph.initializer if t.name == "W")
    assert weights.data_location == onnx.TensorProto.EXTERNAL
    assert not weights.raw_data, "external weights must not be read"

    # Output beside the input: the data file is referenced, not copied.
    report = opswap.fix(model, opswap.load_target("snpe-2.7"), source_dir / "fixed.onnx")
    assert report.ok and report.verification is not None and report.verification.passed
    assert sorted(p.name for p in source_dir.iterdir()) == ["fixed.onnx", "m.onnx", "weights.bin"]

    # Output in another folder: the data is copied, named for its output, and the location follows it.
    other = tmp_path / "elsewhere"
    other.mkdir()
    opswap.save(opswap.load(source_dir / "fixed.onnx"), other / "fixed.onnx")
    assert sorted(p.name for p in other.iterdir()) == ["fixed.onnx", "fixed.onnx.data"]
    assert (other / "fixed.onnx.data").read_bytes() == data_before
    assert data.read_bytes() == data_before

    x = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)
    (want,) = ort_run(source, {"x": x})
    (got,) = ort_run(other / "fixed.onnx", {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_external_data_outside_the_model_folder_is_refused(cli, tmp_path: Path) -> None:
    model = _weights_model()
    inner = tmp_path / "inner"
    inner.mkdir()
    _save_external(model, inner / "m.onnx")
    escaped = onnx.load(str(inner / "m.onnx"), load_external_data=False)
    for t in escaped.graph.initializer:
        for entry in t.external_data:
            if entry.key == "location":
                entry.value = "../secret.bin"
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64 * 64 * 4)
    onnx.save(escaped, str(inner / "escaped.onnx"))
    result = cli("check", inner / "escaped.onnx", "--target", "snpe-2.7")
    assert result.code == 2
    assert "points outside the model's folder" in result.stderr


def test_missing_external_data_file(cli, tmp_path: Path) -> None:
    _save_external(_weights_model(), tmp_path / "m.onnx")
    os.remove(tmp_path / "weights.bin")
    result = cli("check", tmp_path / "m.onnx", "--target", "snpe-2.7")
    assert result.code == 2
    assert "external data file 'weights.bin' not found" in result.stderr


def test_fix_is_deterministic(tmp_path: Path) -> None:
    source = save_model(_weights_model(), tmp_path / "m.onnx")
    target = opswap.load_target("snpe-2.7")
    opswap.fix(opswap.load(source), target, tmp_path / "a.onnx", run_verify=False)
    opswap.fix(opswap.load(source), target, tmp_path / "b.onnx", run_verify=False)
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "plain_reads"])
def test_weights_copied_to_another_folder_byte_for_byte_with_holes_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool
) -> None:
    """A sparse weights file (data, a hole, data, a hole at the end) copies exactly, in the kernel
    where it can (holes stay holes), and by plain reads where it cannot (another filesystem)."""
    source = tmp_path / "w.bin"
    with source.open("wb") as handle:
        handle.write(b"head" * 1024)
        handle.seek(64 * 2**20)
        handle.write(b"middle" * 1024)
        handle.truncate(160 * 2**20)
    if not kernel:

        def refuse(*_: object) -> int:
            raise OSError(18, "Invalid cross-device link")  # EXDEV

        monkeypatch.setattr(os, "copy_file_range", refuse)
    target = tmp_path / "copy.bin"
    with source.open("rb") as src, target.open("wb") as dst:
        model_io._copy_data(src, dst)
    assert target.stat().st_size == source.stat().st_size
    with source.open("rb") as a, target.open("rb") as b:
        while chunk := a.read(8 * 2**20):
            assert chunk == b.read(8 * 2**20)
    if kernel:
        assert target.stat().st_blocks * 512 < 8 * 2**20, "the holes were written out"


def _model_with_weights(megabytes: int) -> onnx.ModelProto:
    """y = x + w with w a [n] float initializer of the given size (float_data, not raw), and a small one."""
    n = megabytes * 2**20 // 4
    big = helper.make_tensor("w", onnx.TensorProto.FLOAT, [n], np.arange(n, dtype=np.float32) % 7, raw=False)
    small = numpy_helper.from_array(np.array([2.0], np.float32), "s")
    return make_model(
        [helper.make_node("Add", ["x", "w"], ["t"]), helper.make_node("Mul", ["t", "s"], ["y"])],
        [tensor("x", [n])],
        [tensor("y", [n])],
        initializers=[big, small],
    )


@pytest.fixture
def limit_1mib(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Protobuf's 2 GiB serialization limit, simulated at 1 MiB; yields the real serializer."""
    real = model_io._serialize
    monkeypatch.setattr(model_io, "_serialize", lambda p: None if p.ByteSize() > 2**20 else real(p))
    return real


def test_a_model_too_big_to_serialize_is_written_with_external_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit_1mib
) -> None:
    """Over the 2 GiB limit (simulated at 1 MiB), weights move to <output>.data; it loads and runs."""
    model = opswap.model.from_proto(_model_with_weights(4))
    out = tmp_path / "big.onnx"
    opswap.save(model, out)
    assert (tmp_path / "big.onnx.data").exists() and out.stat().st_size < 2**20
    (w,) = (t for t in onnx.load(str(out), load_external_data=False).graph.initializer if t.name == "w")
    entries = {e.key: e.value for e in w.external_data}
    assert entries["location"] == "big.onnx.data" and int(entries["offset"]) % 4096 == 0
    monkeypatch.setattr(model_io, "_serialize", limit_1mib)
    x = np.ones(4 * 2**20 // 4, np.float32)
    (y,) = ort_run(out, {"x": x})
    assert np.array_equal(y, (x + np.arange(x.size, dtype=np.float32) % 7) * 2)
    assert model.base_dir == tmp_path  # the in-memory model refers to the new data file too


def test_a_failed_externalized_write_restores_the_model_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit_1mib
) -> None:
    model = opswap.model.from_proto(_model_with_weights(2))
    before = onnx.numpy_helper.to_array(model.proto.graph.initializer[0]).copy()
    original_open = model_io._atomic_file
    calls = []

    def failing(path: Path):  # the data file writes, the model file fails (disk full)
        calls.append(path)
        if len(calls) == 2:
            raise ModelError(f"{path}: cannot write (No space left on device)")
        return original_open(path)

    monkeypatch.setattr(model_io, "_atomic_file", failing)
    with pytest.raises(ModelError, match="No space left"):
        opswap.save(model, tmp_path / "big.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    w = model.proto.graph.initializer[0]
    assert w.data_location == onnx.TensorProto.DEFAULT
    assert np.array_equal(onnx.numpy_helper.to_array(w), before)


def test_a_real_model_over_2_gib_is_saved_with_external_weights(tmp_path: Path) -> None:
    """No simulation: 2.1 GiB of weights inside one ModelProto (protobuf cannot serialize it)."""
    n = (2**31 + 2**26) // 4
    free = shutil.disk_usage(tmp_path).free
    if free < 3 * 4 * n:  # the written data, with room left for the tests after this one
        pytest.skip(f"needs {3 * 4 * n / 2**30:.1f} GiB free in {tmp_path.parent}, has {free / 2**30:.1f} GiB")
    proto = make_model([helper.make_node("Add", ["x", "w"], ["y"])], [tensor("x", [n])], [tensor("y", [n])])
    proto.graph.initializer.add(name="w", data_type=onnx.TensorProto.FLOAT, dims=[n]).raw_data = (
        b"\x00\x00\x80\x3f" * n  # 1.0f everywhere
    )
    model = opswap.model.from_proto(proto)
    assert infer_shapes(proto) is None  # onnx's inference serializes the model: shapes unknown, no error
    out = tmp_path / "huge.onnx"
    data = tmp_path / "huge.onnx.data"
    try:
        opswap.save(model, out)
        assert data.stat().st_size == 4 * n and out.stat().st_size < 4096
        with data.open("rb") as handle:
            assert handle.read(8) == b"\x00\x00\x80\x3f" * 2
            handle.seek(-4, os.SEEK_END)
            assert handle.read() == b"\x00\x00\x80\x3f"
        reloaded = opswap.load(out)  # checked by onnx's checker through the file, data unread
        assert reloaded.proto.graph.initializer[0].data_location == onnx.TensorProto.EXTERNAL
    finally:
        data.unlink(missing_ok=True)  # 2.1 GiB: not left for the rest of the run


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Background checking on, even with the threads other tests' libraries leave behind (it is off
    then, to be safe, in a process that is not the CLI's)."""
    if sys.platform != "linux":
        pytest.skip("background checking forks (Linux)")
    monkeypatch.setattr(model_io, "_can_fork", lambda: True)


def _broken(tmp_path: Path) -> Path:
    model = hardswish_model()
    model.graph.node[2].input[1] = "nowhere"  # an input no node produces: onnx's checker refuses it
    return save_model(model, tmp_path / "broken.onnx")


@pytest.mark.usefixtures("forking")
def test_background_check_still_refuses_an_invalid_model(tmp_path: Path) -> None:
    """The checker runs in a child while the model is judged; the judgement waits for its verdict."""
    model = opswap.load(_broken(tmp_path), background_check=True)
    pid = model._checking._pid  # type: ignore[union-attr]
    with pytest.raises(ModelError, match=r"broken\.onnx: invalid ONNX model: .*topologically sorted"):
        opswap.check(model, opswap.load_target("snpe-2.7"))
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # collected, not left as a zombie
    out = tmp_path / "out.onnx"
    again = opswap.load(_broken(tmp_path), background_check=True)
    with pytest.raises(ModelError, match="invalid ONNX model"):
        opswap.fix(again, opswap.load_target("snpe-2.7"), out, convert=False)
    assert not out.exists()
    alone = opswap.load(_broken(tmp_path), background_check=True)
    with pytest.raises(ModelError, match="invalid ONNX model"):
        opswap.legalize(alone, opswap.load_target("snpe-2.7"))  # outside fix, legalize waits itself


@pytest.mark.usefixtures("forking")
def test_background_check_of_a_valid_model_and_of_a_dropped_one(tmp_path: Path) -> None:
    path = save_model(hardswish_model(), tmp_path / "m.onnx")
    model = opswap.load(path, background_check=True)
    report = opswap.check(model, opswap.load_target("snpe-2.7"))
    assert not report.legal and model._checking is None
    dropped = opswap.load(path, background_check=True)
    pid = dropped._checking._pid  # type: ignore[union-attr]
    del dropped
    import gc

    gc.collect()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # stopped and collected with the model


@pytest.mark.usefixtures("forking")
def test_background_check_falls_back_when_the_child_dies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parent, real = os.getpid(), model_io._run_checker

    def dies_in_the_child(subject: object) -> str | None:
        if os.getpid() != parent:
            os._exit(7)
        return real(subject)  # type: ignore[arg-type]

    monkeypatch.setattr(model_io, "_run_checker", dies_in_the_child)
    model = opswap.load(_broken(tmp_path), background_check=True)
    with pytest.raises(ModelError, match="invalid ONNX model"):
        model.ensure_valid()
