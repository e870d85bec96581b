"""Write ONNX's node tests (the onnx wheel ships their generators, not their data) to a folder.

Layout as in onnx's repository: ``<out>/node/<test>/model.onnx``, ``test_data_set_<k>/input_<i>.pb``,
``output_<i>.pb``, plus ``tolerance.json`` with the rtol/atol the backend tests use.
Run as ``python tests/onnx_node_data.py OUT``; the test suite runs it once and caches the result.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
from onnx import TensorProto, numpy_helper


def _write_tensor(path: Path, value: object, name: str) -> None:
    tensor = value if isinstance(value, TensorProto) else numpy_helper.from_array(np.asarray(value), name)
    path.write_bytes(tensor.SerializeToString())


def generate(out: Path) -> int:
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases()
    written = 0
    for case in cases:
        model = case.model
        if model is None or not case.data_sets:
            continue
        if not all(v.type.HasField("tensor_type") for v in (*model.graph.input, *model.graph.output)):
            continue  # sequence, map and optional values are out of scope here
        case_dir = out / "node" / case.name
        case_dir.mkdir(parents=True, exist_ok=True)
        (case_dir / "model.onnx").write_bytes(model.SerializeToString())
        (case_dir / "tolerance.json").write_text(json.dumps({"rtol": case.rtol, "atol": case.atol}))
        for k, (inputs, outputs) in enumerate(case.data_sets):
            data_dir = case_dir / f"test_data_set_{k}"
            data_dir.mkdir(exist_ok=True)
            for i, value in enumerate(inputs):
                _write_tensor(data_dir / f"input_{i}.pb", value, model.graph.input[i].name)
            for i, value in enumerate(outputs):
                _write_tensor(data_dir / f"output_{i}.pb", value, model.graph.output[i].name)
        written += 1
    return written


if __name__ == "__main__":
    print(generate(Path(sys.argv[1])))
