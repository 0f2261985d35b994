#!/usr/bin/env python3
"""Perplexity of sgpte-opt against the official pipeline on one model, in one command.

    python3 tools/reference/compare_perplexity.py --sparsegpt PATH --sgpte-opt build/drivers/sgpte-opt \\
        --model DIR --work DIR [--runs dense,sp50,2of4,w4,w3,sp50w4] [--precisions fp32,fp16] \\
        [--json OUT]

The official pipeline's runs come from opt_reference_pipeline.py (opt_sequential + opt_eval,
unmodified, the model in float32); sgpte-opt then compresses the same model with the same
options and windows (128 of the model's max_position_embeddings tokens, seed 0, the bundled
calibration and evaluation streams) once per forward precision, and the table gives each
perplexity, its difference from the official pipeline's and, for every precision but the
first, from sgpte's run in the first.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OPTIONS = {  # as opt_reference_pipeline.py's presets
    "dense": ["--dense-only"],
    "sp50": ["--wbits", "0", "--sparsity", "0.5"],
    "2of4": ["--wbits", "0", "--prunen", "2", "--prunem", "4"],
    "4of8": ["--wbits", "0", "--prunen", "4", "--prunem", "8"],
    "w4": ["--wbits", "4", "--sparsity", "0"],
    "w3": ["--wbits", "3", "--sparsity", "0"],
    "sp50w4": ["--wbits", "4", "--sparsity", "0.5"],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sparsegpt", default=".devdeps/sparsegpt")
    ap.add_argument("--sgpte-opt", default="build/drivers/sgpte-opt")
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--calibration", default="models/data/calibration.bin")
    ap.add_argument("--evaluation", default="models/data/evaluation.bin")
    ap.add_argument("--runs", default="dense,sp50,2of4,w4,w3,sp50w4")
    ap.add_argument("--precisions", default="fp32,fp16")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    runs = a.runs.split(",")
    precisions = a.precisions.split(",")
    name = os.path.basename(os.path.normpath(a.model))

    reference_json = os.path.join(a.work, f"{name}-reference.json")
    subprocess.run([sys.executable, os.path.join(HERE, "opt_reference_pipeline.py"), "--sparsegpt", a.sparsegpt,
                    "--model", a.model, "--name", name, "--calibration", a.calibration, "--evaluation",
                    a.evaluation, "--nsamples", "128", "--seed", "0", "--runs", ",".join(runs),
                    "--json", reference_json], check=True)
    reference = {run["name"]: run for run in json.load(open(reference_json))["runs"]}

    ours = {}
    for precision in precisions:
        for run in runs:
            stats = os.path.join(a.work, f"{name}-{run}-{precision}.json")
            command = [a.sgpte_opt, a.model, "--calibration", a.calibration, "--evaluation", a.evaluation,
                       "--nsamples", "128", "--seed", "0", "--forward-precision", precision,
                       "--stats-json", stats] + OPTIONS[run]
            if run != "dense":
                command.append("--skip-dense-eval")
            log = os.path.join(a.work, f"{name}-{run}-{precision}.log")
            with open(log, "w") as out:
                if subprocess.call(command, stdout=out, stderr=subprocess.STDOUT) != 0:
                    sys.exit(f"sgpte-opt failed: {' '.join(command)}\n" + open(log).read()[-2000:])
            perplexity = json.load(open(stats))["perplexity"]
            ours[(run, precision)] = perplexity["dense" if run == "dense" else "compressed"]["perplexity"]

    table = []
    print(f"\n{name}: perplexity on {a.evaluation}; official = opt_sequential + opt_eval (float32)")
    header = f"{'run':8} {'official':>10}" + "".join(f" {'sgpte ' + p:>12} {'vs official':>11}" for p in precisions)
    header += "".join(f" {p + ' vs ' + precisions[0]:>14}" for p in precisions[1:])
    print(header)
    for run in runs:
        official = reference[run]["perplexity"]
        row = {"run": run, "official": official}
        line = f"{run:8} {official:10.4f}"
        for p in precisions:
            value = ours[(run, p)]
            row[p] = value
            line += f" {value:12.4f} {100 * (value / official - 1):+10.3f}%"
        for p in precisions[1:]:
            line += f" {100 * (ours[(run, p)] / ours[(run, precisions[0])] - 1):+13.3f}%"
        print(line)
        table.append(row)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": name, "table": table}, f, indent=1)


if __name__ == "__main__":
    main()
