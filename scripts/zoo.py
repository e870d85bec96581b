"""The real-world table: exported models x shipped targets, fixed and verified (issue 14).

Two steps, so one set of exported files serves every version of opswap compared:

    python scripts/zoo.py export .cache/zoo          # torch, torchvision, timm, transformers
    python scripts/zoo.py run .cache/zoo out.json    # opswap only: legal / fixed+verified / no route
    python scripts/zoo.py table before.json after.json   # the markdown table, before -> after

``run`` uses only opswap's Python API as it has been since the start (load, load_target, fix), so
``PYTHONPATH=<old checkout>/src python scripts/zoo.py run ...`` measures an older version on the
same files. Models are exported as users export them: TorchScript at opset 14 (17 for the
transformer), random weights with BatchNorm statistics calibrated on random inputs (no hub access
here), static shapes. Verification runs ONNX Runtime on 2 random inputs per pair.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLASSIFIERS = [
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "mobilenet_v2",
    "resnet18",
    "resnet50",
    "efficientnet_b0",
    "shufflenet_v2_x1_0",
    "squeezenet1_1",
    "densenet121",
    "googlenet",
    "regnet_y_400mf",
    "mnasnet1_0",
    "convnext_tiny",
    "vit_b_16",
]
DETECTORS = ["ssdlite320_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn"]
SEGMENTERS = ["lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large"]
TIMM = ["ghostnetv2_100", "hgnetv2_b0", "mobilevit_xs"]


def _export(module: Any, args: tuple[Any, ...], path: Path, opset: int, **names: Any) -> None:
    import torch

    torch.onnx.export(module, args, str(path), opset_version=opset, dynamo=False, **names)


def export(folder: Path) -> None:
    import timm
    import torch
    import torchvision

    from opswap.frontends.torch import calibrate_batchnorm

    folder.mkdir(parents=True, exist_ok=True)
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))

    def classifier(name: str, build: Callable[[], Any]) -> None:
        module = build()
        for layer in module.modules():  # ViT's head starts at zero: every logit would be 0
            if isinstance(layer, torch.nn.Linear) and not layer.weight.any():
                torch.nn.init.normal_(layer.weight, std=0.02)
        calibrate_batchnorm(module, (1, 3, 224, 224))
        _export(module, (image,), folder / f"{name}.onnx", 14, input_names=["input"], output_names=["logits"])

    jobs: dict[str, Callable[[], None]] = {}
    for name in CLASSIFIERS:
        jobs[name] = lambda name=name: classifier(name, lambda: getattr(torchvision.models, name)(weights=None))
    for name in TIMM:
        jobs[f"timm_{name}"] = lambda name=name: classifier(
            f"timm_{name}", lambda: timm.create_model(name, pretrained=False)
        )

    def segmenter(name: str) -> None:
        class Out(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None)

            def forward(self, x: Any) -> Any:
                return self.net(x)["out"]

        module = Out()
        calibrate_batchnorm(module, (1, 3, 224, 224))
        _export(module, (image,), folder / f"{name}.onnx", 14, input_names=["input"], output_names=["out"])

    for name in SEGMENTERS:
        jobs[name] = lambda name=name: segmenter(name)

    def detector(name: str) -> None:
        module = getattr(torchvision.models.detection, name)(weights=None, weights_backbone=None)
        size = 320
        calibrate_batchnorm(module.backbone, (1, 3, size, size))  # the detector takes a list of images
        module.eval()
        picture = torch.rand(3, size, size, generator=torch.Generator().manual_seed(2))
        _export(
            module,
            ([picture],),
            folder / f"{name}.onnx",
            14,
            input_names=["image"],
            output_names=["boxes", "scores", "labels"],
        )

    for name in DETECTORS:
        jobs[name] = lambda name=name: detector(name)
    jobs["bert_encoder"] = lambda: _bert(folder)
    for name, job in jobs.items():
        path = folder / f"{name}.onnx"
        if path.exists():
            continue
        start = time.perf_counter()
        try:
            job()  # not under no_grad: eval-mode attention there takes a fused path no exporter knows
            print(f"exported {name} in {time.perf_counter() - start:.0f} s", flush=True)
        except Exception as exc:  # report and go on: the table says which could not be exported
            print(f"NOT exported {name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}", flush=True)


def _bert(folder: Path) -> None:
    """A BERT encoder built from a config (4 layers, hidden 256), sequence 64, opset 17."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)
    module = BertModel(config).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = module

        def forward(self, ids: Any, mask: Any) -> Any:
            return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state

    ids = torch.randint(0, config.vocab_size, (1, 64), generator=torch.Generator().manual_seed(3))
    mask = torch.ones(1, 64, dtype=torch.int64)
    _export(Encoder(), (ids, mask), folder / "bert_encoder.onnx", 17, input_names=["input_ids", "attention_mask"])


