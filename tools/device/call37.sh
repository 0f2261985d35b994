#!/bin/bash
# Device call 37: call 36's measurements with the statistics' GPU kernel as a team per eight
# columns over the whole batch (64 rows of threads, their sums added pairwise in the team), no
# team waiting for another's (call 36's last-team merge took 13 µs per batch at 768 columns);
# the host keeps its two passes. Then ctest's perplexity label on Cuda as in call 32.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call37.sh KOKKOS_ROOT 2>&1 | tee $OUT/call37.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
statistics_batch_measurements "$1" || exit 1
stage "ctest -L perplexity (Cuda, the default execution space)"
ctest --test-dir "$DEVBUILD/build" -L perplexity --output-on-failure --timeout "$(( $(left) - 30 ))" 2>&1 | tail -n 12
tar cf "$OUT/results37.tar" -C "$W" results logs
stage "done"
