# Sourced by tools/device/call*.sh (run on the GPU machine from the repository root).
set -u -o pipefail
export PYTHONUNBUFFERED=1
: "${OUT:?OUT must be set (the device tool sets it)}"
T0=${SGPTE_CALL_START:-$(date +%s)} # the run command may start the clock earlier
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

# The CUDA build's ingredients travel as one archive, .devices/prebuilt.tar.xz (git-ignored;
# tools/README.md says what it holds and how it is made): sgpte-opt, sgpte-unpack and
# sgpte-bench built on the development machine, the CUDA + OpenMP + Serial Kokkos
# installation they link, header-only dependencies with their CMake packages, and the
# Debian shared libraries the programs load. Unpacked once per machine.
use_prebuilt() {
  stage "unpack the prebuilt CUDA build"
  if [ ! -e .devices/.unpacked ]; then
    python3 -c 'import tarfile; tarfile.open(".devices/prebuilt.tar.xz").extractall(".devices")' &&
      touch .devices/.unpacked || exit 1
  fi
  B=$(pwd -P)/.devices/build-cuda
  SGPTE_LIBS=$(pwd -P)/.devices/lib:/usr/local/cuda/lib64
  export PATH=/usr/local/cuda/bin:$PATH
  # Kokkos Kernels' package names the cuBLAS of the build machine (/usr/local/cuda/lib).
  local cublas; cublas=$(ls /usr/local/cuda/lib64/libcublas.so 2>/dev/null)
  [ -n "$cublas" ] && sed -i "s|/usr/local/cuda/lib/libcublas.so|$cublas|" \
    .devices/kokkos/lib/cmake/KokkosKernels/KokkosKernelsTargets.cmake
  ls -la "$B"/drivers "$B"/bench; nproc; free -g | head -2
}
# Runs a prebuilt program with its shared libraries; Python keeps its own.
with_libs() { env LD_LIBRARY_PATH="$SGPTE_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }
# Seconds left of a call's 600, less a margin for packing the results.
left() { echo $(( 570 - $(elapsed) )); }

# The test suite is built on the device (nvcc takes ~4 minutes per test source; 16 cores
# there, 2 here), from a copy of the tree in /tmp so that the next call's fresh copy of the
# tree does not make ninja rebuild it. It runs in its own session, so that it goes on
# between two calls on the same machine; DEVBUILD/done holds ninja's exit status.
DEVBUILD=/tmp/sgpte-devbuild
# $1: parallel jobs; $2 (optional): the Kokkos installation (default: the prebuilt one);
# $3 (optional): the ninja targets (default: everything).
# HOST_LAPACK_DIR (optional): a folder holding an OpenBLAS (libopenblas.so, with its LAPACK)
# for the host factorisation and syrk; without it LAPACK is off (Eigen factorises).
start_device_build() {
  local lapack=-DSGPTE_ENABLE_LAPACK=OFF
  [ -n "${HOST_LAPACK_DIR:-}" ] &&
    lapack="-DSGPTE_ENABLE_LAPACK=ON -DBLA_VENDOR=OpenBLAS -DCMAKE_LIBRARY_PATH=$HOST_LAPACK_DIR"
  stage "configure and build the test suite on the device (background, ${1} jobs)"
  rm -rf "$DEVBUILD"; mkdir -p "$DEVBUILD"
  mkdir -p "$DEVBUILD/src"
  tar cf - --exclude=./.git --exclude=./.devices/prebuilt.tar.xz . | tar xf - -C "$DEVBUILD/src"
  local src=$DEVBUILD/src
  local kokkos=${2:-$src/.devices/kokkos}
  setsid nice -n 10 bash -c "cmake -S $src -B $DEVBUILD/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER=$kokkos/bin/nvcc_wrapper -DKokkos_ROOT=$kokkos \
      -DCMAKE_PREFIX_PATH=$src/.devices/sysdeps $lapack -DSGPTE_ENABLE_TESTS=ON \
      -DSGPTE_ENABLE_BENCHMARKS=ON \
      > $DEVBUILD/configure.log 2>&1 && ninja -C $DEVBUILD/build -j ${1} ${3:-} > $DEVBUILD/build.log 2>&1;
      echo \$? > $DEVBUILD/done" < /dev/null > /dev/null 2>&1 &
}

# End to end on the random OPT-125m-shaped model in $W/opt125m (50 % unstructured, 128 ×
# 2048 calibration tokens): the official opt_sequential, then sgpte-opt with the default
# and a 4 GiB workspace, with sgpte's stage breakdown and the ratios. $1: a note on the
# machine's load.
e2e_side_by_side() {
  stage "end to end, official opt_sequential ($1)"
  python3 tools/reference/opt_reference_pipeline.py --sparsegpt "$REF" --model "$W/opt125m" --name opt125m-random \
    --calibration "$CAL" --evaluation "$EVAL" --nsamples 128 --seed 0 --runs sp50 --max-eval-tokens 8192 \
    --json "$W/results/e2e-reference.json" 2>&1 | tail -n 3
  stage "end to end, sgpte-opt (Cuda) ($1)"
  for workspace in 256 4096; do
    local start; start=$(date +%s.%N)
    with_libs "$B/drivers/sgpte-opt" "$W/opt125m" --calibration "$CAL" --wbits 0 --sparsity 0.5 --nsamples 128 \
      --seqlen 2048 --workspace-mb $workspace --stats-json "$W/results/e2e-sgpte-ws$workspace.json" \
      > "$W/logs/e2e-$workspace.log" 2>&1
    echo "workspace ${workspace} MiB: rc=$? wall $(awk "BEGIN {print $(date +%s.%N) - $start}") s"
  done
  python3 - "$W/results" <<'PY'
import json, sys, os
d = sys.argv[1]
ref = json.load(open(os.path.join(d, "e2e-reference.json")))["runs"][0]
for ws in (256, 4096):
    ours = json.load(open(os.path.join(d, f"e2e-sgpte-ws{ws}.json")))
    parts = {k: sum(layer["seconds"][k] for layer in ours["layers"]) for k in ours["layers"][0]["seconds"]}
    rest = ours["compression_seconds"] - sum(parts.values())
    print(f"workspace {ws}: reference opt_sequential {ref['sequential_s']:.2f} s, sgpte compression "
          f"{ours['compression_seconds']:.2f} s, ratio {ref['sequential_s'] / ours['compression_seconds']:.2f}x; "
          + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + f", forward passes + embedding + loading {rest:.2f}")
PY
}

# The same sgpte-opt run (4 GiB workspace) under bench/kernel_timer: seconds per kernel and
# per profiling region, every one fenced.
e2e_under_kernel_timer() {
  stage "end to end under the kernel timer (workspace 4 GiB)"
  g++ -std=c++17 -O2 -shared -fPIC bench/kernel_timer/kokkos_kernel_timer.cpp -o "$W/libsgpte-kernel-timer.so" -ldl
  KOKKOS_TOOLS_LIBS="$W/libsgpte-kernel-timer.so" with_libs "$B/drivers/sgpte-opt" "$W/opt125m" --calibration "$CAL" \
    --wbits 0 --sparsity 0.5 --nsamples 128 --seqlen 2048 --workspace-mb 4096 > "$W/logs/e2e-timed.log" 2>&1
  echo "rc=$?"; sed -n '/sgpte kernel timer/,$p' "$W/logs/e2e-timed.log" |
    grep -v "^  layers\.\|View::initialization\|View::destruction\|deep_copy" | head -n 50
}

# Waits for start_device_build's build until $1 seconds of the call are left; fails unless
# it finished and succeeded.
wait_for_device_build() {
  stage "wait for the build"
  while [ ! -e "$DEVBUILD/done" ] && [ "$(left)" -gt "$1" ]; do sleep 5; done
  tail -n 3 "$DEVBUILD/build.log"; echo "build status: $(cat "$DEVBUILD/done" 2>/dev/null || echo unfinished)"
  cp "$DEVBUILD/configure.log" "$DEVBUILD/build.log" "$W/logs/" 2>/dev/null
  grep -A3 -m5 "error" "$DEVBUILD/build.log" | head -n 40
  [ "$(cat "$DEVBUILD/done" 2>/dev/null)" = 0 ]
}

# Waits for start_device_build's build (until $1 seconds of the call are left), then runs the
# whole suite on Cuda, OpenMP (4 threads) and Serial. sgpte_opt_tests (≈ 6 minutes alone, its
# host cases on the host GEMM) runs one process per test suite beside the rest of ctest.
run_device_suite() {
  wait_for_device_build "$1" || return 1

  stage "ctest (Serial, OpenMP with 4 threads, Cuda)"
  local opt_tests=$DEVBUILD/build/tests/opt/sgpte_opt_tests
  local suites="LayerBitsSchedule OptCheckpoint OptForward OptPerplexity SequentialCompression"
  for suite in $suites; do
    (cd "$DEVBUILD/build/tests/opt" && OMP_NUM_THREADS=4 OMP_PROC_BIND=false \
       timeout "$(( $(left) - 20 ))" "$opt_tests" --run_test=$suite > "$W/logs/opt-$suite.log" 2>&1
     echo "sgpte_opt_tests --run_test=$suite: rc=$?") &
  done
  OMP_NUM_THREADS=4 OMP_PROC_BIND=false ctest --test-dir "$DEVBUILD/build" -j 8 -E '^sgpte_opt_tests$' \
    --timeout "$(( $(left) - 20 ))" --output-on-failure > "$W/logs/ctest.log" 2>&1
  echo "ctest (all but sgpte_opt_tests) rc=$?"; tail -n 40 "$W/logs/ctest.log"
  wait
  for suite in $suites; do echo "--- $suite"; tail -n 3 "$W/logs/opt-$suite.log"; done
}

# Waits for a start_device_build of some unit-test targets (until $1 seconds of the call are
# left), then runs sgpte_<name>_tests for each further argument <name> on Serial, OpenMP (4
# threads) and Cuda.
run_device_unit_tests() {
  wait_for_device_build "$1" || return 1
  shift
  for name in "$@"; do
    stage "sgpte_${name}_tests (Serial, OpenMP with 4 threads, Cuda)"
    (cd "$DEVBUILD/build/tests/$name" && OMP_NUM_THREADS=4 OMP_PROC_BIND=false "./sgpte_${name}_tests" 2>&1 | tail -n 4)
  done
}

# bench/compare_with_reference.py on the four layer shapes: $1 the sgpte-bench program, $2
# sgpte's backend, $3 the reference's torch device, $4 the configurations, $5 the lines of
# the table to print; further arguments go to the script. OpenMP runs with 16 threads on
# both sides (the reference's PyTorch CPU too).
side_by_side() {
  local bench=$1 backend=$2 device=$3 configs=$4 lines=$5; shift 5
  local threads=(); [ "$device" = cpu ] && threads=(--threads 16)
  OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads python3 bench/compare_with_reference.py \
    --sgpte-bench "$bench" --sparsegpt "$REF" --backend "$backend" --device "$device" "${threads[@]}" \
    --shapes 768x768,3072x768,768x3072,4096x4096 --configs "$configs" --out "$W/results/$backend" "$@" 2>&1 |
    tail -n "$lines"
}

# sgpte-bench's OpenMP statistics (16 threads) with the BLAS it links, then with BLIS
# preloaded in its place for sgemm_ and ssyrk_: $1 the program, $2 the folder of libblis.so.4.
openmp_statistics_with_each_blas() {
  local shapes=768x768,768x3072,4096x4096
  OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads \
    "$1" --backend openmp --shapes $shapes --configs sparse50 2>&1 | tail -n 4
  OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads BLIS_NUM_THREADS=16 LD_PRELOAD="$2/libblis.so.4" \
    "$1" --backend openmp --shapes $shapes --configs sparse50 2>&1 | tail -n 4
}

# sgpte-bench's Cuda statistics at 768 columns with 262144 and 1048576 calibration tokens:
# the difference over the 384 extra batches is the cost per batch, without the per-layer
# set-up. $1: the program (its first shape warms up).
statistics_per_batch_at_768_columns() {
  stage "Cuda statistics at 768 columns, 262144 and 1048576 tokens"
  for tokens in 262144 1048576; do
    "$1" --backend cuda --shapes 768x768,3072x768 --configs sparse50 --tokens $tokens 2>&1 | tail -n 2
  done
}
# Builds the unit tests the statistics touch and the extra targets $2 against the Kokkos
# installation $1, then runs those tests on every backend; fails if the build or a test does.
build_and_run_statistics_tests() {
  use_prebuilt > /dev/null
  start_device_build 16 "$1" "sgpte_core_tests sgpte_conformance_tests sgpte_hostile_tests $2"
  run_device_unit_tests 250 core conformance hostile
}
# Cuda statistics side by side with the reference, $2 rounds in one command (sgpte-bench $1).
statistics_rounds_against_the_reference() {
  for round in $(seq 1 "$2"); do
    stage "Cuda against the reference on the same GPU, round $round"
    side_by_side "$1" cuda cuda sparse50 6
  done
}
# sgpte-bench-statistics-parts on Cuda at each of the column counts $2… (bench folder $1).
statistics_parts() {
  local bench=$1; shift
  for columns in "$@"; do
    stage "parts of a batch, $columns columns"
    "$bench/sgpte-bench-statistics-parts" --backend cuda --columns "$columns" 2>&1 | grep -v "OMP_PROC\|OpenMP\|^ *$"
  done
}
# sgpte_opt_tests' suites but OptPerplexity, side by side on every backend, each stopped with
# 10 s of the call's `left` time to spare.
opt_suites_but_perplexity() {
  stage "sgpte_opt_tests per suite (Serial, OpenMP with 4 threads, Cuda)"
  for suite in LayerBitsSchedule OptCheckpoint OptForward SequentialCompression; do
    (cd "$DEVBUILD/build/tests/opt" && OMP_NUM_THREADS=4 OMP_PROC_BIND=false timeout "$(( $(left) - 10 ))" \
       ./sgpte_opt_tests --run_test=$suite > "$W/logs/opt-$suite.log" 2>&1
     echo "$suite: rc=$?"; tail -n 2 "$W/logs/opt-$suite.log") &
  done
  wait
}
# Calls 28 and 30: the unit tests the statistics touch on every backend (built against the
# Kokkos installation $1), the parts at 768 and 1024 columns on Cuda and at 768 on OpenMP (16
# threads), the statistics at 768 columns with 1× and 4× the tokens, Cuda side by side with the
# reference three times; the results and logs into $OUT/results$2.tar.
statistics_kernel_measurements() {
  build_and_run_statistics_tests "$1" "sgpte-bench sgpte-bench-statistics-parts" || return 1
  local bench=$DEVBUILD/build/bench
  statistics_parts "$bench" 768 1024
  stage "parts of a batch, 768 columns, OpenMP 16 threads"
  OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads OPENBLAS_CORETYPE=Cooperlake \
    "$bench/sgpte-bench-statistics-parts" --backend openmp --batches 64 2>&1 | grep -v "^ *$"
  statistics_per_batch_at_768_columns "$bench/sgpte-bench"
  statistics_rounds_against_the_reference "$bench/sgpte-bench" 3
  tar cf "$OUT/results$2.tar" -C "$W" results logs
}
# Calls 34–37: the unit tests the statistics touch on every backend (built against the Kokkos
# installation $1, their failures in full), the device-time probe (reduction_probe.cpp), the
# parts of a batch at 768 and 1024 columns on Cuda and at 768 on OpenMP (16 threads), Cuda side
# by side with the reference three times with sgpte's statistics in fp32 and once in TF32, and
# the tiny model on Cuda.
statistics_batch_measurements() {
  use_prebuilt > /dev/null
  start_device_build 16 "$1" "sgpte_core_tests sgpte_conformance_tests sgpte_hostile_tests sgpte-bench sgpte-bench-statistics-parts sgpte-opt"
  wait_for_device_build 250 || return 1
  for name in core conformance hostile; do
    stage "sgpte_${name}_tests (Serial, OpenMP with 4 threads, Cuda)"
    (cd "$DEVBUILD/build/tests/$name" && OMP_NUM_THREADS=4 OMP_PROC_BIND=false "./sgpte_${name}_tests" > "$W/logs/$name.log" 2>&1
     echo "rc=$?"; grep -B2 -A6 "error:\|fatal error" "$W/logs/$name.log" | head -n 60; tail -n 2 "$W/logs/$name.log")
  done
  local bench=$DEVBUILD/build/bench
  stage "build and run the device-time probe"
  PATH=/usr/local/cuda/bin:$PATH "$1/bin/nvcc_wrapper" -std=c++17 -O3 -extended-lambda -arch=sm_90 -fopenmp \
    -I"$DEVBUILD/build/include" -Iinclude -Ibackends -I"$1/include" -I.devices/sysdeps/include/eigen3 \
    tools/device/reduction_probe.cpp -o "$W/reduction_probe" -L"$1/lib" -lkokkoskernels -lkokkoscore \
    -L/usr/local/cuda/lib64 -lcublasLt -lcublas -lcusolver -lcuda -ldl > "$W/logs/probe-build.log" 2>&1 &&
    for round in 1 2; do "$W/reduction_probe" 2>&1 | grep "sgpte\|statistics\|empty\|error"; echo; done
  statistics_parts "$bench" 768 1024
  stage "parts of a batch, 768 columns, OpenMP 16 threads"
  OMP_NUM_THREADS=16 OMP_PROC_BIND=spread OMP_PLACES=threads \
    "$bench/sgpte-bench-statistics-parts" --backend openmp --batches 64 2>&1 | grep -v "^ *$"
  statistics_rounds_against_the_reference "$bench/sgpte-bench" 3
  stage "Cuda against the reference, sgpte's statistics in TF32"
  side_by_side "$bench/sgpte-bench" cuda cuda sparse50 6 --statistics-precision tf32
  stage "sgpte-opt on the tiny model (Cuda, default options)"
  "$DEVBUILD/build/drivers/sgpte-opt" models/tiny-opt --calibration "$CAL" --evaluation "$EVAL" \
    --backend cuda > "$W/logs/tiny-cuda.log" 2>&1
  echo "rc=$?"; grep -A3 "^Perplexity" "$W/logs/tiny-cuda.log"; tail -n 3 "$W/logs/tiny-cuda.log"
}
