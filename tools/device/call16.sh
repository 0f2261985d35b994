#!/bin/bash
# Device call 16, no Kokkos: where a calibration batch's time goes on the GPU
# (tools/device/statistics_update_probe.cu: the update through cuBLAS in several ways, and the
# host's wait for the overflow check before queueing the product against waiting on an event
# recorded before it), beside PyTorch's update on the same shapes; then which kernels
# Debian's OpenBLAS picks on the host CPU, and its rate with each OPENBLAS_CORETYPE.
# Usage (device tool; $1: a folder holding Debian's libopenblas.so; $2: one holding BLIS):
#   bash tools/device/call16.sh OPENBLAS_DIR BLIS_DIR 2>&1 | tee $OUT/call16.log
source tools/device/common.sh
: "${1:?the OpenBLAS folder}" "${2:?the BLIS folder}"
export PATH=/usr/local/cuda/bin:$PATH
stage "environment"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
grep -m1 "model name" /proc/cpuinfo; grep -m1 -o "avx512[a-z_0-9]*\|amx[a-z_0-9]*" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
grep -m1 "^cpu family\|^model\s" /proc/cpuinfo; grep -m2 "^model\s\|^cpu family" /proc/cpuinfo

stage "cuBLAS update variants, k = 2048, 128 batches, best of 3"
nvcc -O2 -std=c++17 -arch=sm_90 tools/device/statistics_update_probe.cu -lcublas -o "$W/update-probe" || exit 1
for n in 768 1536 2048 3072 4096; do "$W/update-probe" $n 2048 128; done

stage "PyTorch on the same GPU: the reference's update (H *= b/(b+1); x = sqrt(2/(b+1)) inp; H += x xᵀ)"
python3 - <<'PY'
import torch
torch.backends.cuda.matmul.allow_tf32 = False
for n in (768, 1536, 2048, 3072, 4096):
    inp = torch.rand(2048, n, device="cuda") * 2 - 1
    h = torch.zeros(n, n, device="cuda")
    best = {}
    for name in ("update", "matmul only"):
        for _ in range(3):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(); start.record()
            for b in range(1, 129):
                x = inp.t()
                if name == "update":
                    h *= b / (b + 1)
                    x = (2 / (b + 1)) ** 0.5 * x.float()
                    h += x.matmul(x.t())
                else:
                    x.matmul(x.t())
            stop.record(); torch.cuda.synchronize()
            best[name] = min(best.get(name, 1e9), start.elapsed_time(stop) * 1000 / 128)
    print(f"n={n} k=2048: torch update {best['update']:.1f} us/batch, matmul alone {best['matmul only']:.1f} us/batch")
PY

stage "the host BLAS: OpenBLAS' core choice and rate per OPENBLAS_CORETYPE (n = 768 and 3072, 16 threads)"
export OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads
g++ -O2 -std=c++17 tools/device/blas_gram_probe.cpp -o "$W/probe-openblas" -L"$1" -lopenblas -Wl,-rpath,"$1" || exit 1
g++ -O2 -std=c++17 tools/device/blas_gram_probe.cpp -o "$W/probe-blis" "$2/libblis.so.4" -Wl,-rpath,"$2" || exit 1
OPENBLAS_VERBOSE=2 "$W/probe-openblas" 64 64 1 2>&1 | head -3
for core in "" Haswell SkylakeX Cooperlake SapphireRapids; do
  for n in 768 3072; do
    OPENBLAS_VERBOSE=2 OPENBLAS_CORETYPE=$core "$W/probe-openblas" $n 2048 16 2>&1 | tr '\n' ' ' | sed "s/^/coretype=${core:-default} /"; echo
  done
done
for n in 768 3072; do BLIS_NUM_THREADS=16 "$W/probe-blis" $n 2048 16 | sed 's/^/blis /'; done
stage "done"
