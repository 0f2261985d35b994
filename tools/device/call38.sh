#!/bin/bash
# Device call 38: more rounds of the statistics side by side with the reference on Cuda (call
# 37's code, sgpte's statistics in fp32), the per-layer timings of sgpte-bench against the
# official implementation on the same GPU, six times in one command.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call38.sh KOKKOS_ROOT 2>&1 | tee $OUT/call38.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
use_prebuilt > /dev/null
start_device_build 16 "$1" sgpte-bench
wait_for_device_build 100 || exit 1
statistics_rounds_against_the_reference "$DEVBUILD/build/bench/sgpte-bench" 6
tar cf "$OUT/results38.tar" -C "$W" results
stage "done"
