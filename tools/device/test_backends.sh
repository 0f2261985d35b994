#!/usr/bin/env bash
# Runs sgpte's test suite on the device machine from a build packed by pack_build.sh (or made
# there): each test executable runs every backend it was built with (Serial, OpenMP with 4
# threads, Cuda), then CTest runs the rest (the drivers, the perplexity comparisons with the
# official pipeline in fp32 and fp16). Exits non-zero if anything fails.
#
#   bash tools/device/test_backends.sh ARCHIVE [CTEST_ARGS...]
#
# e.g. `... .devices/build-cuda.tar.xz -L perplexity` for the perplexity comparisons alone,
# or `... -R none` for the test executables alone; TEST_ARGS passes options to each test
# executable (e.g. TEST_ARGS=--run_test=SequentialCompression). The archive unpacks beside itself, where
# the programs are then found (.devices/build-cuda/drivers/sgpte-opt, its libraries in
# .devices/build-cuda/lib).
set -uo pipefail
archive=$(realpath "${1:?the packed build}")
shift
source "$(dirname "$0")/unpack_build.sh"
source_dir=$(cat "$packed/SOURCE_DIR")
build_dir=$(cat "$packed/BUILD_DIR")
# The build's CTest files name the paths of the machine it was made on, CMake's too, and an
# MPI build's its launcher.
cmake_program=$(cat "$packed/CMAKE_COMMAND" 2>/dev/null || echo /usr/bin/cmake)
pairs=("$source_dir:$(pwd -P)" "$build_dir:$packed" "$cmake_program:$(command -v cmake)")
[[ -f $packed/MPIEXEC ]] && pairs+=("$(cat "$packed/MPIEXEC"):$packed/openmpi/bin/mpirun")
for pair in "${pairs[@]}"; do
  from=${pair%%:*} to=${pair#*:}
  if [[ ! -e $from ]]; then
    mkdir -p "$(dirname "$from")" && ln -s "$to" "$from"
  fi
done
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} OMP_PROC_BIND=false
# The executables run side by side (the device has cores to spare), each within TEST_TIMEOUT
# seconds, logging every test case (Boost.Test's test_suite level) into LOGS.
logs=${LOGS:-/tmp}
status=0
pids=()
for executable in "$build_dir"/tests/*/sgpte_*_tests; do
  name=$(basename "$executable")
  (cd "$(dirname "$executable")" && start=$(date +%s) &&
    timeout "${TEST_TIMEOUT:-900}" "$executable" --log_level=test_suite ${TEST_ARGS:-} > "$logs/$name.log" 2>&1
   rc=$?
   echo "$name: rc=$rc ($(( $(date +%s) - start )) s)"; grep -B2 -A8 "error:\|fatal error" "$logs/$name.log" | head -n 60
   tail -n 2 "$logs/$name.log"; exit $rc) &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
ctest --test-dir "$build_dir" -E '^sgpte_[a-z]+_tests$' --output-on-failure "$@" || status=1
exit $status
