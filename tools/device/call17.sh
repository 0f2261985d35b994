#!/bin/bash
# Device call 17: on CUDA below cuBLAS' syrk threshold the batch's product runs on a side
# stream, beside the column statistics and the host's wait for the overflow check
# (backends/side_queue.hpp). The unit tests it touches and sgpte-bench, built against a
# Kokkos release (as call 11, only those targets); cuBLAS' syrk against the GEMM at the
# orders between 768 and 1536 (statistics_update_probe.cu); then side by side: Cuda against
# the reference, and OpenMP against PyTorch CPU with Debian's OpenBLAS told the CPU's kernels
# (OPENBLAS_CORETYPE=Cooperlake: OpenBLAS 0.3.21 does not know this CPU's model, 207, and
# falls back to its generic Prescott kernels; call 16).
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call17.sh KOKKOS_ROOT 2>&1 | tee $OUT/call17.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
use_prebuilt > /dev/null
start_device_build 16 "$1" "sgpte_core_tests sgpte_conformance_tests sgpte_hostile_tests sgpte-bench"
stage "cuBLAS syrk against GEMM between 768 and 1536 columns (k = 2048, 128 batches)"
nvcc -O2 -std=c++17 -arch=sm_90 tools/device/statistics_update_probe.cu -lcublas -o "$W/update-probe" &&
  for n in 1024 1280; do "$W/update-probe" $n 2048 128 | head -n 2; done
run_device_unit_tests 280 core conformance hostile || exit 1
bench=$DEVBUILD/build/bench/sgpte-bench

stage "Cuda against the reference on the same GPU"
side_by_side "$bench" cuda cuda sparse50 6
stage "OpenMP against PyTorch CPU, 16 threads, OPENBLAS_CORETYPE=Cooperlake"
OPENBLAS_VERBOSE=2 OPENBLAS_CORETYPE=Cooperlake "$bench" --help 2>&1 | grep -m1 Core
OPENBLAS_CORETYPE=Cooperlake side_by_side "$bench" openmp cpu sparse50 6
tar cf "$OUT/results17.tar" -C "$W" results logs
stage "done"
