#!/usr/bin/env python3
"""Writes a randomly initialised OPT-125m-shaped model (12 layers, hidden 768, 12 heads,
FFN 3072, 2048 positions, vocabulary 50272) with transformers, in float32, for the
end-to-end timing of bench/README.md. Its perplexity is meaningless; only the shapes
matter for timing.

Usage: python3 make_random_opt.py OUT_DIR [--seed 0]
"""

import argparse

import torch
from transformers import OPTConfig, OPTForCausalLM


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    config = OPTConfig(vocab_size=50272, hidden_size=768, num_hidden_layers=12, ffn_dim=3072,
                       num_attention_heads=12, max_position_embeddings=2048, word_embed_proj_dim=768,
                       do_layer_norm_before=True, dropout=0.0, attention_dropout=0.0)
    model = OPTForCausalLM(config).to(torch.float32)
    model.save_pretrained(args.out)
    print(f"wrote {args.out}: {sum(p.numel() for p in model.parameters())} parameters")


if __name__ == "__main__":
    main()
