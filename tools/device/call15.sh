#!/bin/bash
# Device call 15: the Hessian's upper triangle completed once per layer instead of once per
# batch. The unit tests the change touches and sgpte-bench, built against a Kokkos release
# (as call 11, only those targets), then the statistics side by side: Cuda against the
# reference, OpenMP with OpenBLAS and with BLIS preloaded in its place (call 14).
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder; $2: a folder holding libblis.so.4):
#   bash tools/device/call15.sh KOKKOS_ROOT BLIS_DIR 2>&1 | tee $OUT/call15.log
source tools/device/common.sh
: "${1:?the Kokkos installation}" "${2:?the BLIS folder}"
use_prebuilt > /dev/null
start_device_build 16 "$1" "sgpte_core_tests sgpte_conformance_tests sgpte_hostile_tests sgpte-bench"
run_device_unit_tests 240 core conformance hostile || exit 1
bench=$DEVBUILD/build/bench/sgpte-bench

stage "Cuda statistics against the reference on the same GPU"
side_by_side "$bench" cuda cuda sparse50 6
stage "OpenMP statistics, OpenBLAS, then BLIS preloaded for sgemm and ssyrk"
openmp_statistics_with_each_blas "$bench" "$2"
tar cf "$OUT/results15.tar" -C "$W" results logs
stage "done"
