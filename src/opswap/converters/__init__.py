"""Running a target's vendor converter on a model, when it is installed.

The command comes from the profile (``converter`` and ``converter_args``) and runs as an argument
list, never through a shell. When the tool is not on PATH, the result carries the exact command the
user should run.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opswap.targets import Target

#: Converters opswap runs in its own Python (``opswap convert``), not as programs on PATH.
IN_PROCESS = frozenset({"openvino", "onnx2torch", "mnn", "ort-mobile-usability", "qnn-htp"})

#: Qualcomm's ONNX frontend stops on the first op it has no translation for.
_NO_TRANSLATION = re.compile(r"No translation registered for op type onnx_(\w+)")


@dataclass
class ConverterResult:
    """What happened when the target's converter was (or would be) run."""

    tool: str
    command: list[str]
    found: bool
    returncode: int | None = None
    output: Path | None = None
    #: Ops the converter named as unsupported, lower-cased as it prints them.
    rejected_ops: list[str] = field(default_factory=list)
    log_tail: str = ""
    #: The converter runs inside opswap: ``command`` is the ``opswap convert`` that runs it.
    in_process: bool = False
    #: Why the converter was not run although it may be installed (a user profile's program, not asked for).
    held: str = ""

    @property
    def succeeded(self) -> bool:
        """The converter ran and exited 0."""
        return self.found and self.returncode == 0

    @property
    def command_line(self) -> str:
        """The command as a user would type it."""
        return shlex.join(self.command)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "tool": self.tool,
            "found": self.found,
            "in_process": self.in_process,
            "command": self.command_line,
            "returncode": self.returncode,
            "output": str(self.output) if self.output else None,
            "rejected_ops": self.rejected_ops,
            "held": self.held or None,
        }


def converter_output(target: Target, model_path: Path) -> Path:
    """Where the converter writes: beside the model, its stem plus the target's ending.

    ``.dlc`` for SNPE, ``_tflite`` for onnx2tf's output folder.
    """
    return model_path.with_name(model_path.stem + (target.converter_output_suffix or ".out"))


def converter_outputs(target: Target, model_path: Path) -> list[Path]:
    """Every file the target's converter writes beside the model (qnn-htp: the .dlc and the EPContext model)."""
    first = converter_output(target, model_path)
    if target.converter == "qnn-htp":
        return [first, first.with_name(first.stem + CONTEXT_SUFFIX)]
    return [first]


#: The EPContext model qnn-htp writes beside its ``.dlc``: ``<stem>_ctx.onnx``.
CONTEXT_SUFFIX = "_ctx.onnx"


def converter_command(target: Target, model_path: Path) -> tuple[list[str], Path]:
    """The argument list that converts ``model_path`` for ``target``, and the file it writes."""
    output = converter_output(target, model_path)
    args = [a.replace("{input}", str(model_path)).replace("{output}", str(output)) for a in target.converter_args]
    return [target.converter, *args], output


def user_program(target: Target) -> bool:
    """Whether the target's converter is a program named by a user's profile file, not by opswap.

    Profiles are untrusted data: such a program runs only when the user asks for conversion
    (``opswap convert``, ``opswap fix --convert``), never by default.
    """
    return bool(target.converter) and target.path is not None and target.converter not in IN_PROCESS


def run_converter(
    target: Target,
    model_path: Path,
    timeout: float | None = None,
    source: str | None = None,
    options: Sequence[str] = (),
    *,
    asked: bool = False,
    announce: Callable[[list[str]], None] | None = None,
) -> ConverterResult | None:
    """Run the target's converter on ``model_path`` if it is on PATH; None if the target names none.

    A converter that runs inside opswap (see ``IN_PROCESS``) is not run here: the result carries the
    ``opswap convert`` command for ``source`` (the model as the user named it), with ``options``,
    that runs it. A program named by a user's profile runs only when ``asked`` (see
    ``user_program``); otherwise the result is ``held`` with the command it would run.
    ``announce`` receives the exact argument list just before the program starts.
    """
    if not target.converter:
        return None
    if target.converter in IN_PROCESS:
        command = ["opswap", "convert", source or str(model_path), "--target", target.name, "-o", str(model_path)]
        command += options
        return ConverterResult(tool=target.converter, command=command, found=False, in_process=True)
    command, output = converter_command(target, model_path)
    executable = shutil.which(target.converter)
    if executable is None:
        return ConverterResult(tool=target.converter, command=command, found=False, output=output)
    if user_program(target) and not asked:
        held = f"{target.converter} is named by the profile {target.path}, not by opswap; it runs only when asked"
        return ConverterResult(tool=target.converter, command=command, found=True, output=None, held=held)
    if announce is not None:
        announce([executable, *command[1:]])
    completed = subprocess.run(
        [executable, *command[1:]],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    log = completed.stdout + completed.stderr
    return ConverterResult(
        tool=target.converter,
        command=command,
        found=True,
        returncode=completed.returncode,
        output=output if completed.returncode == 0 else None,
        rejected_ops=sorted(set(_NO_TRANSLATION.findall(log))),
        log_tail="\n".join(log.strip().splitlines()[-10:]),
    )
