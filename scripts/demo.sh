#!/usr/bin/env bash
# The scenario that started opswap: torchvision MobileNetV3-Large, exported at opset 14, for
# Qualcomm SNPE 2.7 (whose ONNX converter has no HardSigmoid and no HardSwish).
set -euo pipefail
out=demo-output
mkdir -p "$out"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step opswap export torchvision:mobilenet_v3_large -o "$out/mobilenet_v3_large.onnx"
opswap export torchvision:mobilenet_v3_large -o "$out/mobilenet_v3_large.onnx"

step opswap check "$out/mobilenet_v3_large.onnx" --target snpe-2.7
status=0
opswap check "$out/mobilenet_v3_large.onnx" --target snpe-2.7 || status=$?
[ "$status" -eq 1 ] || { echo "expected exit 1 (illegal), got $status"; exit 1; }
echo "(exit code $status)"

step opswap fix "$out/mobilenet_v3_large.onnx" --target snpe-2.7 -o "$out/fixed.onnx"
opswap fix "$out/mobilenet_v3_large.onnx" --target snpe-2.7 -o "$out/fixed.onnx"

step opswap check "$out/fixed.onnx" --target snpe-2.7
opswap check "$out/fixed.onnx" --target snpe-2.7

step opswap fix torchvision:mobilenet_v3_large --target snpe-2.7 -o "$out/fixed-one-command.onnx" --format json
opswap fix torchvision:mobilenet_v3_large --target snpe-2.7 -o "$out/fixed-one-command.onnx" --format json \
  > "$out/fix-report.json"
python - "$out/fix-report.json" <<'PY'
import json, sys

r = json.load(open(sys.argv[1]))
v = r["verification"]
print(f"(full report in {sys.argv[1]}; summary:)")
print(f"legal={r['legal']} output={r['output']}")
for w in r["rewrites"]:
    print(f"rewrote {w['count']} {w['op_type']} via {' > '.join(w['route'])}")
print(f"max_abs={v['max_abs']:.3g} max_rel={v['max_rel']:.3g} max_ref={v['max_ref']:.3g} "
      f"top1_agreement={v['top1_agreement']} passed={v['passed']}")
PY

step opswap fix "$out/mobilenet_v3_large.onnx" --target snpe-2.7 -o "$out/fixed-opset12.onnx" --lower-opset auto
opswap fix "$out/mobilenet_v3_large.onnx" --target snpe-2.7 -o "$out/fixed-opset12.onnx" --lower-opset auto | grep -E "Lowered|LEGAL|PASSED|Wrote"
step opswap check "$out/fixed-opset12.onnx" --target snpe-2.7
opswap check "$out/fixed-opset12.onnx" --target snpe-2.7
