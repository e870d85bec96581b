"""Reading and writing ONNX models without ever damaging a file.

The protobuf is the working form: opswap scans and splices ``onnx.ModelProto`` directly rather
than building a Python object per node (see the README's design notes). Weights stored as external
data are never read: the model is loaded without them and its references are checked, then carried
over on save.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import onnx
from google.protobuf.message import DecodeError, EncodeError
from onnx import numpy_helper

from opswap.errors import ModelError
from opswap.graphs import iter_tensors


@dataclass
class Model:
    """An ONNX model and the folder its external data is resolved from."""

    proto: onnx.ModelProto
    path: Path | None = None
    #: Folder that relative external-data locations are resolved from.
    base_dir: Path = field(default_factory=Path.cwd)
    #: What the model was made from when it has no file (a PyTorch spec, for example).
    label: str = ""
    #: onnx's checker still running in a child process (``load(..., background_check=True)``).
    _checking: _BackgroundCheck | None = field(default=None, repr=False, compare=False)
    #: How many ``checked`` blocks are open (only the outermost waits).
    _checked_depth: int = field(default=0, repr=False, compare=False)

    @contextlib.contextmanager
    def checked(self) -> Iterator[None]:
        """A block whose result stands only if the model is valid.

        The outermost such block waits for the background checker at its end, and also when it
        fails (an invalid model explains the failure better than the error it caused). Inner blocks
        (check and legalize inside fix) leave the checker running.
        """
        self._checked_depth += 1
        try:
            yield
        except Exception:
            if self._checked_depth == 1:
                self.ensure_valid()
            raise
        finally:
            self._checked_depth -= 1
        if self._checked_depth == 0:
            self.ensure_valid()

    def ensure_valid(self) -> None:
        """Wait for onnx's checker if it runs in the background; raise ModelError if it failed."""
        checking, self._checking = self._checking, None
        if checking is not None:
            message = checking.wait()
            if message is not None:
                raise ModelError(f"{self.name}: invalid ONNX model: {message}")

    @property
    def name(self) -> str:
        """A short name for messages: the file name, the source label, or the graph name."""
        if self.path is not None:
            return self.path.name
        return self.label or self.proto.graph.name or "<model>"

    @property
    def opset(self) -> int:
        """The model's ai.onnx opset version."""
        return default_opset(self.proto.opset_import, self.name)


def default_opset(opset_import: Iterable[onnx.OperatorSetIdProto], where: str) -> int:
    """Return the ai.onnx version among ``opset_import``, or raise a one-line error."""
    for entry in opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise ModelError(f"{where}: no ai.onnx opset import, so op versions are unknown")


def load(path: str | os.PathLike[str], *, background_check: bool = False) -> Model:
    """Load an ONNX model file, leaving external data unread.

    Raises :class:`ModelError` with a one-line message for every kind of bad file. With
    ``background_check`` (Linux), onnx's checker (often the slowest part of loading: 1.2 s of a
    million-node model) runs in a forked child while the caller works; ``Model.ensure_valid`` waits
    for it, and check, legalize's callers and fix call that before they report or write anything.
    """
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: no such file")
    if not p.is_file():
        raise ModelError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise ModelError(f"{p}: empty file, not an ONNX model")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ModelError(f"{p}: cannot read ({exc.strerror or exc})") from None
    checking = None
    if background_check and _can_fork():
        # Started before parsing, so the child's work overlaps the parse too. The checker reads the
        # file itself when external data must be resolved from its folder.
        checking = _BackgroundCheck(str(p) if _EXTERNAL_MARK in data else data)
    try:
        proto = onnx.ModelProto.FromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise ModelError(f"{p}: not an ONNX model ({_first_line(exc)})") from None
    model = Model(proto, p, p.resolve().parent, _checking=checking)
    validate(model, data)
    return model


def from_proto(proto: onnx.ModelProto, base_dir: Path | None = None) -> Model:
    """Wrap an in-memory model (external data, if any, resolved from ``base_dir``)."""
    model = Model(proto, None, base_dir or Path.cwd())
    validate(model)
    return model


def copy(model: Model) -> Model:
    """An independent copy of ``model`` (to keep the original while legalizing in place)."""
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    return Model(proto, model.path, model.base_dir, model.label)


def validate(model: Model, data: bytes | None = None) -> None:
    """Reject what is not a usable ONNX model, with the reason in one line.

    ``data`` is the model's serialized form when the caller has it (the file's bytes). onnx's
    checker is left to the child already running it, if there is one (see ``load``).
    """
    proto, name = model.proto, model.name
    if not proto.HasField("graph") or proto.ir_version <= 0:
        raise ModelError(f"{name}: not an ONNX model (no graph or IR version)")
    if proto.ir_version > onnx.IR_VERSION:
        raise ModelError(
            f"{name}: IR version {proto.ir_version} is newer than this onnx supports ({onnx.IR_VERSION}); upgrade onnx"
        )
    default_opset(proto.opset_import, name)
    if data is None:
        data = _serialize(proto)
    has_external = False
    for tensor in external_tensors(proto, data):
        external_data_path(model, tensor)
        has_external = True
    if model._checking is not None or (data is None and not (has_external and model.path)):
        return  # checked in the background, or over 2 GiB in memory: onnx's checker reads those from a file
    # The checker resolves external data from the model file's folder only when given the path.
    message = _run_checker(str(model.path) if has_external and model.path else data or proto)
    if message is not None:
        raise ModelError(f"{name}: invalid ONNX model: {message}")


