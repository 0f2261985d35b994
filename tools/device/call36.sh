#!/bin/bash
# Device call 36: call 35 after its one-kernel statistics read the other teams' partial sums
# with volatile loads instead of a Kokkos atomic view's (compare-and-swap loops on Cuda: the
# kernel took 27 µs of device time), and only the threads that wrote sums fence. Then, for
# what is left of the call, ctest's perplexity label on Cuda (the bundled model's five runs
# against the official pipeline's perplexities) as in call 32.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call36.sh KOKKOS_ROOT 2>&1 | tee $OUT/call36.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
statistics_batch_measurements "$1" || exit 1
stage "ctest -L perplexity (Cuda, the default execution space)"
ctest --test-dir "$DEVBUILD/build" -L perplexity --output-on-failure --timeout "$(( $(left) - 30 ))" 2>&1 | tail -n 12
tar cf "$OUT/results36.tar" -C "$W" results logs
stage "done"
