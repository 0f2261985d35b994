#!/bin/bash
# Device call 21: sgpte_opt_tests with the final statistics code (column statistics' loads
# grouped; call 19), built alone against a Kokkos release; its suites but OptPerplexity (whose
# Serial dense case alone takes ~260 s) side by side on Serial, OpenMP (4 threads) and Cuda,
# for what is left of the call.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call21.sh KOKKOS_ROOT 2>&1 | tee $OUT/call21.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
left() { echo $(( 395 - $(elapsed) )); } # the session had 416 s of device time left
use_prebuilt > /dev/null
start_device_build 16 "$1" sgpte_opt_tests
wait_for_device_build 30 || exit 1
opt_suites_but_perplexity
stage "done"