def run(folder: Path, out: Path, targets: list[str] | None = None) -> None:
    import opswap

    if out.suffix != ".json" or folder.resolve() in out.resolve().parents:
        sys.exit(f"{out}: the results go to a .json file outside the models' folder")

    names = targets or [t for t in opswap.builtin_names() if t != "snpe-latest"]
    rows: dict[str, dict[str, Any]] = {}
    if out.exists():
        rows = json.loads(out.read_text())
    for path in sorted(folder.glob("*.onnx")):
        row = rows.setdefault(path.stem, {})
        for name in names:
            if name in row:
                continue
            start = time.perf_counter()
            row[name] = _one(opswap, path, name)
            row[name]["seconds"] = round(time.perf_counter() - start, 1)
            print(f"{path.stem} x {name}: {row[name]['status']} ({row[name]['seconds']} s)", flush=True)
            out.write_text(json.dumps(rows, indent=1))


def _one(opswap: Any, path: Path, target_name: str) -> dict[str, Any]:
    try:
        model = opswap.load(path)
        target = opswap.load_target(target_name)
        report = opswap.fix(model, target, None, samples=2)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        traceback.print_exc(limit=2)
        return {"status": "error", "detail": detail}
    unresolved = {u.op_type: len(u.nodes) for u in report.legalization.unresolved}
    verification = report.verification
    entry: dict[str, Any] = {"unresolved": unresolved, "hint": getattr(report, "cut_hint", None)}
    if verification is not None:
        entry["max_rel"] = verification.max_rel if hasattr(verification, "max_rel") else None
        entry["passed"] = verification.passed
    if report.before.legal:
        entry["status"] = "legal"
    elif report.after.legal and (verification is None or verification.passed) and not report.not_written:
        entry["status"] = "fixed"
    elif report.after.legal:
        entry["status"] = "not verified"
        entry["detail"] = report.not_written
    else:
        entry["status"] = "no route"
        if entry["hint"]:  # the cut fix suggests: does the network before it fix and verify?
            entry["cut"] = _one_cut(opswap, path, target, entry["hint"])
    return entry


def _one_cut(opswap: Any, path: Path, target: Any, names: list[str]) -> str:
    model = opswap.load(path)
    opswap.cut(model, names)
    report = opswap.fix(model, target, None, samples=2)
    if report.before.legal:
        return "legal"
    if report.after.legal and report.verification is not None and report.verification.passed:
        return "fixed"
    return "not fixed: " + (report.not_written or ", ".join(u.op_type for u in report.legalization.unresolved))


def table(before_path: Path, after_path: Path) -> str:
    """Per model: how many targets take it as it is, fixed and verified, or not, before -> after."""
    before, after = json.loads(before_path.read_text()), json.loads(after_path.read_text())
    lines = [
        "| model | legal as is | fixed, verified | no route (targets: ops left) |",
        "|---|---|---|---|",
    ]
    totals = {
        "before": dict.fromkeys(("legal", "fixed", "other"), 0),
        "after": dict.fromkeys(("legal", "fixed", "other"), 0),
    }

    def count(row: dict[str, Any], status: str) -> int:
        return sum(1 for e in row.values() if e["status"] == status)

    for model in sorted(after):
        old, new = before.get(model, {}), after[model]
        for when, row in (("before", old), ("after", new)):
            for e in row.values():
                key = e["status"] if e["status"] in ("legal", "fixed") else "other"
                totals[when][key] += 1
        stuck = []
        for target, e in sorted(new.items()):
            if e["status"] not in ("legal", "fixed"):
                ops = ", ".join(sorted(e.get("unresolved") or {})) or e.get("detail", e["status"])
                was = old.get(target, {}).get("status", "?")
                hint = f" (cut at {len(e['hint'])} values: {e.get('cut', '?')})" if e.get("hint") else ""
                stuck.append(
                    f"{target}: {ops}{hint}" + ("" if was in ("no route", "error", "not verified") else f" [was {was}]")
                )
        fixed_now = [
            t
            for t, e in new.items()
            if e["status"] == "fixed" and old.get(t, {}).get("status") not in ("fixed", "legal")
        ]
        lines.append(
            f"| {model} | {count(old, 'legal')} -> {count(new, 'legal')} | {count(old, 'fixed')} -> {count(new, 'fixed')}"
            f"{' (now: ' + ', '.join(sorted(fixed_now)) + ')' if fixed_now else ''} | {'; '.join(stuck) or '-'} |"
        )
    b, a = totals["before"], totals["after"]
    lines.append(
        f"| **all {len(after)} models x {len(next(iter(after.values())))} targets** | {b['legal']} -> {a['legal']} | "
        f"{b['fixed']} -> {a['fixed']} | {b['other']} -> {a['other']} pairs |"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "export":
        export(Path(argv[1]))
    elif len(argv) == 3 and argv[0] == "table":
        print(table(Path(argv[1]), Path(argv[2])))
    elif len(argv) >= 3 and argv[0] == "run":
        run(Path(argv[1]), Path(argv[2]), argv[3].split(",") if len(argv) > 3 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
