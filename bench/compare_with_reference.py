#!/usr/bin/env python3
"""sgpte-bench and the official SparseGPT implementation side by side, with ratios.

Usage:
    python3 bench/compare_with_reference.py --sgpte-bench build/bench/sgpte-bench \\
        --sparsegpt PATH [--backend cuda] [--device cuda] [--threads N] \\
        [--shapes 768x768,3072x768,4096x4096,12288x12288] [--repeat 2] [--out DIR] \\
        [--statistics-precision tf32]

Runs both, one after the other in this one command, on the same shapes, token count
(128 x 2048) and batching, and prints per shape and configuration the seconds of each and
the speed-up (reference / sgpte) of fasterprune and of the calibration statistics. PATH is a
checkout of IST-DASLab/sparsegpt, used unmodified through tools/reference/bench_reference.py.
The reference has no mixed precision: sgpte's mixed40_budget is set against its uniform
4-bit run (w4), the nearest configuration it has. With --statistics-precision tf32 sgpte forms
the statistics' product in TF32 (Cuda only) while the reference stays in fp32, as it sets.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "tools", "reference", "bench_reference.py")
COUNTERPART = {"mixed40_budget": "w4"}  # sgpte configuration -> the reference's nearest


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sgpte-bench", required=True)
    parser.add_argument("--sparsegpt", required=True)
    parser.add_argument("--backend", default="cuda", help="sgpte's Kokkos backend")
    parser.add_argument("--device", default="cuda", help="the reference's torch device")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--shapes", default="768x768,3072x768,768x3072,4096x4096,12288x12288")
    parser.add_argument("--configs", default="sparse50,nm24,sparse50_w4,mixed40_budget")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", default=".", help="directory of the two JSON result files")
    parser.add_argument("--statistics-precision", default="fp32", choices=["fp32", "tf32"],
                        help="sgpte's arithmetic for the statistics' product")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    ours_json = os.path.join(args.out, f"sgpte_{args.backend}.json")
    reference_json = os.path.join(args.out, f"reference_{args.device}.json")
    ours_configs = args.configs.split(",")
    reference_configs = sorted({COUNTERPART.get(c, c) for c in ours_configs})
    subprocess.run([args.sgpte_bench, "--backend", args.backend, "--shapes", args.shapes,
                    "--configs", args.configs, "--repeat", str(args.repeat), "--json", ours_json,
                    "--statistics-precision", args.statistics_precision], check=True)
    subprocess.run([sys.executable, REFERENCE, "--sparsegpt", args.sparsegpt, "--shapes", args.shapes,
                    "--configs", ",".join(reference_configs), "--repeat", str(args.repeat), "--device",
                    args.device, "--threads", str(args.threads), "--json", reference_json], check=True)

    with open(ours_json) as f:
        ours = json.load(f)
    with open(reference_json) as f:
        reference = json.load(f)
    theirs = {(r["shape"], r["configuration"]): r for r in reference["results"]}
    print(f"\nsgpte ({ours['backend']}, Kokkos {ours['kokkos']}) vs the official SparseGPT "
          f"({reference['device']}, torch {reference['torch']}), {ours['tokens']} calibration tokens"
          f"{', sgpte statistics in TF32' if args.statistics_precision == 'tf32' else ''}")
    print(f"{'shape':<12}{'configuration':<16}{'reference':<11}{'fasterprune s':>14}{'reference s':>12}"
          f"{'speed-up':>9}{'statistics s':>13}{'reference s':>12}{'speed-up':>9}")
    for r in ours["results"]:
        counterpart = COUNTERPART.get(r["configuration"], r["configuration"])
        t = theirs.get((r["shape"], counterpart))
        if t is None:
            continue
        print(f"{r['shape']:<12}{r['configuration']:<16}{counterpart:<11}{r['fasterprune_seconds']:>14.4f}"
              f"{t['fasterprune_seconds']:>12.4f}{t['fasterprune_seconds'] / r['fasterprune_seconds']:>8.1f}x"
              f"{r['statistics_seconds']:>13.4f}{t['statistics_seconds']:>12.4f}"
              f"{t['statistics_seconds'] / r['statistics_seconds']:>8.2f}x")


if __name__ == "__main__":
    main()