def _run_checker(subject: str | bytes | onnx.ModelProto) -> str | None:
    """Onnx's checker on a path, serialized model or model: None, or the first line of its complaint."""
    try:
        onnx.checker.check_model(subject)
    except onnx.checker.ValidationError as exc:
        return _first_line(exc)
    return None


def _can_fork() -> bool:
    # Forking is safe here only where it is the platform's way (Linux) and no other Python thread runs.
    return sys.platform == "linux" and threading.active_count() == 1


class _BackgroundCheck:
    """onnx's checker in a forked child; ``wait`` gives its verdict (None: valid).

    The checker holds the GIL, so a thread would not run beside Python; a forked child shares the
    parent's memory copy-on-write and needs no copy of the model. If the child cannot report (it
    crashed), the parent runs the checker itself.
    """

    def __init__(self, subject: str | bytes | onnx.ModelProto) -> None:
        self._subject: str | bytes | onnx.ModelProto | None = subject
        read, write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child: check, report, leave without running the parent's cleanup
            code = 1
            try:
                os.close(read)
                message = _run_checker(subject)
                os.write(write, b"ok" if message is None else b"no" + message.encode("utf-8", "replace"))
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self._read = read
        self._finalizer = weakref.finalize(self, _reap, self._pid, read)

    def wait(self) -> str | None:
        """Block until the child has judged the model; None if valid, else the complaint."""
        chunks = []
        while chunk := os.read(self._read, 65536):
            chunks.append(chunk)
        self._finalizer.detach()
        os.close(self._read)
        _, status = os.waitpid(self._pid, 0)
        reply = b"".join(chunks)
        if status != 0 or reply[:2] not in (b"ok", b"no"):
            assert self._subject is not None
            return _run_checker(self._subject)  # the child failed: judge here
        return None if reply[:2] == b"ok" else reply[2:].decode("utf-8", "replace")


def _reap(pid: int, read: int) -> None:
    """A model dropped before its check finished: stop the child and collect it."""
    with contextlib.suppress(OSError):
        os.kill(pid, 9)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        os.close(read)


#: How ``data_location: EXTERNAL`` (field 14, varint 1) is serialized in a TensorProto.
_EXTERNAL_MARK = bytes([14 << 3, onnx.TensorProto.EXTERNAL])


def _serialize(proto: onnx.ModelProto) -> bytes | None:
    """The serialized model, or None when it is over protobuf's 2 GiB limit."""
    try:
        data: bytes = proto.SerializeToString()
        return data
    except (EncodeError, ValueError):
        return None


def external_tensors(proto: onnx.ModelProto, data: bytes | None = None) -> Iterator[onnx.TensorProto]:
    """Yield every tensor in the model whose data lives in an external file.

    ``data``, the model serialized, lets a byte search rule out external data without walking the
    graph: no such tensor can be serialized without the two bytes of ``data_location: EXTERNAL``.
    """
    if data is not None and _EXTERNAL_MARK not in data:
        return
    for tensor in iter_tensors(proto):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            yield tensor


def _location(tensor: onnx.TensorProto) -> str:
    for entry in tensor.external_data:
        if entry.key == "location":
            return str(entry.value)
    return ""


def external_data_path(model: Model, tensor: onnx.TensorProto) -> Path:
    """Resolve a tensor's external data file, refusing paths that leave the model's folder."""
    location = _location(tensor)
    where = f"{model.name}: tensor {tensor.name!r}"
    if not location:
        raise ModelError(f"{where} has external data with no location")
    rel = Path(location)
    base = model.base_dir.resolve()
    resolved = (base / rel).resolve()
    if rel.is_absolute() or not resolved.is_relative_to(base):
        raise ModelError(f"{where}: external data path {location!r} points outside the model's folder")
    if not resolved.is_file():
        raise ModelError(f"{where}: external data file {location!r} not found in {base}")
    return resolved


