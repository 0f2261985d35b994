#!/bin/bash
# Device call 4: benchmarks beside the official implementation on the same GPU (issue 6):
# end to end on a random-initialised OPT-125m-shaped model, then per layer.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz):
#   bash tools/device/call4.sh 2>&1 | tee $OUT/call4.log
source tools/device/common.sh
env_report
use_prebuilt

stage "random OPT-125m-shaped model"
python3 tools/reference/make_random_opt.py "$W/opt125m" --seed 0

stage "end to end, 50 % unstructured, 128 x 2048 calibration tokens: official opt_sequential"
python3 tools/reference/opt_reference_pipeline.py --sparsegpt "$REF" --model "$W/opt125m" --name opt125m-random \
  --calibration "$CAL" --evaluation "$EVAL" --nsamples 128 --seed 0 --runs sp50 --max-eval-tokens 8192 \
  --json "$W/results/e2e-reference.json" 2>&1 | tail -n 3

stage "end to end: sgpte-opt (Cuda), default workspace, then 4 GiB"
for workspace in 256 4096; do
  start=$(date +%s.%N)
  with_libs "$B/drivers/sgpte-opt" "$W/opt125m" --calibration "$CAL" --wbits 0 --sparsity 0.5 --nsamples 128 \
    --seqlen 2048 --workspace-mb $workspace --stats-json "$W/results/e2e-sgpte-ws$workspace.json" 2>&1 | tail -n 4
  echo "workspace ${workspace} MiB: wall $(awk "BEGIN {print $(date +%s.%N) - $start}") s"
done
python3 - "$W/results" <<'PY'
import json, sys, os
d = sys.argv[1]
ref = json.load(open(os.path.join(d, "e2e-reference.json")))["runs"][0]
for ws in (256, 4096):
    ours = json.load(open(os.path.join(d, f"e2e-sgpte-ws{ws}.json")))
    print(f"workspace {ws}: reference opt_sequential {ref['sequential_s']:.2f} s, sgpte compression "
          f"{ours['compression_seconds']:.2f} s, ratio {ref['sequential_s'] / ours['compression_seconds']:.2f}x")
PY

stage "per layer, side by side"
printf '#!/bin/bash\nexec env LD_LIBRARY_PATH=%s %s "$@"\n' "$SGPTE_LIBS" "$B/bench/sgpte-bench" > "$W/sgpte-bench"
chmod +x "$W/sgpte-bench"
timeout "$(left)" python3 bench/compare_with_reference.py --sgpte-bench "$W/sgpte-bench" --sparsegpt "$REF" \
  --backend cuda --device cuda --out "$W/results" 2>&1 | tail -n 30

stage "OpenMP (16 threads) beside the reference on PyTorch CPU (16 threads)"
printf '#!/bin/bash\nexec env LD_LIBRARY_PATH=%s OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads %s "$@"\n' \
  "$SGPTE_LIBS" "$B/bench/sgpte-bench" > "$W/sgpte-bench-openmp"
chmod +x "$W/sgpte-bench-openmp"
mkdir -p "$W/results/openmp"
timeout "$(left)" python3 bench/compare_with_reference.py --sgpte-bench "$W/sgpte-bench-openmp" --sparsegpt "$REF" \
  --backend openmp --device cpu --threads 16 --shapes 768x768,3072x768 --configs sparse50,sparse50_w4 --repeat 1 \
  --out "$W/results/openmp" 2>&1 | tail -n 12

tar cf "$OUT/results4.tar" -C "$W" results logs
stage "done"; ls -la "$OUT"
