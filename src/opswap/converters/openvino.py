"""OpenVINO: ``openvino.convert_model`` + ``save_model``, then its outputs against ORT's on the original.

OpenVINO's CPU plugin infers in bf16 by default on CPUs that have it (about 4% error on MobileNetV3,
measured here): the comparison compiles with ``INFERENCE_PRECISION_HINT = f32``, and the IR is saved
without fp16 compression.

OpenVINO's converter sends usage telemetry (Google Analytics, from a child process) and writes a
client id under ``~/intel`` unless told otherwise; opswap never lets it: ``import_openvino`` makes
``openvino_telemetry`` unimportable first, and OpenVINO then uses its own no-op stub.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from opswap.errors import FrontendError
from opswap.model import Model
from opswap.verify import Draw, VerifyReport


def import_openvino() -> Any:
    """``openvino``, with its telemetry off (nothing sent, nothing written in the home folder)."""
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import fails: OpenVINO's stub
    try:
        import openvino
    except ImportError:
        raise FrontendError("the openvino target needs OpenVINO: pip install openvino") from None
    return openvino


def convert(fixed_path: Path, output: Path, original: Model, draw: Draw) -> tuple[Path, VerifyReport]:
    """Convert the fixed ONNX file to OpenVINO IR at ``output`` (.xml + .bin) and compare it with the original."""
    ov = import_openvino()
    model = ov.convert_model(str(fixed_path))
    ov.save_model(model, str(output), compress_to_fp16=False)
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    names = [port.get_any_name() for port in compiled.outputs]
    request = compiled.create_infer_request()

    def run(feed: dict) -> list:  # type: ignore[type-arg]
        results = request.infer(feed)
        return [results[port] for port in compiled.outputs]

    return output, draw.compare(original, run, names)
