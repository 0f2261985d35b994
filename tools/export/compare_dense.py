#!/usr/bin/env python3
"""Compares an unpacked export (unpack_export.py) with sgpte-opt's compressed checkpoint: the
same tensors, dtypes and shapes, and every value equal bit for bit, or within
|unpacked − compressed| <= R·|compressed| with --relative R (a bound on the effect of storing
the scales in a narrower dtype; docs/format.md derives it). Prints the largest relative
difference seen; exits 1 on any mismatch.

    python3 tools/export/compare_dense.py COMPRESSED.safetensors UNPACKED.safetensors [--relative R]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "io"))
import safetensors_stdlib as st  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compressed")
    parser.add_argument("unpacked")
    parser.add_argument("--relative", type=float, default=0.0)
    args = parser.parse_args()
    expected, _ = st.load(args.compressed)
    actual, _ = st.load(args.unpacked)
    if sorted(expected) != sorted(actual):
        sys.exit(f"tensor names differ: only compressed {sorted(set(expected) - set(actual))}, "
                 f"only unpacked {sorted(set(actual) - set(expected))}")
    largest, differing = 0.0, 0
    for name in sorted(expected):
        (dtype, shape, data), (other_dtype, other_shape, other_data) = expected[name], actual[name]
        if (dtype, shape) != (other_dtype, other_shape):
            sys.exit(f"{name}: {dtype} {list(shape)} compressed, {other_dtype} {list(other_shape)} unpacked")
        if data == other_data:
            continue
        if args.relative == 0.0:
            sys.exit(f"{name}: values differ and no tolerance was given")
        for index, (want, got) in enumerate(zip(st.values(dtype, data), st.values(dtype, other_data))):
            if want == got:
                continue
            differing += 1
            relative = abs(got - want) / abs(want) if want != 0 else float("inf")
            largest = max(largest, relative)
            if relative > args.relative:
                sys.exit(f"{name}[{index}]: {got!r} unpacked, {want!r} compressed: relative difference "
                         f"{relative:.3g} > {args.relative:.3g}")
    print(f"{len(expected)} tensors match: {differing} values differ, by at most {largest:.3g} relative")


if __name__ == "__main__":
    main()
