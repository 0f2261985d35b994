#!/bin/bash
# Device call 23: where a statistics batch's time goes on Cuda (call 22: staging the batch's
# XᵀX behind the check changed the per-batch cost at 768 columns only from ≈ 100 to ≈ 96 µs).
# sgpte-bench-statistics-parts at 768, 1024 and 3072 columns, and sgpte-bench at 3072x768
# under the kernel timer, built against a Kokkos release.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call23.sh KOKKOS_ROOT 2>&1 | tee $OUT/call23.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
use_prebuilt > /dev/null
start_device_build 16 "$1" "sgpte-bench sgpte-bench-statistics-parts sgpte-kernel-timer"
wait_for_device_build 200 || exit 1
bench=$DEVBUILD/build/bench
statistics_parts "$bench" 768 1024 3072
stage "parts of a batch, 768 columns, OpenMP 16 threads"
OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads "$bench/sgpte-bench-statistics-parts" --backend openmp --batches 64
stage "sgpte-bench 3072x768 under the kernel timer"
KOKKOS_TOOLS_LIBS=$bench/libsgpte-kernel-timer.so "$bench/sgpte-bench" --backend cuda --shapes 3072x768 \
  --configs sparse50 2>&1 | grep -v "^ *$" | head -n 30
stage "done"
