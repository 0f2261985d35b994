#!/usr/bin/env python3
"""Loads OPT checkpoints (e.g. those sgpte-opt writes with --output) in transformers and
prints their perplexity on non-overlapping windows of a uint16 token file, as the
reference's opt_eval defines it. Used on the GPU machine to check that compressed
checkpoints are ordinary checkpoints that give the perplexity sgpte-opt reported.

Usage: python3 transformers_perplexity.py --evaluation EVAL.bin MODEL_DIR [MODEL_DIR ...]
       [--seqlen N] [--json OUT.json]
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from opt_common import load_opt, load_tokens, no_tf32, plain_perplexity  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--evaluation", required=True)
    parser.add_argument("--seqlen", type=int, default=0, help="default: max_position_embeddings")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    no_tf32()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokens = load_tokens(args.evaluation)
    results = {}
    for model_dir in args.models:
        model = load_opt(model_dir)
        seqlen = args.seqlen or model.config.max_position_embeddings
        ppl, nll, windows = plain_perplexity(model, tokens, seqlen, device)
        zeros = sum((p == 0).sum().item() for n, p in model.named_parameters() if n.endswith("proj.weight") or ".fc" in n)
        print(f"{model_dir}: perplexity {ppl:.6f} over {windows} windows of {seqlen} tokens")
        results[model_dir] = {"perplexity": ppl, "mean_nll": nll, "windows": windows, "zero_weights": zeros}
        del model
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
