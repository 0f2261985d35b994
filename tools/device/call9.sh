#!/bin/bash
# Device call 9: the whole test suite on Cuda, OpenMP and Serial on the machine where
# call 8 started building it. sgpte_opt_tests (≈ 6 minutes alone, its Serial and OpenMP
# cases on Kokkos Kernels' native host GEMM) runs one process per test suite beside the
# rest of ctest.
# Usage (device tool, right after call 8; carry .devices/prebuilt.tar.xz):
#   bash tools/device/call9.sh 2>&1 | tee $OUT/call9.log
source tools/device/common.sh
use_prebuilt
[ -d "$DEVBUILD" ] || { echo "no build under way on this machine (call 8 first)"; exit 1; }

stage "wait for the build"
while [ ! -e "$DEVBUILD/done" ] && [ "$(left)" -gt 200 ]; do sleep 5; done
tail -n 3 "$DEVBUILD/build.log"; echo "build status: $(cat "$DEVBUILD/done" 2>/dev/null || echo unfinished)"
cp "$DEVBUILD/configure.log" "$DEVBUILD/build.log" "$W/logs/" 2>/dev/null
grep -A3 -m5 "error" "$DEVBUILD/build.log" | head -n 40

stage "ctest (Serial, OpenMP with 4 threads, Cuda)"
export OMP_NUM_THREADS=4 OMP_PROC_BIND=false
opt_tests=$DEVBUILD/build/tests/opt/sgpte_opt_tests
for suite in LayerBitsSchedule OptCheckpoint OptForward OptPerplexity SequentialCompression; do
  (cd "$DEVBUILD/build/tests/opt" && timeout "$(( $(left) - 20 ))" "$opt_tests" --run_test=$suite \
     > "$W/logs/opt-$suite.log" 2>&1; echo "sgpte_opt_tests --run_test=$suite: rc=$?") &
done
ctest --test-dir "$DEVBUILD/build" -j 8 -E '^sgpte_opt_tests$' --timeout "$(( $(left) - 20 ))" \
  --output-on-failure > "$W/logs/ctest.log" 2>&1
echo "ctest (all but sgpte_opt_tests) rc=$?"; tail -n 40 "$W/logs/ctest.log"
wait
for suite in LayerBitsSchedule OptCheckpoint OptForward OptPerplexity SequentialCompression; do
  echo "--- $suite"; tail -n 3 "$W/logs/opt-$suite.log"
done
tar cf "$OUT/results9.tar" -C "$W" logs
stage "done"
