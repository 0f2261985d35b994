#!/bin/bash
# Device call 7: every kernel and region of the end-to-end run timed with
# bench/kernel_timer (a Kokkos Tools library), to see what the forward pass spends.
# Usage (device tool; carry .devices/prebuilt.tar.xz):
#   bash tools/device/call7.sh 2>&1 | tee $OUT/call7.log
source tools/device/common.sh
use_prebuilt
g++ -std=c++17 -O2 -shared -fPIC bench/kernel_timer/kokkos_kernel_timer.cpp -o "$W/libsgpte-kernel-timer.so" -ldl
python3 tools/reference/make_random_opt.py "$W/opt125m" --seed 0 > "$W/logs/make-model.log" 2>&1
stage "end to end under the kernel timer (workspace 4 GiB)"
KOKKOS_TOOLS_LIBS="$W/libsgpte-kernel-timer.so" with_libs "$B/drivers/sgpte-opt" "$W/opt125m" --calibration "$CAL" \
  --wbits 0 --sparsity 0.5 --nsamples 128 --seqlen 2048 --workspace-mb 4096 > "$W/logs/e2e-timed.log" 2>&1
echo "rc=$?"; grep -v "^  layers\." "$W/logs/e2e-timed.log" | grep -v "View::initialization\|View::destruction\|deep_copy" | head -n 70
cp "$W/logs/e2e-timed.log" "$OUT/"
stage "done"
