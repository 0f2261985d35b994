#!/bin/bash
# Device call 12: the benchmarks of call 11's build side by side with the official
# implementation: OpenMP (16 threads) against PyTorch CPU (16 threads), Kokkos Kernels' GEMM
# going to the host BLAS, then Cuda at the small shapes.
# Usage (device tool, right after call 11; carry .devdeps, .devices/prebuilt.tar.xz):
#   bash tools/device/call12.sh 2>&1 | tee $OUT/call12.log
source tools/device/common.sh
env_report
lscpu | grep -E "Model name|Socket|Core|Thread|Flags" | cut -c1-160
bench=$DEVBUILD/build/bench/sgpte-bench
[ -x "$bench" ] || { echo "no sgpte-bench on this machine (call 11 first)"; exit 1; }
ldd "$bench" | grep -i -E "blas|gomp|gfortran"

stage "OpenMP, 16 threads, against the reference on PyTorch CPU with 16 threads"
side_by_side "$bench" openmp cpu sparse50,sparse50_w4 12 --repeat 1

stage "Cuda against the reference on the same GPU"
side_by_side "$bench" cuda cuda sparse50,nm24,sparse50_w4,mixed40_budget 20
tar cf "$OUT/results12.tar" -C "$W" results logs
stage "done"
