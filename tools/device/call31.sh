#!/bin/bash
# Device call 31: the TF32 option of the calibration statistics (ProductPrecision::tf32,
# --statistics-precision tf32) with call 28's kernels. Built against a Kokkos release: the unit
# tests the statistics touch on every backend (their TF32 case on Cuda), Cuda side by side
# with the reference (fp32 on its side) with sgpte's statistics in fp32 and in TF32, sgpte-opt
# on the bundled tiny model in TF32 on Cuda, and sgpte_opt_tests' suites but OptPerplexity on
# every backend for what is left of the call.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call31.sh KOKKOS_ROOT 2>&1 | tee $OUT/call31.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
build_and_run_statistics_tests "$1" "sgpte-bench sgpte-opt sgpte_opt_tests" || exit 1
bench=$DEVBUILD/build/bench
stage "Cuda against the reference, sgpte's statistics in fp32"
side_by_side "$bench/sgpte-bench" cuda cuda sparse50 6
stage "Cuda against the reference, sgpte's statistics in TF32"
side_by_side "$bench/sgpte-bench" cuda cuda sparse50 6 --statistics-precision tf32
stage "sgpte-opt on the tiny model, statistics in TF32 (Cuda), then fp32"
for precision in tf32 fp32; do
  "$DEVBUILD/build/drivers/sgpte-opt" models/tiny-opt --calibration "$CAL" --evaluation "$EVAL" \
    --backend cuda --statistics-precision $precision \
    > "$W/logs/tiny-$precision.log" 2>&1
  echo "$precision: rc=$?"; grep -i "perplexity\|ppl" "$W/logs/tiny-$precision.log" | tail -n 3
done
"$DEVBUILD/build/drivers/sgpte-opt" models/tiny-opt --calibration "$CAL" --evaluation "$EVAL" \
  --backend openmp --statistics-precision tf32 2>&1 | tail -n 2
opt_suites_but_perplexity
tar cf "$OUT/results31.tar" -C "$W" results logs
stage "done"
