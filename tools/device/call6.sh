#!/bin/bash
# Device call 6: the install test with the CUDA Kokkos and a prefix path of several
# entries (call 5 found that such a list did not reach the consumer), and where the time of
# the end-to-end run goes (statistics timed apart from the forward pass that feeds them).
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz):
#   bash tools/device/call6.sh 2>&1 | tee $OUT/call6.log
source tools/device/common.sh
use_prebuilt
here=$(pwd -P)

stage "random OPT-125m-shaped model (background)"
python3 tools/reference/make_random_opt.py "$W/opt125m" --seed 0 > "$W/logs/make-model.log" 2>&1 &
MODELPID=$!

stage "install test: CUDA Kokkos, CMAKE_PREFIX_PATH with two entries"
cmake -S . -B "$W/build-install" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$here/.devices/kokkos/bin/nvcc_wrapper" \
  -DCMAKE_PREFIX_PATH="$here/.devices/sysdeps;$here/.devices/kokkos" -DSGPTE_ENABLE_LAPACK=OFF \
  -DSGPTE_ENABLE_DRIVERS=OFF -DSGPTE_ENABLE_TESTS=ON > "$W/logs/configure-install.log" 2>&1
echo "configure rc=$?"; tail -n 3 "$W/logs/configure-install.log"
ctest --test-dir "$W/build-install" -R install --output-on-failure --timeout 400 2>&1 | tail -n 15

wait $MODELPID; tail -n 1 "$W/logs/make-model.log"
stage "end to end: sgpte-opt (Cuda), 50 % unstructured, 128 x 2048 tokens"
for workspace in 256 4096; do
  start=$(date +%s.%N)
  with_libs "$B/drivers/sgpte-opt" "$W/opt125m" --calibration "$CAL" --wbits 0 --sparsity 0.5 --nsamples 128 \
    --seqlen 2048 --workspace-mb $workspace --stats-json "$W/results/e2e-sgpte-ws$workspace.json" > "$W/logs/e2e-$workspace.log" 2>&1
  echo "workspace ${workspace} MiB: rc=$? wall $(awk "BEGIN {print $(date +%s.%N) - $start}") s"
  python3 - "$W/results/e2e-sgpte-ws$workspace.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
parts = {k: sum(layer["seconds"][k] for layer in d["layers"]) for k in d["layers"][0]["seconds"]}
rest = d["compression_seconds"] - sum(parts.values())
print(f"  compression {d['compression_seconds']:.2f} s: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
      + f", forward passes + embedding + loading {rest:.2f}")
PY
done
tar cf "$OUT/results6.tar" -C "$W" results logs
stage "done"
