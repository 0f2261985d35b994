#!/bin/bash
# Device call 39: call 27 on the final code of the fifth session (statistics in one kernel on
# Cuda, the update beside H): sgpte_opt_tests built alone against a Kokkos release and its
# suites but OptPerplexity on Serial, OpenMP (4 threads) and Cuda.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call39.sh KOKKOS_ROOT 2>&1 | tee $OUT/call39.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
left() { echo $(( 250 - $(elapsed) )); } # the session had 293 s of device time left
use_prebuilt > /dev/null
start_device_build 16 "$1" sgpte_opt_tests
wait_for_device_build 30 || exit 1
opt_suites_but_perplexity
stage "done"
