#!/bin/bash
# Device call 33, no Kokkos: cuBLASLt's out-of-place product D = beta C + alpha A Aᵀ against
# cublasSgemm in place at 768 and 1024 columns (tools/device/statistics_update_probe.cu), with
# the reference's update in PyTorch on the same GPU beside it.
# Usage (device tool): bash tools/device/call33.sh 2>&1 | tee $OUT/call33.log
source tools/device/common.sh
export PATH=/usr/local/cuda/bin:$PATH
stage "environment"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
stage "cuBLAS and cuBLASLt update variants, k = 2048, 128 batches, best of 3"
nvcc -O2 -std=c++17 -arch=sm_90 tools/device/statistics_update_probe.cu -lcublas -lcublasLt \
  -o "$W/update-probe" || exit 1
for round in 1 2; do for n in 768 1024; do "$W/update-probe" $n 2048 128; done; done
stage "PyTorch on the same GPU: the reference's update"
python3 - <<'PY'
import torch
torch.backends.cuda.matmul.allow_tf32 = False
for n in (768, 1024):
    inp = torch.rand(2048, n, device="cuda") * 2 - 1
    h = torch.zeros(n, n, device="cuda")
    best = 1e9
    for _ in range(5):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(); start.record()
        for b in range(1, 129):
            h *= b / (b + 1)
            x = (2 / (b + 1)) ** 0.5 * inp.t().float()
            h += x.matmul(x.t())
        stop.record(); torch.cuda.synchronize()
        best = min(best, start.elapsed_time(stop) * 1000 / 128)
    print(f"n={n} k=2048: torch update {best:.1f} us/batch")
PY
stage "done"
