#!/bin/bash
# Device call 26: the final statistics code. add_batch stages the batch's XᵀX below cuBLAS'
# syrk threshold (formed in a workspace before the host waits for the batch's check, added
# into H by a one-dimensional kernel once the batch is accepted); the check and the merge are
# one kernel. Call 24 measured one to eight slices of the tokens (no gain, dropped); call 25
# tried the column statistics on a side stream (Cuda tests failed, dropped). The unit tests it
# touches, sgpte-bench and sgpte-bench-statistics-parts, built against a Kokkos release; the
# parts at 768 and 1024 columns; the statistics at 768 columns with 1× and 4× the tokens; Cuda
# side by side with the reference, three times.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call26.sh KOKKOS_ROOT 2>&1 | tee $OUT/call26.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
build_and_run_statistics_tests "$1" "sgpte-bench sgpte-bench-statistics-parts" || exit 1
bench=$DEVBUILD/build/bench
statistics_parts "$bench" 768 1024
statistics_per_batch_at_768_columns "$bench/sgpte-bench"
statistics_rounds_against_the_reference "$bench/sgpte-bench" 3
tar cf "$OUT/results26.tar" -C "$W" results logs
stage "done"