def save(model: Model, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` atomically and return the path.

    The file appears whole or not at all: it is written to a temporary file in the same folder and
    renamed into place. External data files are referenced where they are when the output is in the
    model's folder, and copied beside the output otherwise (relative locations must resolve from
    the new folder).

    A model over protobuf's 2 GiB limit with weights inside is written with its large tensors moved
    to a data file beside the output (``<name>.data``), as ``onnx.save(..., save_as_external_data=True)``
    would; the in-memory model then refers to that file too.
    """
    out = Path(path)
    folder = out.resolve().parent
    if not folder.is_dir():
        raise ModelError(f"{out}: output folder {folder} does not exist")
    data = _serialize(model.proto)
    if folder != model.base_dir.resolve():
        _copy_external_data(model, folder, data)
        if data is None:
            model.base_dir = folder  # its external data is now beside the output too
    if data is None:
        _save_externalized(model, out)
        return out
    with _atomic_file(out) as handle:
        handle.write(data)
    return out


#: Tensors from this size up move to the data file when a model is too big to serialize whole.
_EXTERNAL_THRESHOLD = 1024
#: Offsets in the data file are multiples of this (lets runtimes map tensors in place).
_ALIGNMENT = 4096


def _save_externalized(model: Model, out: Path) -> None:
    """Write ``model`` with its large inline tensors moved to a data file beside ``out``.

    The data file is written (atomically) before any tensor is changed, and the tensors are put
    back if writing the model fails, so a failure leaves the model as it was and no file behind.
    """
    proto = model.proto
    taken = {_location(t) for t in external_tensors(proto)}
    location = f"{out.name}.data"
    k = 1
    while location in taken:
        location, k = f"{out.name}.{k}.data", k + 1
    moving = [
        t
        for t in iter_tensors(proto)
        if t.data_location != onnx.TensorProto.EXTERNAL
        and t.data_type != onnx.TensorProto.STRING
        and _nbytes(t) >= _EXTERNAL_THRESHOLD
    ]
    data_path = out.resolve().parent / location
    placed: list[tuple[onnx.TensorProto, int, int]] = []
    with _atomic_file(data_path) as handle:
        offset = 0
        for tensor in moving:
            raw = tensor.raw_data if tensor.HasField("raw_data") else numpy_helper.to_array(tensor).tobytes()
            handle.seek(offset)
            handle.write(raw)
            placed.append((tensor, offset, len(raw)))
            offset += -(-len(raw) // _ALIGNMENT) * _ALIGNMENT
            del raw
    for tensor, offset, length in placed:
        _make_external(tensor, location, offset, length)
    try:
        data = _serialize(proto)
        if data is None:
            raise ModelError(f"{out}: still over 2 GiB with every tensor of 1 KiB or more outside")
        with _atomic_file(out) as handle:
            handle.write(data)
    except BaseException:
        with data_path.open("rb") as source:
            for tensor, offset, length in placed:
                source.seek(offset)
                _make_inline(tensor, source.read(length))
        with contextlib.suppress(OSError):
            data_path.unlink()
        raise


def _nbytes(tensor: onnx.TensorProto) -> int:
    """The size of a tensor's data from its shape (ByteSize fails on tensors over 2 GiB)."""
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, TypeError, ValueError):
        itemsize = 1
    return int(math.prod(tensor.dims)) * int(itemsize)


def _make_external(tensor: onnx.TensorProto, location: str, offset: int, length: int) -> None:
    for name in ("raw_data", "float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data"):
        tensor.ClearField(name)
    tensor.data_location = onnx.TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        tensor.external_data.add(key=key, value=value)


def _make_inline(tensor: onnx.TensorProto, raw: bytes) -> None:
    tensor.data_location = onnx.TensorProto.DEFAULT
    del tensor.external_data[:]
    tensor.raw_data = raw


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file atomically (whole or not at all)."""
    with _atomic_file(Path(path)) as handle:
        handle.write(text.encode("utf-8"))


def _copy_external_data(model: Model, folder: Path, data: bytes | None) -> None:
    locations = {_location(t): external_data_path(model, t) for t in external_tensors(model.proto, data)}
    for location, source in locations.items():
        target = folder / location
        if target.exists():
            if target.samefile(source) or _same_content(target, source):
                continue
            raise ModelError(
                f"{target}: exists and differs from the model's external data {source}; choose another output folder"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with _atomic_file(target) as handle, source.open("rb") as src:
            _copy_data(src, handle)


_NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, None)


def _copy_data(src: BinaryIO, dst: BinaryIO) -> None:
    """Copy a file in the kernel (``copy_file_range``), keeping its holes; plain reads where unsupported.

    Weights files are often sparse (zero-initialized, preallocated): only the ranges that hold data
    are copied, and the copy is as sparse as the original. No byte passes through Python.
    """
    size = os.fstat(src.fileno()).st_size
    try:
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            position = start
            while position < end:
                done = os.copy_file_range(src.fileno(), dst.fileno(), end - position, position, position)
                if done == 0:
                    raise OSError("copy_file_range copied nothing")
                position += done
            offset = end
        os.ftruncate(dst.fileno(), size)  # a hole at the end, or an empty file
    except (AttributeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (
            errno.EXDEV,
            errno.ENOSYS,
            errno.EINVAL,
            errno.EOPNOTSUPP,
            None,
        ):
            raise
        src.seek(0)
        dst.seek(0)
        dst.truncate(0)
        shutil.copyfileobj(src, dst, 16 * 2**20)


def _same_content(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            chunk = fa.read(2**20)
            if chunk != fb.read(2**20):
                return False
            if not chunk:
                return True


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.resolve().parent)
    except OSError as exc:
        raise ModelError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ModelError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
