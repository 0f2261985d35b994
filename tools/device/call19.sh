#!/bin/bash
# Device call 19: the column statistics' loops load eight values before using them (call 18:
# at 768 columns a batch took 112 µs, 51 more than its GEMM alone, with the GEMM already on
# a side stream), with the side stream of call 18. The unit tests it touches and
# sgpte-bench, built against a Kokkos release; the statistics at 768 columns with 1× and 4×
# the calibration tokens; then side by side: Cuda against the reference, and OpenMP against
# PyTorch CPU with OPENBLAS_CORETYPE=Cooperlake (call 17).
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call19.sh KOKKOS_ROOT 2>&1 | tee $OUT/call19.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
build_and_run_statistics_tests "$1" sgpte-bench || exit 1
bench=$DEVBUILD/build/bench/sgpte-bench

statistics_per_batch_at_768_columns "$bench"
stage "Cuda against the reference on the same GPU"
side_by_side "$bench" cuda cuda sparse50 6
stage "OpenMP against PyTorch CPU, 16 threads, OPENBLAS_CORETYPE=Cooperlake"
OPENBLAS_CORETYPE=Cooperlake side_by_side "$bench" openmp cpu sparse50 6
tar cf "$OUT/results19.tar" -C "$W" results logs
stage "done"
