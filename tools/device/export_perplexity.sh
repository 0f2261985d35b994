#!/usr/bin/env bash
# On the device: sgpte-opt compresses MODEL_DIR (e.g. small-opt) at 4 bits and at 50 % +
# 4 bits and exports each run as GPTQ and as compressed-tensors; the reference unpacker
# (tools/export/unpack_export.py, written from the formats' specifications) reads each export
# back into an ordinary checkpoint, transformers (tools/reference/transformers_perplexity.py,
# float32) measures its perplexity, and that must equal the perplexity sgpte-opt printed for
# the run within 0.1 % (issue 20). Exits non-zero otherwise.
#
#   bash tools/device/export_perplexity.sh SGPTE_OPT MODEL_DIR WORK [SGPTE_OPT_ARGS...]
#
# SGPTE_OPT: a build of this checkout (e.g. .devices/build-cuda/drivers/sgpte-opt from
# tools/device/pack_build.sh, with LD_LIBRARY_PATH naming its lib/); the extra arguments go
# to every sgpte-opt run (e.g. --backend cuda). Needs python3 with torch and transformers.
# Writes WORK/<run>-<format>/ (the export), WORK/<run>-<format>-dense/ (unpacked),
# WORK/<run>-<format>.json (sgpte-opt's statistics) and WORK/transformers.json.
set -euo pipefail
opt=$(realpath "${1:?sgpte-opt}")
model=$(realpath "${2:?the model directory}")
work=$(realpath -m "${3:?the work directory}")
shift 3
cd "$(dirname "$0")/../.."
mkdir -p "$work"
evaluation=models/data/evaluation.bin
dense_dirs=()
for run in "w4:--wbits 4 --sparsity 0" "sp50w4:--wbits 4 --sparsity 0.5"; do
  name=${run%%:*}
  read -ra options <<< "${run#*:}"
  for format in gptq compressed-tensors; do
    out=$work/$name-$format
    "$opt" "$model" --calibration models/data/calibration.bin --evaluation "$evaluation" \
      --skip-dense-eval "${options[@]}" --export "$format" "$out" --stats-json "$out.json" "$@" |
      tail -n 4
    python3 tools/export/unpack_export.py "$out" "$out-dense"
    dense_dirs+=("$out-dense")
  done
done
python3 tools/reference/transformers_perplexity.py --evaluation "$evaluation" \
  --json "$work/transformers.json" "${dense_dirs[@]}"
python3 - "$work" "${dense_dirs[@]}" <<'PYTHON'
import json, sys
work, dense_dirs = sys.argv[1], sys.argv[2:]
measured = json.load(open(f"{work}/transformers.json"))
failed = False
print(f"{'export':<28} {'sgpte-opt':>10} {'transformers':>13} {'difference':>11}")
for dense in dense_dirs:
    export = dense[: -len("-dense")]
    printed = json.load(open(f"{export}.json"))["perplexity"]["compressed"]["perplexity"]
    loaded = measured[dense]["perplexity"]
    difference = loaded / printed - 1.0
    failed |= abs(difference) > 1e-3
    print(f"{export.split('/')[-1]:<28} {printed:10.6f} {loaded:13.6f} {100 * difference:+10.4f} %")
sys.exit(1 if failed else 0)
PYTHON
