#!/bin/bash
# Device call 11: the suite and the benchmarks built on the device against a Kokkos release
# (4.6.01 with Kokkos Kernels 4.6.01: cuBLAS, and a host BLAS for Serial and OpenMP),
# installed at $1 beforehand (tools/README.md, "A Kokkos release"), then the whole suite.
# Usage (device tool; carry .devices/prebuilt.tar.xz for the header-only dependencies):
#   bash tools/device/call11.sh KOKKOS_ROOT 2>&1 | tee $OUT/call11.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
use_prebuilt
start_device_build 16 "$1"
run_device_suite 120
tar cf "$OUT/results11.tar" -C "$W" logs
stage "done"
