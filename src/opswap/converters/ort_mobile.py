"""ONNX Runtime's own mobile usability check: how many partitions an NNAPI or CoreML EP would get.

Uses onnxruntime.tools.mobile_helpers as ``python -m onnxruntime.tools.check_onnx_model_mobile_usability``
does: the model is optimized to BASIC level, shapes are inferred, and partitions are estimated with
fixed input sizes required.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Profile name -> (the EP's name in ORT's report, its op list file or None for NNAPI).
EPS = {
    "ort-nnapi": ("NNAPI", None),
    "ort-coreml-neuralnetwork": ("CoreML NeuralNetwork", "coreml_supported_neuralnetwork_ops.md"),
    "ort-coreml-mlprogram": ("CoreML MLProgram", "coreml_supported_mlprogram_ops.md"),
}


@dataclass(frozen=True)
class Partitions:
    """ORT's estimate for one execution provider."""

    ep: str
    partitions: int
    supported_nodes: int
    nodes: int
    suitability: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ep": self.ep,
            "partitions": self.partitions,
            "supported_nodes": self.supported_nodes,
            "nodes": self.nodes,
            "suitability": self.suitability,
        }


def partitions(model_path: Path, target_name: str) -> Partitions:
    """Partition estimate of ``model_path`` for the EP behind ``target_name``."""
    from onnxruntime.tools.mobile_helpers import usability_checker as checker
    from onnxruntime.tools.onnx_model_utils import ModelProtoWithShapeInfo, optimize_model

    base = target_name.split(":", maxsplit=1)[0]
    ep, config = EPS[base]
    with tempfile.TemporaryDirectory(prefix="opswap-ort-mobile-") as tmp:
        optimized = Path(tmp) / model_path.name
        optimize_model(model_path, optimized, use_external_initializers=True)
        model = ModelProtoWithShapeInfo(optimized).model_with_shape_info
        if config is None:
            info = checker.check_nnapi_partitions(model, require_fixed_input_sizes=True)
        else:
            info = checker.check_coreml_partitions(model, require_fixed_input_sizes=True, config_filename=config)
    return Partitions(ep, info.num_partitions, info.num_supported_nodes, info.num_nodes, info.suitability().name)
