#!/usr/bin/env bash
# Runs sgpte-layer --config-from-metadata on every reference case in a folder (e.g. fresh
# cases from make_reference_cases.py --seed-offset/--shapes/--configs) and checks each
# output with sgpte-compare-case (the criteria of tests/conformance/case_comparison.hpp).
# Prints one line per case and a count; exits 1 if any case does not conform.
#
#   tools/reference/check_layer_cases.sh CASES_DIR [BUILD_DIR (default: build)]
set -uo pipefail
cases=${1:?usage: check_layer_cases.sh CASES_DIR [BUILD_DIR]}
build=${2:-build}
layer=$build/drivers/sgpte-layer
compare=$build/tests/conformance/sgpte-compare-case
for program in "$layer" "$compare"; do
  [[ -x $program ]] || { echo "missing $program: build with -DSGPTE_ENABLE_TESTS=ON" >&2; exit 2; }
done
output=$(mktemp -d)
trap 'rm -rf "$output"' EXIT
total=0 failed=0
for case in "$cases"/*.safetensors; do
  total=$((total + 1))
  name=$(basename "$case")
  if ! "$layer" --config-from-metadata "$case" "$output/$name" >"$output/layer.log" 2>&1; then
    echo "$name: sgpte-layer failed: $(tail -n 1 "$output/layer.log")"
    failed=$((failed + 1))
    continue
  fi
  "$compare" "$case" "$output/$name" || failed=$((failed + 1))
done
echo "$((total - failed)) of $total cases conform"
((failed == 0))
