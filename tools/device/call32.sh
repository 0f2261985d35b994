#!/bin/bash
# Device call 32: the final code's compressed perplexities on Cuda against the official
# pipeline's (ctest's `perplexity` label: five runs on the bundled tiny model, within 2 %),
# then the sp50 run with TF32 statistics beside it. Only sgpte-opt is built (against a Kokkos
# release).
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz; HOST_LAPACK_DIR and
# LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call32.sh KOKKOS_ROOT 2>&1 | tee $OUT/call32.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
left() { echo $(( 330 - $(elapsed) )); } # the session had 404 s of device time left
use_prebuilt > /dev/null
start_device_build 16 "$1" sgpte-opt
wait_for_device_build 60 || exit 1
stage "ctest -L perplexity (Cuda, the default execution space)"
ctest --test-dir "$DEVBUILD/build" -L perplexity --output-on-failure --timeout "$(( $(left) - 40 ))" 2>&1 | tail -n 12
python3 - "$DEVBUILD/build/tests/opt" tools/reference/results/reference_ppl.json <<'PY'
import json, os, sys
table = {(r["model"], r["run"]): r["perplexity"] for r in json.load(open(sys.argv[2]))["table"]}
for run in ("sp50", "2of4", "w4", "w3", "sp50w4"):
    path = os.path.join(sys.argv[1], f"official-{run}.json")
    if os.path.exists(path):
        ours = json.load(open(path))["perplexity"]["compressed"]["perplexity"]
        print(f"{run}: sgpte {ours:.4f}, official pipeline {table[('tiny-opt', run)]:.4f}")
PY
stage "sp50 with TF32 statistics (Cuda)"
"$DEVBUILD/build/drivers/sgpte-opt" models/tiny-opt --calibration "$CAL" --evaluation "$EVAL" --skip-dense-eval \
  --wbits 0 --sparsity 0.5 --statistics-precision tf32 2>&1 | grep -A3 "Perplexity"
stage "done"
