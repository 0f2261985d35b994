#!/usr/bin/env python3
"""Generates the golden fixtures of the I/O tests (tests/data/io/) with CPython itself.

    python3 tools/io/make_io_fixtures.py   # CPython 3.10+; rewrites the files below

- python_random.json: sequences of CPython's `random` module (getrandbits, random, randint
  after seeding with many kinds of integers, and the calibration windows of the SparseGPT
  data loader) that sgpte::io::PythonRandom must reproduce.
- golden.safetensors + golden_tensors.json: a file with one tensor of every dtype written by
  safetensors_stdlib.py (F16 through struct's 'e' format, BF16 by exact rational rounding,
  both independent of the C++ bit manipulation), and the inputs the C++ test feeds its
  writer to reproduce the file byte for byte.
"""

import json
import math
import random
import struct
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safetensors_stdlib  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "io"


def words_of(n):
    """|n| as 32-bit words, least significant first, as CPython's random_seed keys it."""
    n = abs(n)
    words = []
    while True:
        words.append(n & 0xFFFFFFFF)
        n >>= 32
        if n == 0:
            return words


def random_fixture():
    seeds = [0, 1, 42, 2**32 + 5, 12345678901234, 2**63 - 1, 2**64 - 59, -7, -(2**63), 2**100 + 3]
    widths = [0, 1, 7, 31, 32, 33, 53, 63, 64, 65, 100]
    ranges = [
        (0, 0), (0, 1), (0, 10), (-5, 5), (0, 2**31 - 1), (0, 2**32 - 1), (0, 2**32),
        (1, 2**53), (0, 2**62 + 12345), (0, 2**63 - 1), (2**63 - 1000, 2**63 - 1),
        (-(2**63), 2**63 - 1), (-(2**63), -(2**63) + 5),
    ]
    cases = []
    for seed in seeds:
        generator = random.Random(seed)
        case = {"seed": seed, "key": words_of(seed), "getrandbits": [], "randint": []}
        for k in widths:
            generator.seed(seed)
            drawn = [generator.getrandbits(k) for _ in range(5)]
            case["getrandbits"].append({"k": k, "words": [words_of(v) if k else [] for v in drawn]})
        generator.seed(seed)
        # random() is a multiple of 2^-53: store it exactly, as an integer.
        case["random_times_2_53"] = [int(generator.random() * 2**53) for _ in range(6)]
        for a, b in ranges:
            generator.seed(seed)
            case["randint"].append({"a": a, "b": b, "values": [generator.randint(a, b) for _ in range(6)]})
        cases.append(case)

    calibration = []
    for seed, n_tokens, seqlen, nsamples in [(0, 2_500_000, 2048, 128), (42, 3000, 2048, 16), (7, 2049, 2048, 4)]:
        random.seed(seed)  # exactly the reference loader's calls
        starts = [random.randint(0, n_tokens - seqlen - 1) for _ in range(nsamples)]
        calibration.append({"seed": seed, "n_tokens": n_tokens, "seqlen": seqlen, "starts": starts})
    return {"python": sys.version.split()[0], "cases": cases, "calibration": calibration}


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f32_from_bits(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def bf16_bits(x):
    """Round a float32 value to bfloat16 (8 significand bits, float32's exponent range),
    ties to even, with exact rational arithmetic."""
    if math.isnan(x):
        return (f32_bits(x) >> 16) | 0x40
    if math.isinf(x) or x == 0:
        return f32_bits(x) >> 16
    exponent = math.frexp(x)[1]  # x = m * 2^exponent, 0.5 <= |m| < 1
    quantum = Fraction(2) ** max(exponent - 8, -133)  # -133: spacing of bfloat16 subnormals
    rounded = round(Fraction(x) / quantum) * quantum  # round() on a Fraction: ties to even
    if abs(rounded) >= 2**128:
        return 0xFF80 if x < 0 else 0x7F80
    return f32_bits(float(rounded)) >> 16


def float_inputs():
    """float32 bit patterns covering the special cases of narrowing to F16 and BF16."""
    specials = [
        0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 65504.0, -65504.0, 65519.0, 6.1035156e-05,  # min normal
        5.9604645e-08, 2.9802322e-08, 2.98023259e-08, 8.940697e-08, 1e-9, 3.4028235e38, 1e-40,
        1.00048828125,  # halfway between two halves, even below: stays 1.0
        1.00146484375,  # halfway, odd below: rounds up
        1.00390625, 1.01171875,  # the same two cases for bfloat16
        float("inf"), float("-inf"), float("nan"),
    ]
    patterns = [f32_bits(x) for x in specials]
    generator = random.Random(2024)
    while len(patterns) < 160:  # random values across the range of half precision
        x = generator.uniform(-1, 1) * 2.0 ** generator.randint(-26, 15)
        patterns.append(f32_bits(x))
    return patterns


def safetensors_fixture():
    patterns = float_inputs()
    floats = [f32_from_bits(p) for p in patterns]
    # struct refuses to pack finite values that overflow half precision (C++ tests those).
    f16_inputs = [p for p, x in zip(patterns, floats) if not (math.isfinite(x) and abs(x) >= 65520)]
    tensors = {
        "weight.f32": ("F32", [4, 40], struct.pack("<160f", *floats)),
        "weight.f64": ("F64", [160], struct.pack("<160d", *floats)),
        "weight.f16": ("F16", [len(f16_inputs)], b"".join(struct.pack("<e", f32_from_bits(p)) for p in f16_inputs)),
        "weight.bf16": ("BF16", [160], b"".join(struct.pack("<H", bf16_bits(x)) for x in floats)),
        "scalar": ("F32", [], struct.pack("<f", 2.5)),
        "empty": ("F32", [0, 4], b""),
        "wéight.unicode": ("F16", [2], struct.pack("<2e", 1.5, -2.0)),
    }
    inputs = {"weight.f32": patterns, "weight.f64": patterns, "weight.f16": f16_inputs,
              "weight.bf16": patterns, "scalar": [f32_bits(2.5)], "empty": [],
              "wéight.unicode": [f32_bits(1.5), f32_bits(-2.0)]}
    integers = {
        "I64": [0, 1, -1, 2**63 - 1, -(2**63)], "I32": [0, -1, 2**31 - 1, -(2**31)],
        "U32": [0, 1, 2**32 - 1], "I16": [0, -1, 32767, -32768], "U16": [0, 65535, 258],
        "I8": [0, -1, 127, -128], "U8": [0, 1, 255], "BOOL": [0, 1, 1, 0],
    }
    for dtype, numbers in integers.items():
        code = safetensors_stdlib.DTYPES[dtype][1]
        tensors["int." + dtype.lower()] = (dtype, [len(numbers)], struct.pack(f"<{len(numbers)}{code}", *numbers))
        inputs["int." + dtype.lower()] = numbers
    metadata = {"format": "pt", "producer": "sgpte golden fixture"}
    path = OUT / "golden.safetensors"
    safetensors_stdlib.save(path, tensors, metadata)
    loaded, loaded_metadata = safetensors_stdlib.load(path)
    assert loaded_metadata == metadata
    assert {name: (d, tuple(s), b) for name, (d, s, b) in tensors.items()} == loaded

    described = []
    for name, (dtype, shape, data) in sorted(tensors.items()):
        entry = {"name": name, "dtype": dtype, "shape": shape}
        if dtype in ("F16", "BF16", "F32", "F64"):
            entry["input_f32_bits"] = inputs[name]
            # What reading the file back as float must give, as float32 bit patterns.
            entry["read_f32_bits"] = [f32_bits(v) for v in safetensors_stdlib.values(dtype, data)]
        else:
            entry["values"] = inputs[name]
        described.append(entry)
    return {"metadata": metadata, "tensors": described}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "python_random.json").write_text(json.dumps(random_fixture(), separators=(",", ":")) + "\n")
    (OUT / "golden_tensors.json").write_text(json.dumps(safetensors_fixture(), ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
