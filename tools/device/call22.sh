#!/bin/bash
# Device call 22: add_batch stages the batch's XᵀX below cuBLAS' syrk threshold (queued before
# the host waits for the batch's check, added into H once the batch is accepted), and the
# check and the merge of the column statistics are one kernel. The unit tests it touches and
# sgpte-bench, built against a Kokkos release; the statistics at 768 columns with 1× and 4×
# the calibration tokens (call 19: ≈ 100 µs per batch of 2048 tokens); then Cuda side by side
# with the reference, three times (the reference's statistics varied from call to call).
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call22.sh KOKKOS_ROOT 2>&1 | tee $OUT/call22.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
build_and_run_statistics_tests "$1" sgpte-bench || exit 1
bench=$DEVBUILD/build/bench/sgpte-bench

statistics_per_batch_at_768_columns "$bench"
statistics_rounds_against_the_reference "$bench" 3
statistics_per_batch_at_768_columns "$bench"
tar cf "$OUT/results22.tar" -C "$W" results logs
stage "done"
