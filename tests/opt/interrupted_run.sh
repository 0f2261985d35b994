#!/usr/bin/env bash
# An sgpte-opt run killed mid-way loses nothing: it leaves no output that looks complete,
# --resume refuses the checkpoints of a run with other options (seed, sensitivity, quantizer
# range) and a run whose model allocation is missing, and --resume with the same options gives
# a result identical, byte for byte, to an uninterrupted run's (the dequantized checkpoint, and
# the packed model through sgpte-unpack). The runs take the defaults: mixed precision with the
# model-wide allocation, whose pre-pass a resumed run cannot repeat and takes from the
# interrupted one.
#
#   interrupted_run.sh SGPTE_OPT SGPTE_UNPACK MODEL_DIR CALIBRATION WORK_DIR SIGNAL
set -euo pipefail
opt=$1 unpack=$2 model=$3 calibration=$4 work=$5 signal=$6
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
seed=3
run() { "$opt" "$model" --calibration "$calibration" --nsamples 48 --seed "$seed" "$@"; }
# Job control: the interrupted run gets a process group of its own, which is signalled
# whole (the run function's subshell and sgpte-opt).
set -m

run --output "$work/full" --save-packed "$work/full.packed" > "$work/full.log"
grep -q "^bit allocation: model$" "$work/full.log" || fail "the default allocation is not the model's"

# Interrupted as soon as layer 0 is checkpointed (during layer 1 of 2), which takes the model
# allocation's pre-pass first: over 30 s with the sanitizers, so the wait is bounded by time.
run --output "$work/run" --save-packed "$work/run.packed" > "$work/interrupted.log" 2>&1 &
pid=$!
deadline=$((SECONDS + 600))
while ((SECONDS < deadline)); do
  [[ -f $work/run/sgpte-resume/layer-0.safetensors ]] && break
  sleep 0.005
done
kill "-$signal" -- "-$pid" 2> /dev/null || fail "the run ended before it could be interrupted"
wait "$pid" && fail "the interrupted run exited successfully"
[[ -f $work/run/sgpte-resume/layer-0.safetensors ]] || fail "no checkpoint of layer 0"
[[ ! -e $work/run/model.safetensors && ! -e $work/run/config.json ]] ||
  fail "the interrupted run left a checkpoint that looks complete"
[[ ! -e $work/run.packed/sgpte-packed.json ]] || fail "the interrupted run left a packed manifest"
allocation=$work/run/sgpte-resume/model-allocation.json
[[ -f $allocation ]] || fail "the interrupted run did not keep its model allocation"

mv "$allocation" "$work/model-allocation.json"
if run --output "$work/run" --save-packed "$work/run.packed" --resume > "$work/other.log" 2>&1; then
  fail "--resume went on without the model allocation"
fi
grep -q "model-allocation.json: is missing" "$work/other.log" || fail "unexpected error: $(cat "$work/other.log")"
mv "$work/model-allocation.json" "$allocation"

# Other options: refused, the checkpoints left in place.
if seed=4 run --output "$work/run" --save-packed "$work/run.packed" --resume > "$work/other.log" 2>&1; then
  fail "--resume accepted the checkpoints of a run with another seed"
fi
grep -q "is a checkpoint of another run" "$work/other.log" || fail "unexpected error: $(cat "$work/other.log")"
for other in "--sensitivity score" "--quantizer-range per-width"; do
  # shellcheck disable=SC2086 # the option and its value, two words
  if run --output "$work/run" --save-packed "$work/run.packed" --resume $other > "$work/other.log" 2>&1; then
    fail "--resume accepted the checkpoints of a run without $other"
  fi
  grep -q "is a checkpoint of another run" "$work/other.log" || fail "unexpected error: $(cat "$work/other.log")"
done

run --output "$work/run" --save-packed "$work/run.packed" --resume > "$work/resumed.log"
grep -q "resuming: layers 0 to 0 restored" "$work/resumed.log" || fail "did not resume from layer 1"
[[ ! -e $work/run/sgpte-resume ]] || fail "the checkpoints outlived the completed run"
cmp "$work/full/model.safetensors" "$work/run/model.safetensors" ||
  fail "the resumed checkpoint differs from the uninterrupted one"
"$unpack" "$work/full.packed" "$work/full.unpacked.safetensors" > /dev/null
"$unpack" "$work/run.packed" "$work/run.unpacked.safetensors" > /dev/null
cmp "$work/full.unpacked.safetensors" "$work/run.unpacked.safetensors" ||
  fail "the resumed packed model differs from the uninterrupted one"
grep "Model size" "$work/full.log" > "$work/full.size"
grep "Model size" "$work/resumed.log" > "$work/run.size"
cmp "$work/full.size" "$work/run.size" || fail "the resumed run reports another model size"
echo "interrupted by SIG$signal, resumed: identical to the uninterrupted run"
