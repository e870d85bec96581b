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

step opswap fix "$out/mobilenet_v3_large.onnx" --target snpe-2.7 -o "$out/fixed.onnx"
opswap fix "$out/mobilenet_v3_large.onnx" --target snpe-2.7 -o "$out/fixed.onnx"

step opswap check "$out/fixed.onnx" --target snpe-2.7
opswap check "$out/fixed.onnx" --target snpe-2.7

step opswap fix torchvision:mobilenet_v3_large --target snpe-2.7 -o "$out/fixed-one-command.onnx" --format json
opswap fix torchvision:mobilenet_v3_large --target snpe-2.7 -o "$out/fixed-one-command.onnx" --format json \
  | python -c 'import json,sys; r=json.load(sys.stdin); v=r["verification"]; print(json.dumps({"legal": r["legal"], "output": r["output"], "rewrites": [(x["op_type"], x["count"], x["rule"]) for x in r["rewrites"]], "max_abs": v["max_abs"], "max_rel": v["max_rel"], "top1_agreement": v["top1_agreement"], "passed": v["passed"]}, indent=1))'
