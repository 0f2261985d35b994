#!/usr/bin/env bash
# README's test command: install the dependencies, build everything with the tests, run
# the whole suite. Usage: bash tools/debian/run_tests.sh [build directory]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bash tools/debian/install_dependencies.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSGPTE_ENABLE_TESTS=ON -DSGPTE_ENABLE_BENCHMARKS=ON
cmake --build "$build" --parallel "$(nproc)"
ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)"
