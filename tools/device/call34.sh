#!/bin/bash
# Device call 34: the statistics' partial sums by teams of 32 columns × 8 chunks (one partial
# sum per 128 tokens on Cuda), the check without a Kokkos reduction (the host scans the
# columns' checks), and the staged update formed beside H by cuBLASLt (no add). Built against a
# Kokkos release: the unit tests the statistics touch on every backend; the probe's device
# times (tools/device/reduction_probe.cpp); the parts at 768 and 1024 columns; Cuda side by
# side with the reference three times in fp32 and once in TF32; the tiny model on Cuda. (The
# call ran statistics_batch_measurements' first form, without the OpenMP parts; its
# cublasLtMatmul failed, CUBLAS_STATUS_INVALID_VALUE, and call 35 has the fix.)
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call34.sh KOKKOS_ROOT 2>&1 | tee $OUT/call34.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
statistics_batch_measurements "$1" || exit 1
tar cf "$OUT/results34.tar" -C "$W" results logs
stage "done"
