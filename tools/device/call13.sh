#!/bin/bash
# Device call 13: the benchmarks of call 11's build (now with the host LAPACK and syrk, and
# the statistics loop timed as a whole): how the OpenMP statistics time grows with the
# number of tokens, then side by side with the official implementation, OpenMP (16 threads)
# against PyTorch CPU (16 threads) and Cuda against the reference on the same GPU.
# Usage (device tool, right after call 11; carry .devdeps, .devices/prebuilt.tar.xz):
#   bash tools/device/call13.sh 2>&1 | tee $OUT/call13.log
source tools/device/common.sh
env_report
lscpu | grep -E "Model name|Socket|Core|Thread" | cut -c1-160
bench=$DEVBUILD/build/bench/sgpte-bench
[ -x "$bench" ] || { echo "no sgpte-bench on this machine (call 11 first)"; exit 1; }
ldd "$bench" | grep -i -E "blas|lapack|gomp|gfortran"
export OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads

stage "OpenMP statistics against the number of tokens (768x3072)"
for tokens in 32768 262144; do
  OPENBLAS_VERBOSE=2 "$bench" --backend openmp --shapes 768x3072 --configs sparse50 --tokens $tokens 2>&1 | tail -n 2
done

stage "OpenMP, 16 threads, against the reference on PyTorch CPU with 16 threads"
side_by_side "$bench" openmp cpu sparse50,sparse50_w4 12 --repeat 1

stage "Cuda against the reference on the same GPU"
side_by_side "$bench" cuda cuda sparse50,nm24,sparse50_w4,mixed40_budget 20
tar cf "$OUT/results13.tar" -C "$W" results logs
stage "done"
