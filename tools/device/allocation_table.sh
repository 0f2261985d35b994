#!/usr/bin/env bash
# README's table of mixed precision against uniform quantization at equal packed bytes
# (bench/allocation_table.py), on the device's GPU from a build packed by pack_build.sh: dense,
# then {3.0, 4.0 bits} x {0 %, 50 % sparsity} x {uniform, the default mixed precision, and a
# row per --label NAME=ARGS given after the three arguments}, on the bundled calibration and
# evaluation tokens.
#
#   bash tools/device/allocation_table.sh ARCHIVE MODEL_DIR OUT_DIR [--label NAME=ARGS ...]
#
# e.g. `... .devices/build-cuda.tar.xz .cache/small-opt $OUT/allocation-small-opt --label
# "model=--bit-allocation model"`. OUT_DIR receives the table (allocation_table.md) and every
# run's statistics JSON as soon as the run ends (a call cut short keeps those done).
set -euo pipefail
archive=$(realpath "${1:?the packed build}")
model=${2:?the model directory}
out=${3:?the output directory}
source "$(dirname "$0")/unpack_build.sh"
cd "$(dirname "$0")/../.."
mkdir -p "$out"
python3 bench/allocation_table.py "$model" --sgpte-opt "$packed/drivers/sgpte-opt" \
  --calibration models/data/calibration.bin --evaluation models/data/evaluation.bin --out "$out" \
  --extra "--backend cuda" "${@:4}" | tee "$out/allocation_table.md"
