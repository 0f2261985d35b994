#!/bin/bash
# Device call 30: call 28's code (16-token partial sums on Cuda, H += G by a team per column)
# with the check's teams of eight columns, a warp each (call 29: Kokkos' reduction over one
# team per column cost 10 µs by itself). As call 28: the unit tests the statistics touch on
# every backend, the parts at 768 and 1024 columns on Cuda and at 768 on OpenMP (16 threads),
# the statistics at 768 columns with 1× and 4× the tokens, Cuda side by side with the
# reference three times; then device/reduction_probe.cpp's device times (call29.sh).
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call30.sh KOKKOS_ROOT 2>&1 | tee $OUT/call30.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
statistics_kernel_measurements "$1" 30 || exit 1
bash tools/device/call29.sh "$1" 2>&1 | grep "device:\|==="
stage "done"
