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
    def source(self) -> str:
        """Where the model came from, as the user named it: the path as given, or the source label."""
        return str(self.path) if self.path is not None else self.name

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
    # Relative locations resolve from the folder the path names (as onnx and ONNX Runtime resolve them).
    model = Model(proto, p, p.parent.resolve(), _checking=checking)
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
    opset = default_opset(proto.opset_import, name)
    if opset > onnx.defs.onnx_opset_version() or opset < 1:
        raise ModelError(
            f"{name}: ai.onnx opset {opset} is not one this onnx knows (1 to {onnx.defs.onnx_opset_version()})"
        )
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
    """Resolve a tensor's external data file, refusing what a runtime would read wrong or outside the folder.

    The location must be a relative path inside the model's folder, name an existing file that is not
    the model itself, and its ``offset`` and ``length`` must be non-negative integers within that
    file, enough for the tensor's shape. Nothing is read from the data file.
    """
    location = _location(tensor)
    where = f"{model.name}: tensor {tensor.name!r}"
    if not location:
        raise ModelError(f"{where} has external data with no location")
    if "\0" in location or any(ord(c) < 32 for c in location):
        raise ModelError(f"{where}: external data location {location!r} holds control characters")
    rel = Path(location)
    base = model.base_dir.resolve()
    resolved = (base / rel).resolve()
    if rel.is_absolute() or not resolved.is_relative_to(base):
        raise ModelError(f"{where}: external data path {location!r} points outside the model's folder")
    if not resolved.is_file():
        raise ModelError(f"{where}: external data file {location!r} not found in {base}")
    if model.path is not None and _same_path(resolved, model.path):
        raise ModelError(f"{where}: external data location {location!r} is the model file itself")
    size = resolved.stat().st_size
    entries = {e.key: e.value for e in tensor.external_data}
    numbers = {}
    for key in ("offset", "length"):
        if key in entries:
            text = entries[key]
            if not text.isdigit():
                raise ModelError(f"{where}: external data {key} {text!r} is not a non-negative integer")
            numbers[key] = int(text)
    offset = numbers.get("offset", 0)
    length = numbers.get("length", size - offset)
    if offset + length > size or offset > size:
        raise ModelError(
            f"{where}: external data {location!r} offset {offset} + length {length} is past its end ({size} bytes)"
        )
    needed = _nbytes(tensor) if tensor.data_type in _FIXED_SIZE_TYPES else 0
    if needed > length:
        raise ModelError(f"{where}: external data {location!r} holds {length} bytes, the tensor's shape needs {needed}")
    return resolved


#: Element types whose data size follows from the shape alone (not strings, not sub-byte packed types).
_FIXED_SIZE_TYPES = frozenset(
    getattr(onnx.TensorProto, name)
    for name in (
        "FLOAT",
        "UINT8",
        "INT8",
        "UINT16",
        "INT16",
        "INT32",
        "INT64",
        "BOOL",
        "FLOAT16",
        "DOUBLE",
        "UINT32",
        "UINT64",
        "COMPLEX64",
        "COMPLEX128",
        "BFLOAT16",
    )
)


def _same_path(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through symlinks and hard links); False if either is missing."""
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def protected_files(model: Model) -> list[tuple[Path, str]]:
    """The files an output must not overwrite: the model's file, then every external data file it reads."""
    found: list[tuple[Path, str]] = [(model.path, "the input file")] if model.path is not None else []
    data = {external_data_path(model, t): None for t in external_tensors(model.proto)}
    return found + [(path, "the input's external data file") for path in data]


def check_output(output: Path, protected: Iterable[tuple[Path, str]], *, in_place: bool = False) -> None:
    """Refuse an output path that would overwrite a file the user gave us to read.

    ``protected`` pairs each such file with what it is ("the input file", "the input's external data
    file", "the --inputs file", ...). The first entry may be overwritten when ``in_place``; the others
    never (overwriting a model's own weights destroys the model). Symlinks and hard links count.
    """
    for k, (path, what) in enumerate(protected):
        if _same_path(output, path) or _same_path(output.parent.resolve() / output.name, path):
            if k == 0 and in_place:
                continue
            hint = "; pass --in-place to overwrite it" if k == 0 else ""
            raise ModelError(f"{output}: output is {what} ({path.name}){hint}")


