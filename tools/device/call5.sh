#!/bin/bash
# Device call 5: the whole test suite on Cuda, OpenMP and Serial (each test executable runs
# every backend of the build), on the machine where call 3 started building it.
# Usage (device tool, right after call 3; carry .devices/prebuilt.tar.xz):
#   bash tools/device/call5.sh 2>&1 | tee $OUT/call5.log
source tools/device/common.sh
use_prebuilt
[ -d "$DEVBUILD" ] || { echo "no build under way on this machine (call 3 first)"; exit 1; }

stage "wait for the build"
while [ ! -e "$DEVBUILD/done" ] && [ "$(left)" -gt 240 ]; do sleep 5; done
tail -n 3 "$DEVBUILD/build.log"; echo "build status: $(cat "$DEVBUILD/done" 2>/dev/null || echo unfinished)"
cp "$DEVBUILD/configure.log" "$DEVBUILD/build.log" "$W/logs/" 2>/dev/null
grep -A3 -m5 "error" "$DEVBUILD/build.log" | head -n 40

stage "ctest (Serial, OpenMP with 4 threads, Cuda)"
export OMP_NUM_THREADS=4 OMP_PROC_BIND=false
ctest --test-dir "$DEVBUILD/build" -j 8 --timeout "$(( $(left) - 20 ))" --output-on-failure > "$W/logs/ctest.log" 2>&1
echo "ctest rc=$?"; tail -n 70 "$W/logs/ctest.log"
tar cf "$OUT/results5.tar" -C "$W" logs
stage "done"
