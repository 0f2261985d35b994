#!/bin/bash
# Device call 28: the column statistics' second kernel as a team per column (a warp on Cuda
# sharing the column's partial sums, where one thread per column waited on a chain of loads),
# 16-token partial sums on Cuda (four times the threads of 64-token ones), and H += G by a team
# per column (was a flat index over all n² entries). The unit tests the statistics touch on
# every backend, built against a Kokkos release; the parts at 768 and 1024 columns on Cuda and
# at 768 on OpenMP (16 threads); the statistics at 768 columns with 1× and 4× the tokens; Cuda
# side by side with the reference, three times.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call28.sh KOKKOS_ROOT 2>&1 | tee $OUT/call28.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
statistics_kernel_measurements "$1" 28 || exit 1
stage "done"
