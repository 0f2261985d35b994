#!/bin/bash
# Device call 14: the unit tests and sgpte-bench built against a Kokkos release (as call 11,
# only those targets), then where the statistics' time goes on the host: the host BLAS
# alone on the update (tools/device/blas_gram_probe.cpp; Debian's OpenBLAS and BLIS, OpenMP
# variants) beside PyTorch's matmul on the same shapes, sgpte-bench's OpenMP statistics with
# OpenBLAS and with BLIS preloaded in its place, and Cuda against the reference.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder; $2: a folder holding libblis.so.4):
#   bash tools/device/call14.sh KOKKOS_ROOT BLIS_DIR 2>&1 | tee $OUT/call14.log
source tools/device/common.sh
: "${1:?the Kokkos installation}" "${2:?the BLIS folder}"
use_prebuilt > /dev/null
start_device_build 16 "$1" "sgpte_core_tests sgpte-bench"
export OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads
shapes="768 3072 4096"

run_device_unit_tests 200 core || exit 1
bench=$DEVBUILD/build/bench/sgpte-bench

stage "the host BLAS alone: H = beta H + alpha A Aᵀ, k = 2048, 16 batches, 16 threads"
g++ -O2 -std=c++17 tools/device/blas_gram_probe.cpp -o "$W/probe-openblas" -L"$HOST_LAPACK_DIR" -lopenblas
g++ -O2 -std=c++17 tools/device/blas_gram_probe.cpp -o "$W/probe-blis" "$2/libblis.so.4" -Wl,-rpath,"$2"
for n in $shapes; do
  "$W/probe-openblas" $n 2048 16 | sed 's/^/openblas /'
  BLIS_NUM_THREADS=16 "$W/probe-blis" $n 2048 16 | sed 's/^/blis     /'
done
stage "PyTorch CPU, 16 threads, the reference's update (H *= b/(b+1); H += inp @ inp.t())"
python3 - $shapes <<'PY'
import sys, time, torch
torch.set_num_threads(16)
for n in map(int, sys.argv[1:]):
    inp = torch.rand(n, 2048) * 2 - 1
    h = torch.zeros(n, n)
    h += inp.matmul(inp.t())
    start = time.time()
    for b in range(1, 17):
        h *= b / (b + 1)
        x = (2 / (b + 1)) ** 0.5 * inp
        h += x.matmul(x.t())
    s = time.time() - start
    print(f"torch n={n} k=2048 batches=16: {s:.3f} s, {2 * n * n * 2048 * 16 / s / 1e9:.0f} GFLOP/s")
PY

stage "Cuda statistics against the reference on the same GPU"
side_by_side "$bench" cuda cuda sparse50 6
stage "OpenMP statistics, OpenBLAS, then BLIS preloaded for sgemm and ssyrk"
openmp_statistics_with_each_blas "$bench" "$2"
tar cf "$OUT/results14.tar" -C "$W" results logs
stage "done"