def save(model: Model, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` atomically and return the path.

    The file appears whole or not at all: it is written to a temporary file in the folder where it
    lands (``path``'s parent, resolved: a symlink at ``path`` itself is replaced, not followed) and
    renamed into place. External data files are referenced where they are when the output lands in
    the model's folder; otherwise each is copied beside the output as ``<output name>.data`` (then
    ``.1.data``, ...), named for its output so that no other model's data file is reused or
    overwritten, and the model's locations are changed to match. A failure removes every file this
    call created and leaves the model as it was.

    A model over protobuf's 2 GiB limit with weights inside is written with its large tensors moved
    to a data file beside the output (``<name>.data``), as ``onnx.save(..., save_as_external_data=True)``
    would; the in-memory model then refers to that file too.

    Before returning, the written file is compared with what was serialized, and every external
    location is resolved from the folder the file is in (``ModelError`` otherwise).
    """
    out = Path(path)
    folder = output_folder(out)
    data = _serialize(model.proto)
    moved: list[tuple[onnx.TensorProto, str]] = []
    created: list[Path] = []
    old_base = model.base_dir
    try:
        if folder != model.base_dir.resolve():
            _copy_external_data(model, folder, out.name, moved, created)
            model.base_dir = folder  # its external data is now beside the output
            if moved:
                data = _serialize(model.proto)
        if data is None:
            _save_externalized(model, out)
        else:
            with _atomic_file(out) as handle:
                handle.write(data)
        _confirm_written(model, out, data)
    except BaseException:
        for tensor, location in moved:
            _set_location(tensor, location)
        model.base_dir = old_base
        for created_path in created:
            with contextlib.suppress(OSError):
                created_path.unlink()
        raise
    return out


def output_folder(out: Path) -> Path:
    """The folder an output really lands in (resolved), or ``ModelError`` if it is not an existing folder."""
    try:
        folder = out.parent.resolve()
    except (OSError, ValueError) as exc:
        raise ModelError(f"{out}: cannot write ({exc})") from None
    if not folder.is_dir():
        raise ModelError(f"{out}: output folder {folder} does not exist")
    return folder


def _confirm_written(model: Model, out: Path, data: bytes | None) -> None:
    """Re-open what was written: the bytes on disk are the model, and its data resolves from there."""
    written = Model(model.proto, out, out.parent.resolve(), model.label)
    if data is not None:
        try:
            with out.open("rb") as handle:
                view, offset = memoryview(data), 0
                while chunk := handle.read(16 * 2**20):
                    if view[offset : offset + len(chunk)] != chunk:
                        raise ModelError(f"{out}: the file on disk differs from the model written")
                    offset += len(chunk)
            if offset != len(data):
                raise ModelError(f"{out}: the file on disk is {offset} bytes, {len(data)} were written")
        except OSError as exc:
            raise ModelError(f"{out}: cannot read back ({exc.strerror or exc})") from None
    for tensor in external_tensors(model.proto, data):
        external_data_path(written, tensor)


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
    data_path = out.parent.resolve() / location
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


def _copy_external_data(
    model: Model, folder: Path, out_name: str, moved: list[tuple[onnx.TensorProto, str]], created: list[Path]
) -> None:
    """Copy each external data file beside the output as ``<out_name>.data`` (``.1.data``, ...).

    Each copy is written atomically under a name of its own output, and the tensors' locations are
    changed to it. Each change is recorded as it is made, in ``moved`` (a tensor and its old
    location) and ``created`` (a file written), for the caller to undo on failure.
    """
    by_source: dict[Path, list[onnx.TensorProto]] = {}
    for tensor in external_tensors(model.proto):
        by_source.setdefault(external_data_path(model, tensor), []).append(tensor)
    for k, (source, tensors) in enumerate(by_source.items()):
        location = f"{out_name}.data" if k == 0 else f"{out_name}.{k}.data"
        target = folder / location
        if not _same_path(target, source):
            with _atomic_file(target) as handle, source.open("rb") as src:
                _copy_data(src, handle)
            created.append(target)
        for tensor in tensors:
            moved.append((tensor, _location(tensor)))
            _set_location(tensor, location)


def _set_location(tensor: onnx.TensorProto, location: str) -> None:
    for entry in tensor.external_data:
        if entry.key == "location":
            entry.value = location


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


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent.resolve())
    except OSError as exc:
        raise ModelError(f"{path}: cannot write ({exc.strerror or exc})") from None
    _TEMPORARY.add(tmp)
    try:
        os.fchmod(fd, _mode_for(path))
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
    finally:
        _TEMPORARY.discard(tmp)


#: Temporary files being written now: removed by ``remove_temporary_files`` when a signal ends the process.
_TEMPORARY: set[str] = set()


def remove_temporary_files() -> None:
    """Delete the temporary files of writes still in progress (the CLI calls this on SIGTERM)."""
    for tmp in list(_TEMPORARY):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _TEMPORARY.clear()


def _mode_for(path: Path) -> int:
    """The mode a new file gets from the umask, or the mode of the file it replaces (``--in-place``)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except (OSError, ValueError):
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
