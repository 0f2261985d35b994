#!/bin/bash
# Device call 3: small-opt end to end beside the official pipeline (issues 3 and 4); starts
# building the test suite for call 5 (tools/device/call5.sh, next, on the same machine).
# Usage (device tool; carry .devdeps, .cache/corpus/train.bin.gz, .devices/prebuilt.tar.xz):
#   bash tools/device/call3.sh 2>&1 | tee $OUT/call3.log
source tools/device/common.sh
env_report
use_prebuilt
mkdir -p "$W/ours" "$W/packed"

stage "train small-opt (background, GPU)"
python3 tools/train/train_opt.py --preset small --train "$TRAIN" --calibration "$CAL" --evaluation "$EVAL" \
  --out "$W/small-opt" --steps 11758 --seed 0 > "$W/logs/train-small.log" 2>&1 &
TRAINPID=$!

start_device_build 12

wait $TRAINPID; echo "train rc=$?"; tail -n 4 "$W/logs/train-small.log"
cp "$W/small-opt/train_info.json" "$W/results/small-opt-train_info.json" 2>/dev/null
sha256sum "$W/small-opt/model.safetensors"

stage "official pipeline on small-opt (background, GPU)"
python3 tools/reference/opt_reference_pipeline.py --sparsegpt "$REF" --model "$W/small-opt" --name small-opt \
  --calibration "$CAL" --evaluation "$EVAL" --nsamples 128 --seed 0 \
  --runs dense,sp50,2of4,w4,w3,sp50w4 --json "$W/results/small-opt-reference.json" \
  --logdir "$W/logs/reference-runs" --deadline-s "$(( $(left) - 40 ))" > "$W/logs/pipeline-small.log" 2>&1 &
REFPID=$!

stage "sgpte-opt on small-opt (Cuda)"
# name | options | extra outputs
run() {
  local name=$1; shift
  local start=$(date +%s.%N)
  with_libs timeout "$(left)" "$B/drivers/sgpte-opt" "$W/small-opt" --calibration "$CAL" --evaluation "$EVAL" \
    --nsamples 128 --seed 0 --stats-json "$W/ours/$name.json" "$@" > "$W/logs/ours-$name.log" 2>&1
  local rc=$?
  echo "[$name] rc=$rc wall $(awk "BEGIN {print $(date +%s.%N) - $start}") s: $(grep -E 'Compression|erplexity' "$W/logs/ours-$name.log" | tr '\n' ' ')"
}
run dense --dense-only
run sp50 --wbits 0 --sparsity 0.5 --skip-dense-eval --output "$W/out/sp50"
run 2of4 --wbits 0 --prunen 2 --prunem 4 --skip-dense-eval --output "$W/out/2of4"
run w4 --wbits 4 --sparsity 0 --skip-dense-eval --output "$W/out/w4" --save-packed "$W/packed/w4"
run w3 --wbits 3 --sparsity 0 --skip-dense-eval --output "$W/out/w3"
run sp50w4 --wbits 4 --sparsity 0.5 --skip-dense-eval --output "$W/out/sp50w4" --save-packed "$W/packed/sp50w4"
run q40 --sparsity 0 --target-avg-bits 4.0 --bit-allocation quantile --skip-dense-eval --output "$W/out/q40" --save-packed "$W/packed/q40"
run b40 --sparsity 0 --target-avg-bits 4.0 --bit-allocation budget --skip-dense-eval --output "$W/out/b40" --save-packed "$W/packed/b40"
run b30 --sparsity 0 --target-avg-bits 3.0 --bit-allocation budget --skip-dense-eval --output "$W/out/b30"
run sp50q40 --skip-dense-eval --output "$W/out/sp50q40" --save-packed "$W/packed/sp50q40"
run sp50b40 --sparsity 0.5 --target-avg-bits 4.0 --bit-allocation budget --skip-dense-eval --save-packed "$W/packed/sp50b40"

stage "packed sizes on disk"
for d in "$W"/packed/*; do
  echo "$(basename "$d") on-disk $(find "$d" -type f -printf '%s\n' | awk '{s+=$1} END {print s}') layers/ $(find "$d/layers" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s}')"
done | tee "$W/results/packed-sizes.txt"
du -ab "$W/packed" > "$W/results/packed-files.txt"

stage "our checkpoints in transformers"
timeout "$(( $(left) - 20 ))" python3 tools/reference/transformers_perplexity.py --evaluation "$EVAL" \
  --json "$W/results/transformers-ours.json" "$W"/out/* 2>&1 | tail -n 20

wait $REFPID; echo "reference pipeline rc=$?"; tail -n 12 "$W/logs/pipeline-small.log"
cp -r "$W/ours" "$W/results/"
tar cf "$OUT/results3.tar" -C "$W" results logs
stage "done"; ls -la "$OUT"
