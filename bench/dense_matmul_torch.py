#!/usr/bin/env python3
"""The dense baselines of sgpte-bench-packed-matmul in fp16 and fp32 through PyTorch (cuBLAS).

Usage: python3 bench/dense_matmul_torch.py [--sizes 4096,12288] [--tokens 1,16] [--repeat 20]

y = W x for a size x size W and a batch of tokens, as the packed matmul benchmark times it:
one warm-up call, then the mean of --repeat calls, each synchronised. TF32 is off, as in the
reference implementation; fp16 uses the tensor cores as cuBLAS chooses.
"""

import argparse
import time

import torch


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="4096,12288")
    parser.add_argument("--tokens", default="1,16")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"dense W x on {torch.cuda.get_device_name()} (torch {torch.__version__})")
    print(f"{'size':>6} {'tokens':>6} {'dtype':>8} {'ms':>9} {'weight MB':>10} {'GB/s':>8}")
    for size in map(int, args.sizes.split(",")):
        for tokens in map(int, args.tokens.split(",")):
            for dtype in (torch.float16, torch.float32):
                w = torch.randn(size, size, device="cuda", dtype=dtype)
                x = torch.randn(size, tokens, device="cuda", dtype=dtype)
                torch.matmul(w, x)
                torch.cuda.synchronize()
                start = time.perf_counter()
                for _ in range(args.repeat):
                    torch.matmul(w, x)
                torch.cuda.synchronize()
                seconds = (time.perf_counter() - start) / args.repeat
                megabytes = w.numel() * w.element_size() / 1e6
                print(f"{size:>6} {tokens:>6} {str(dtype)[6:]:>8} {seconds * 1e3:>9.4f} {megabytes:>10.1f}"
                      f" {megabytes / 1e3 / seconds:>8.0f}")


if __name__ == "__main__":
    main()
