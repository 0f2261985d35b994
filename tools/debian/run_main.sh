#!/usr/bin/env bash
# README's main command: install the dependencies, build sgpte-opt (Release, Ninja) and
# compress the bundled tiny OPT model with the default settings — 50 % unstructured
# sparsity fused with mixed precision at a 4.0-bit target (model-wide allocation), calibrated
# on 128 windows of models/data/calibration.bin — then print the statistics summary and
# the dense and compressed perplexities on models/data/evaluation.bin.
# Usage: bash tools/debian/run_main.sh [build directory]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bash tools/debian/install_dependencies.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" --target sgpte-opt --parallel "$(nproc)"
"$build/drivers/sgpte-opt" models/tiny-opt \
  --calibration models/data/calibration.bin --evaluation models/data/evaluation.bin
