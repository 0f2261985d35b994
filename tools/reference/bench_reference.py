#!/usr/bin/env python3
"""Times the official SparseGPT implementation layer by layer, for bench/README.md.

Usage:
    python3 bench_reference.py --sparsegpt PATH [--shapes 768x768,4096x4096]
        [--configs sparse50,nm24,sparse50_w4,w4] [--tokens 262144] [--batch 2048]
        [--repeat 2] [--device cuda|cpu] [--threads N] [--json OUT.json]

PATH is a checkout of IST-DASLab/sparsegpt; its SparseGPT and Quantizer classes are
imported from there and used unmodified (this script contains none of their code).
Float32 throughout; sparsegpt.py itself turns TF32 off. For each shape the statistics
(add_batch of `tokens` calibration tokens in batches of (1, batch, columns), as
opt_sequential feeds them) are timed once, then fasterprune for each configuration on a
fresh copy of the weights and the Hessian; the best of --repeat runs is reported. Weights
and inputs are uniform random, like sgpte-bench's.
"""

import argparse
import contextlib
import io
import json
import sys
import time

import torch
import torch.nn as nn

CONFIGS = {
    "sparse50": dict(sparsity=0.5, prunen=0, prunem=0, wbits=0),
    "nm24": dict(sparsity=0.0, prunen=2, prunem=4, wbits=0),
    "sparse50_w4": dict(sparsity=0.5, prunen=0, prunem=0, wbits=4),
    "w4": dict(sparsity=0.0, prunen=0, prunem=0, wbits=4),
}


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sparsegpt", required=True)
    parser.add_argument("--shapes", default="768x768,3072x768,768x3072,4096x4096")
    parser.add_argument("--configs", default="sparse50,nm24,sparse50_w4,w4")
    parser.add_argument("--tokens", type=int, default=128 * 2048)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", default="")
    args = parser.parse_args()

    sys.path.insert(0, args.sparsegpt)
    from sparsegpt import SparseGPT  # noqa: E402  (the reference, unmodified)
    from quant import Quantizer  # noqa: E402

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    generator = torch.Generator(device="cpu").manual_seed(0)
    results = []
    print(f"official SparseGPT on {torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}"
          f" (torch {torch.__version__}, {torch.get_num_threads()} CPU threads), {args.tokens} tokens")
    print(f"{'shape':<11} {'configuration':<14} {'statistics s':>12} {'fasterprune s':>13}")
    for text in args.shapes.split(","):
        rows, columns = (int(v) for v in text.split("x"))
        layer = nn.Linear(columns, rows, bias=False).to(device)
        original = (torch.rand(rows, columns, generator=generator) * 0.1 - 0.05).to(device)
        inputs = (torch.rand(1, args.batch, columns, generator=generator) * 2 - 1).to(device)
        gpt = SparseGPT(layer)
        synchronize(device)
        start = time.perf_counter()
        for done in range(0, args.tokens, args.batch):
            gpt.add_batch(inputs[:, : min(args.batch, args.tokens - done)], None)
        synchronize(device)
        statistics = time.perf_counter() - start
        hessian = gpt.H.clone()
        for name in args.configs.split(","):
            config = CONFIGS[name]
            best = None
            for _ in range(args.repeat):
                layer.weight.data = original.clone()
                gpt.H = hessian.clone()
                if config["wbits"]:
                    gpt.quantizer = Quantizer()
                    gpt.quantizer.configure(config["wbits"], perchannel=True, sym=False, mse=False)
                elif hasattr(gpt, "quantizer"):
                    del gpt.quantizer
                synchronize(device)
                start = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):  # fasterprune prints time and error
                    gpt.fasterprune(config["sparsity"], prunen=config["prunen"], prunem=config["prunem"])
                synchronize(device)
                elapsed = time.perf_counter() - start
                best = elapsed if best is None else min(best, elapsed)
            print(f"{text:<11} {name:<14} {statistics:>12.3f} {best:>13.3f}")
            results.append(dict(shape=text, configuration=name, statistics_seconds=statistics,
                                fasterprune_seconds=best))
        del gpt, layer, hessian, inputs
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as out:
            json.dump(dict(device=str(device), torch=torch.__version__, tokens=args.tokens, results=results), out,
                      indent=2)


if __name__ == "__main__":
    main()
