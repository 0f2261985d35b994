#!/bin/bash
# Device call 24: add_batch's staged XᵀX split over up to four slices of the batch's tokens in
# one batched GEMM, the slices summed into H by a one-dimensional kernel (call 23: at 768
# columns the GEMM took 60 µs, the two-dimensional add 13 µs, the partial sums 9 µs and the
# check and merge 13 µs, all device time). The unit tests it touches, sgpte-bench and
# sgpte-bench-statistics-parts, built against a Kokkos release; the parts at 768 and 1024
# columns (1, 2, 4 and 8 slices: those parts left sgpte-bench-statistics-parts with the
# slices); the statistics at 768 columns with 1× and 4× the tokens; Cuda side by side with
# the reference, three times.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call24.sh KOKKOS_ROOT 2>&1 | tee $OUT/call24.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
build_and_run_statistics_tests "$1" "sgpte-bench sgpte-bench-statistics-parts" || exit 1
bench=$DEVBUILD/build/bench
statistics_parts "$bench" 768 1024
statistics_per_batch_at_768_columns "$bench/sgpte-bench"
statistics_rounds_against_the_reference "$bench/sgpte-bench" 3
tar cf "$OUT/results24.tar" -C "$W" results logs
stage "done"
