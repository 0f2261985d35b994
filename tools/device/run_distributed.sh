#!/usr/bin/env bash
# On the device: sgpte-opt in one process, then with mpirun -np N for each N given (default
# 1 2), every process on the same GPU, on the tiny model with the full evaluation stream; each
# MPI run is compared with the single process (sgpte_compare_runs: weights and perplexities)
# and the times are printed. Uses the OpenMPI that pack_build.sh carries with an MPI build
# (-DSGPTE_ENABLE_MPI=ON), relocated with OPAL_PREFIX (unpack_build.sh): the build runs with
# the libmpi it was linked against, whatever MPI the device may have (e.g. mpi4py's, possibly
# another implementation). Run from the repository root (the tiny model and its data); the
# outputs go to WORK.
#
#   bash tools/device/run_distributed.sh ARCHIVE WORK [N...]
set -euo pipefail
archive=$(realpath "${1:?the packed MPI build}")
work=$(realpath -m "${2:?a work directory}")
shift 2
counts=("$@")
((${#counts[@]})) || counts=(1 2)
source "$(dirname "$0")/unpack_build.sh"
[[ -x $packed/openmpi/bin/mpirun ]] || { echo "$archive carries no OpenMPI: not an MPI build" >&2; exit 1; }
export OMPI_MCA_rmaps_base_oversubscribe=1 # processes may outnumber the cores given
opt=$packed/drivers/sgpte-opt
compare=$packed/tests/distributed/sgpte_compare_runs
mkdir -p "$work"
run() {
  local name=$1
  shift
  local start
  start=$(date +%s%N)
  "$@" "$opt" models/tiny-opt --calibration models/data/calibration.bin \
    --evaluation models/data/evaluation.bin --output "$work/$name" --stats-json "$work/$name.json" \
    > "$work/$name.log" 2>&1 || { echo "$name failed:"; tail -n 30 "$work/$name.log"; return 1; }
  echo "$name: $(grep -E '^ *(dense|compressed) ' "$work/$name.log" | tr -s ' ' | tr '\n' ';')" \
    "wall $(( ($(date +%s%N) - start) / 1000000 )) ms"
}
mpirun --version | head -n 1
run single env
status=0
for n in "${counts[@]}"; do
  run "ranks$n" mpirun -np "$n" || { status=1; continue; }
  "$compare" "$work/single" "$work/single.json" "$work/ranks$n" "$work/ranks$n.json" \
    --max-differing-fraction 1e-3 --perplexity-tolerance 1e-3 || status=1
done
exit $status
