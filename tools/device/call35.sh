#!/bin/bash
# Device call 35: call 34's measurements after two changes: the statistics in one kernel (the
# last team of each column group merges the group's partial sums and writes the checks), and
# cuBLASLt told the alignment of its matrices and given an aligned workspace (call 34's
# cublasLtMatmul refused Kokkos' 128-byte aligned buffers: CUBLAS_STATUS_INVALID_VALUE). The
# unit tests the statistics touch on every backend (their failures in full); the probe's
# device times; the parts at 768 and 1024 columns on Cuda and at 768 on OpenMP (16 threads);
# Cuda side by side with the reference three times in fp32 and once in TF32; the tiny model on
# Cuda.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call35.sh KOKKOS_ROOT 2>&1 | tee $OUT/call35.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
statistics_batch_measurements "$1" || exit 1
tar cf "$OUT/results35.tar" -C "$W" results logs
stage "done"
