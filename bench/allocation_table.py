#!/usr/bin/env python3
"""Mixed precision against uniform quantization at equal packed bytes, as a markdown table.

Usage:
    python3 bench/allocation_table.py MODEL_DIR --sgpte-opt BUILD/drivers/sgpte-opt \\
        --calibration CAL.bin --evaluation EVAL.bin [--out DIR] [--label NAME=ARGS ...] \\
        [--extra "OPTIONS FOR EVERY RUN"]

Runs sgpte-opt on MODEL_DIR for dense, then for {3.0, 4.0 bits} x {0 %, 50 % sparsity}:
uniform (`--wbits B`) and the default mixed precision (`--target-avg-bits B`), each with
--save-packed so that the packed bytes are measured on disk (the files of DIR/layers, the
linear layers; embeddings and layer norms stay dense and are not counted) and checked
against what the statistics report. Each --label NAME=ARGS adds a mixed row per setting with
ARGS appended (e.g. `--label "score=--sensitivity score"`). Prints one markdown table: bits,
packed bytes, bytes against uniform at the same bits and sparsity, perplexity, and for
3.0 bits the fraction of the gap between uniform 3-bit and uniform 4-bit that a mixed run
closes ((ppl_u3 − ppl) / (ppl_u3 − ppl_u4), at the same sparsity). The JSON statistics of
every run stay in DIR, with the bytes measured on disk added (packed_bytes_on_disk; the packed
models are deleted once measured); a run whose statistics are already there is not repeated
(so a second call with another --label only runs the new rows).
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys


def run(arguments, name, options, dense):
    out = os.path.join(arguments.out, name)
    stats = out + ".json"
    command = [arguments.sgpte_opt, arguments.model, "--calibration", arguments.calibration,
               "--evaluation", arguments.evaluation, "--save-packed", out + ".packed",
               "--stats-json", stats] + options + shlex.split(arguments.extra)
    if not dense:
        command.append("--skip-dense-eval")
    if os.path.exists(stats):
        print(f"reusing {stats}", file=sys.stderr, flush=True)
    else:
        print("$ " + " ".join(shlex.quote(c) for c in command), file=sys.stderr, flush=True)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(stats) as file:
        data = json.load(file)
    layers = os.path.join(out + ".packed", "layers")
    on_disk = data.get("packed_bytes_on_disk")
    if on_disk is None:
        on_disk = sum(os.path.getsize(os.path.join(layers, f)) for f in os.listdir(layers))
        data["packed_bytes_on_disk"] = on_disk
        with open(stats, "w") as file:
            json.dump(data, file, indent=1)
    if on_disk != data["size_after_bytes"]:
        sys.exit(f"{name}: the statistics report {data['size_after_bytes']} packed bytes, "
                 f"the files of {layers} hold {on_disk}")
    if os.path.isdir(out + ".packed"):
        shutil.rmtree(out + ".packed")  # measured; the statistics keep the bytes
    return {"bits": data["average_bits"], "bytes": on_disk,
            "dense": data["perplexity"].get("dense", {}).get("perplexity"),
            "ppl": data["perplexity"]["compressed"]["perplexity"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--sgpte-opt", required=True)
    parser.add_argument("--calibration", required=True)
    parser.add_argument("--evaluation", required=True)
    parser.add_argument("--out", default="allocation-table")
    parser.add_argument("--label", action="append", default=[],
                        help="NAME=ARGS: a further mixed row per setting with these options")
    parser.add_argument("--extra", default="", help="options given to every run, e.g. '--backend cuda'")
    arguments = parser.parse_args()
    os.makedirs(arguments.out, exist_ok=True)
    labels = [("default", [])]
    for label in arguments.label:
        name, _, options = label.partition("=")
        if not name or not options:
            sys.exit(f"--label {label!r}: expected NAME=ARGS")
        labels.append((name, shlex.split(options)))

    rows = []
    results = {}
    for sparsity in ("0", "0.5"):
        for bits in ("4", "3"):
            uniform = run(arguments, f"uniform{bits}_s{sparsity}", ["--wbits", bits, "--sparsity", sparsity],
                          dense=not results)
            results[("uniform", bits, sparsity)] = uniform
            for name, options in labels:
                file_name = re.sub(r"[^A-Za-z0-9_.-]", "-", name)
                results[(name, bits, sparsity)] = run(
                    arguments, f"{file_name}{bits}_s{sparsity}",
                    ["--target-avg-bits", bits, "--sparsity", sparsity] + options, dense=False)
    dense = results[("uniform", "4", "0")]["dense"]

    print("| configuration | average bits | packed bytes | vs uniform | perplexity | 3→4 gap closed |")
    print("|---|---|---|---|---|---|")
    print(f"| dense | 16 | – | – | {dense:.4f} | – |")
    for sparsity in ("0", "0.5"):
        prefix = "" if sparsity == "0" else "50 % + "
        for bits in ("4", "3"):
            uniform = results[("uniform", bits, sparsity)]
            for name in ["uniform"] + [n for n, _ in labels]:
                r = results[(name, bits, sparsity)]
                label = f"uniform {bits}-bit" if name == "uniform" else f"mixed {bits}.0, {name}"
                gap = "–"
                if bits == "3":
                    u3, u4 = uniform["ppl"], results[("uniform", "4", sparsity)]["ppl"]
                    gap = f"{(u3 - r['ppl']) / (u3 - u4):+.0%}" if u3 != u4 else "n/a"
                print(f"| {prefix}{label} | {r['bits']:.3f} | {r['bytes']:,} | "
                      f"{r['bytes'] / uniform['bytes']:.4f} | {r['ppl']:.4f} | {gap} |")


if __name__ == "__main__":
    main()
