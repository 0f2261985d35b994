#!/usr/bin/env bash
# README's test command: install the dependencies, build everything with the tests, run
# the whole suite. Usage: bash tools/debian/run_tests.sh [build directory] [sanitizers]
# With sanitizers (e.g. address,undefined) sgpte's own targets are instrumented
# (cmake/SgpteSanitizers.cmake) and the benchmarks, which no test runs, are not built.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
sanitizers=${2:-}
# Runs a phase and prints its time.
phase() {
  local name=$1 start
  shift
  start=$(date +%s)
  "$@"
  echo "run_tests.sh ($build): $name took $(( $(date +%s) - start )) s"
}
phase "installing the dependencies" bash tools/debian/install_dependencies.sh
benchmarks=ON
if [[ -n $sanitizers ]]; then
  benchmarks=OFF
  # Stack traces in UBSan reports; every report fails its test (the build also sets
  # -fno-sanitize-recover=undefined).
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
# A prefix path of two entries (both already searched) so that the install test checks that
# such a list reaches the consumer it configures. MPI on: the suite then also runs sgpte-opt
# with mpirun -np 2 against one process (tests/distributed).
phase configuring cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSGPTE_ENABLE_TESTS=ON \
  -DSGPTE_ENABLE_BENCHMARKS=$benchmarks -DSGPTE_SANITIZE="$sanitizers" -DSGPTE_ENABLE_MPI=ON \
  "-DCMAKE_PREFIX_PATH=/usr;/usr/local"
phase building cmake --build "$build" --parallel "$(nproc)"
phase testing ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)"
