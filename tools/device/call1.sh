#!/bin/bash
# Device call 1: reference layer cases (CPU torch) + tiny-opt training + the official
# pipeline on tiny-opt + tiny-opt reference activations.
# Usage (device tool, carry .devdeps and .cache/corpus/train.bin.gz):
#   bash tools/device/call1.sh 2>&1 | tee $OUT/call1.log
source tools/device/common.sh
env_report

stage "reference layer cases (CPU, one thread, background)"
python3 tools/reference/make_reference_cases.py --sparsegpt "$REF" --out "$W/reference" > "$W/logs/refcases.log" 2>&1 &
REFPID=$!

stage "train tiny-opt"
python3 tools/train/train_opt.py --preset tiny --train "$TRAIN" --calibration "$CAL" --evaluation "$EVAL" \
  --out "$W/tiny-opt" --budget-s "${TINY_BUDGET:-120}" --seed 0 2>&1 | tee "$W/logs/train-tiny.log"
echo "train rc=$?"
tar cf "$OUT/tiny-opt.tar" -C "$W" tiny-opt logs/train-tiny.log

wait $REFPID; echo "reference cases rc=$?"; cat "$W/logs/refcases.log"
(cd "$W" && tar cf - reference logs/refcases.log) | split -b 15m -d - "$OUT/reference.tar."

stage "official pipeline on tiny-opt"
python3 tools/reference/opt_reference_pipeline.py --sparsegpt "$REF" --model "$W/tiny-opt" --name tiny-opt \
  --calibration "$CAL" --evaluation "$EVAL" --nsamples 128 --seed 0 \
  --runs dense,sp50,2of4,w4,w3,sp50w4 --json "$OUT/tiny-opt-ppl.json" --logdir "$W/logs/tiny-runs" \
  --deadline-s $(( 520 - $(elapsed) )) 2>&1 | tee "$W/logs/pipeline-tiny.log"
echo "pipeline rc=$?"

stage "tiny-opt reference activations"
python3 tools/reference/make_opt_logits.py --model "$W/tiny-opt" --evaluation "$EVAL" --windows 2 \
  --ppl tiny-opt="$W/tiny-opt" --out "$W/results/tiny-opt-reference.safetensors" 2>&1
echo "logits rc=$?"
tar cf "$OUT/results.tar" -C "$W" results logs
stage "done"; ls -la "$OUT"
