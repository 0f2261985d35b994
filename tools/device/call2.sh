#!/bin/bash
# Device call 2: small-opt training + the official pipeline on small-opt + the tiny-opt
# reference activations again, now with both dense perplexities in their metadata.
# Needs models/tiny-opt (from call 1) in the tree.
# Usage (device tool, carry .devdeps and .cache/corpus/train.bin.gz):
#   bash tools/device/call2.sh 2>&1 | tee $OUT/call2.log
source tools/device/common.sh
env_report

stage "train small-opt"
python3 tools/train/train_opt.py --preset small --train "$TRAIN" --calibration "$CAL" --evaluation "$EVAL" \
  --out "$W/small-opt" --budget-s "${SMALL_BUDGET:-285}" --seed 0 2>&1 | tee "$W/logs/train-small.log"
echo "train rc=$?"
(cd "$W" && tar cf - small-opt logs/train-small.log) | split -b 15m -d - "$OUT/small-opt.tar."

stage "official pipeline on small-opt"
python3 tools/reference/opt_reference_pipeline.py --sparsegpt "$REF" --model "$W/small-opt" --name small-opt \
  --calibration "$CAL" --evaluation "$EVAL" --nsamples 128 --seed 0 \
  --runs dense,sp50,2of4,w4,w3,sp50w4 --json "$OUT/small-opt-ppl.json" --logdir "$W/logs/small-runs" \
  --deadline-s $(( 545 - $(elapsed) )) 2>&1 | tee "$W/logs/pipeline-small.log"
echo "pipeline rc=$?"

stage "tiny-opt reference activations with both dense perplexities"
python3 tools/reference/make_opt_logits.py --model models/tiny-opt --evaluation "$EVAL" --windows 2 \
  --ppl tiny-opt=models/tiny-opt --ppl small-opt="$W/small-opt" \
  --out "$W/results/tiny-opt-reference.safetensors" 2>&1
echo "logits rc=$?"
tar cf "$OUT/results2.tar" -C "$W" results logs
stage "done"; ls -la "$OUT"
