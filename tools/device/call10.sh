#!/bin/bash
# Device call 10: end to end beside the official pipeline on an otherwise idle machine
# (call 8 measured it while the suite built), and under the kernel timer.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz):
#   bash tools/device/call10.sh 2>&1 | tee $OUT/call10.log
source tools/device/common.sh
use_prebuilt
stage "random OPT-125m-shaped model"
python3 tools/reference/make_random_opt.py "$W/opt125m" --seed 0 > "$W/logs/make-model.log" 2>&1
tail -n 1 "$W/logs/make-model.log"
e2e_side_by_side "idle machine"
e2e_under_kernel_timer
NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -n 1)
if [ -n "$NSYS" ]; then
  stage "end to end under Nsight Systems: GPU time per kernel (cuBLAS included)"
  with_libs "$NSYS" profile -t cuda -o "$W/results/e2e" "$B/drivers/sgpte-opt" "$W/opt125m" --calibration "$CAL" \
    --wbits 0 --sparsity 0.5 --nsamples 128 --seqlen 2048 --workspace-mb 4096 > "$W/logs/e2e-nsys.log" 2>&1
  echo "rc=$?"
  "$NSYS" stats -q --report cuda_gpu_kern_sum --format column "$W/results/e2e.nsys-rep" 2>&1 | cut -c1-200 | head -n 30
  "$NSYS" stats -q --report cuda_gpu_mem_time_sum --format column "$W/results/e2e.nsys-rep" 2>&1 | cut -c1-160 | head -n 12
  rm -f "$W/results/e2e.sqlite"
else
  echo "no Nsight Systems on this machine"
fi
tar cf "$OUT/results10.tar" -C "$W" results logs
stage "done"
