#!/bin/bash
# Device call 18: the side stream's workspace and queue set up with the statistics, not in
# the first batch (one queue for the process). Everything built against a Kokkos release (as
# call 11); the whole suite but sgpte_opt_tests on Serial, OpenMP and Cuda; the statistics
# at 768 columns with 1× and 4× the calibration tokens (per batch against per layer); then
# Cuda against the reference, all four configurations.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call18.sh KOKKOS_ROOT 2>&1 | tee $OUT/call18.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
use_prebuilt > /dev/null
start_device_build 16 "$1"
wait_for_device_build 200 || exit 1
stage "ctest (all but sgpte_opt_tests; Serial, OpenMP with 4 threads, Cuda)"
OMP_NUM_THREADS=4 OMP_PROC_BIND=false ctest --test-dir "$DEVBUILD/build" -j 8 -E '^sgpte_opt_tests$' \
  --timeout "$(( $(left) - 150 ))" --output-on-failure > "$W/logs/ctest.log" 2>&1
echo "ctest rc=$?"; tail -n 8 "$W/logs/ctest.log"
bench=$DEVBUILD/build/bench/sgpte-bench

statistics_per_batch_at_768_columns "$bench"
stage "Cuda against the reference on the same GPU"
side_by_side "$bench" cuda cuda sparse50,nm24,sparse50_w4,mixed40_budget 20
tar cf "$OUT/results18.tar" -C "$W" results logs
stage "done"
