#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer + AddressSanitizer + UBSan) and runs them
# one after the other, each for the given time, on one core.
#
#   bash fuzz/run_fuzzers.sh [seconds per target (default 600)] [target ...]
#
# Targets: safetensors_reader, opt_config, compression_cli, packed_reader (default: all). Each grows a
# working corpus in build-fuzz/corpus/<target>, seeded from fuzz/corpus/<target>, and
# writes what it finds (crash-*, timeout-*, oom-*, leak-*) to build-fuzz/findings/<target>/.
# The script fails if any target found something; see README.md for what to do then.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(safetensors_reader opt_config compression_cli packed_reader)
build=build-fuzz # the binaryDir of the preset

declare -A dictionary=([safetensors_reader]=safetensors [opt_config]=json [compression_cli]=compression_cli [packed_reader]=packed)

if ! command -v clang++ >/dev/null || ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  echo "needs clang with libFuzzer (Debian 12: apt-get install -y clang libclang-rt-14-dev)" >&2
  exit 1
fi
cmake --preset fuzz >/dev/null # build-fuzz: clang, SGPTE_ENABLE_FUZZING (CMakePresets.json)
cmake --build "$build" --parallel 2 --target "${targets[@]/#/sgpte_fuzz_}"

status=0
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target
  findings=$build/findings/$target
  mkdir -p "$corpus" "$findings"
  echo "== $target: ${seconds} s"
  # -timeout: an input taking over 10 s is a finding too; -print_final_stats: executions.
  if ! "$build/fuzz/sgpte_fuzz_$target" -max_total_time="$seconds" -timeout=10 -max_len=8192 \
    -dict="fuzz/dictionaries/${dictionary[$target]}.dict" -artifact_prefix="$findings/" \
    -print_final_stats=1 "$corpus" "fuzz/corpus/$target" 2>"$build/fuzz-$target.log"; then
    status=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^SUMMARY|^#[0-9]+ *DONE" "$build/fuzz-$target.log" || true
  ls "$findings"
done
exit $status
