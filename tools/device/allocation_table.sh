#!/usr/bin/env bash
# README's table of mixed precision against uniform quantization at equal packed bytes
# (bench/allocation_table.py), on the device's GPU from a build packed by pack_build.sh: dense,
# then {3.0, 4.0 bits} x {0 %, 50 % sparsity} x {uniform, the default mixed precision, the
# budget allocation with either sensitivity}, on the bundled calibration and evaluation tokens.
#
#   bash tools/device/allocation_table.sh ARCHIVE MODEL_DIR OUT_DIR
#
# e.g. `... .devices/build-cuda.tar.xz .cache/small-opt $OUT/allocation-small-opt`. OUT_DIR
# receives the table (allocation_table.md) and every run's statistics JSON; the packed models
# (5 MB each on small-opt) stay in a temporary directory.
set -euo pipefail
archive=$(realpath "${1:?the packed build}")
model=${2:?the model directory}
out=${3:?the output directory}
source "$(dirname "$0")/unpack_build.sh"
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
python3 bench/allocation_table.py "$model" --sgpte-opt "$packed/drivers/sgpte-opt" \
  --calibration models/data/calibration.bin --evaluation models/data/evaluation.bin --out "$work" \
  --label "budget, obs=--bit-allocation budget" \
  --label "budget, score=--bit-allocation budget --sensitivity score" \
  --extra "--backend cuda" | tee "$out/allocation_table.md"
cp "$work"/*.json "$out/"
