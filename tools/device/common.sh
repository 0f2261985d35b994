# Sourced by tools/device/call*.sh (run on the GPU machine from the repository root).
set -u -o pipefail
export PYTHONUNBUFFERED=1
: "${OUT:?OUT must be set (the device tool sets it)}"
T0=$(date +%s)
W=/tmp/sgpte-work
rm -rf "$W"; mkdir -p "$W/results" "$W/logs"
elapsed() { echo $(( $(date +%s) - T0 )); }
stage() { echo; echo "=== [$(elapsed)s] $*"; }
REF=.devdeps/sparsegpt
CAL=models/data/calibration.bin
EVAL=models/data/evaluation.bin
TRAIN=.cache/corpus/train.bin.gz
env_report() {
  stage "environment"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
  python3 -c 'import sys, torch, transformers, numpy; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "numpy", numpy.__version__, "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'
  python3 -c 'import safetensors; print("safetensors", safetensors.__version__)' 2>&1
  echo "cpus $(nproc)"; cat "$REF/REFERENCE_COMMIT"; ls -la "$TRAIN" "$CAL" "$EVAL"
}
