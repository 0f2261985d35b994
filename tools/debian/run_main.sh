#!/usr/bin/env bash
# README's main command (until the OPT driver lands): install the dependencies, build
# sgpte-layer and compress one layer of the official implementation's reference cases
# with the configuration stored in it, printing the layer's statistics.
# Usage: bash tools/debian/run_main.sh [build directory]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bash tools/debian/install_dependencies.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" --target sgpte-layer --parallel "$(nproc)"
"$build/drivers/sgpte-layer" --config-from-metadata tests/data/reference/256x512_sp50_w4asym_heavy.safetensors \
  "$build/256x512_sp50_w4asym_heavy.out.safetensors"
