#!/bin/bash
# Device call 9: the whole test suite on Cuda, OpenMP and Serial on the machine where
# call 8 started building it.
# Usage (device tool, right after call 8; carry .devices/prebuilt.tar.xz):
#   bash tools/device/call9.sh 2>&1 | tee $OUT/call9.log
source tools/device/common.sh
use_prebuilt
[ -d "$DEVBUILD" ] || { echo "no build under way on this machine (call 8 first)"; exit 1; }
run_device_suite 200
tar cf "$OUT/results9.tar" -C "$W" logs
stage "done"
