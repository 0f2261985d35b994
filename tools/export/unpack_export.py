#!/usr/bin/env python3
"""Reference unpacker of the checkpoints `sgpte-opt --export` writes, written from the formats'
specifications (docs/format.md, "Exports"), independently of sgpte's C++ code and with the
standard library only: reads an export back to dense weights and writes an ordinary
checkpoint directory (config.json without "quantization_config", model.safetensors) that any
OPT runtime loads.

    python3 tools/export/unpack_export.py EXPORT_DIR OUTPUT_DIR [--dtype F32|F16|BF16]

GPTQ (quant_method "gptq", the v1 checkpoint format): for each module with `qweight`,
    W[o, c] = scales[g, o] · (q[c, o] − (z[g, o] + 1)),  g = g_idx[c]
with q the bits-wide fields of column o of qweight read as one little-endian bit stream along
the input dimension, z those of row g of qzeros along the output dimension. The dense dtype
is --dtype, else the config's torch_dtype/dtype (scales are always F16 there).

compressed-tensors (quant_method "compressed-tensors"): "pack-quantized" modules
(weight_packed: ⌊32/bits⌋ fields per int32 along the input dimension, stored as the signed
code plus 2^(bits−1); weight_zero_point packed the same way along the output dimension, 0
when symmetric; group from weight_g_idx, else c // group_size)
    W[o, c] = weight_scale[o, g] · (q[o, c] − zero_point[o, g])
in weight_scale's dtype; "sparse-24-bitmask" and "sparse-bitmask" modules (compressed values
scattered, row-major, to the set bits of bitmask, bit c % 8 of byte c / 8) in their values'
dtype.

Products are exact in Python floats (a float16/float32 scale times a small integer) and
rounded once to the dense dtype (BF16: through float32, as a float32 product would be).
"""

import argparse
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "io"))
import safetensors_stdlib as st  # noqa: E402


def fail(message):
    sys.exit(f"unpack_export.py: error: {message}")


def ints(tensor, name):
    dtype, shape, data = tensor
    if dtype not in ("I32", "I64", "U8"):
        fail(f"{name}: expected an integer tensor, got {dtype}")
    return st.values(dtype, data), shape


def floats(tensor):
    dtype, shape, data = tensor
    return st.values(dtype, data), shape, dtype


def encode(dtype, numbers):
    """Python floats rounded to nearest even in dtype, as little-endian bytes."""
    if dtype == "F32":
        return struct.pack(f"<{len(numbers)}f", *numbers)
    if dtype == "F16":
        return struct.pack(f"<{len(numbers)}e", *numbers)
    if dtype == "BF16":
        bits = struct.unpack(f"<{len(numbers)}I", struct.pack(f"<{len(numbers)}f", *numbers))
        rounded = [((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF for b in bits]
        return struct.pack(f"<{len(rounded)}H", *rounded)
    fail(f"unsupported dense dtype {dtype}")


def gptq_module(tensors, prefix, bits):
    qweight, (in_words, out) = ints(tensors.pop(prefix + ".qweight"), prefix + ".qweight")
    qzeros, (groups, zero_words) = ints(tensors.pop(prefix + ".qzeros"), prefix + ".qzeros")
    scales, scale_shape, scale_dtype = floats(tensors.pop(prefix + ".scales"))
    g_idx, (columns,) = ints(tensors.pop(prefix + ".g_idx"), prefix + ".g_idx")
    if scale_dtype != "F16" or scale_shape != (groups, out):
        fail(f"{prefix}.scales: expected F16 [{groups}, {out}], got {scale_dtype} {list(scale_shape)}")
    if in_words * 32 != columns * bits or zero_words * 32 != out * bits:
        fail(f"{prefix}: qweight/qzeros shapes do not match {columns} x {out} at {bits} bits")
    if any(not 0 <= g < groups for g in g_idx):
        fail(f"{prefix}.g_idx: group out of range")
    mask = (1 << bits) - 1

    def stream(word_at, count):
        # Fields of a little-endian bit stream of 32-bit words: field i at bit i·bits.
        value, have, out_fields, k = 0, 0, [], 0
        while len(out_fields) < count:
            if have < bits:
                value |= (word_at(k) & 0xFFFFFFFF) << have
                have += 32
                k += 1
            out_fields.append(value & mask)
            value >>= bits
            have -= bits
        return out_fields

    zeros = [stream(lambda k, g=g: qzeros[g * zero_words + k], out) for g in range(groups)]
    weight = [0.0] * (out * columns)
    for o in range(out):
        codes = stream(lambda k: qweight[k * out + o], columns)
        for c in range(columns):
            g = g_idx[c]
            weight[o * columns + c] = scales[g * out + o] * (codes[c] - (zeros[g][o] + 1))
    return weight, (out, columns)


def unpack_whole_fields(words, count, bits):
    per_word, mask = 32 // bits, (1 << bits) - 1
    return [((words[i // per_word] & 0xFFFFFFFF) >> ((i % per_word) * bits)) & mask for i in range(count)]


def pack_quantized_module(tensors, prefix, weights_config):
    bits = weights_config["num_bits"]
    offset = 1 << (bits - 1)
    shape, _ = ints(tensors.pop(prefix + ".weight_shape"), prefix + ".weight_shape")
    out, columns = shape
    packed, (rows, row_words) = ints(tensors.pop(prefix + ".weight_packed"), prefix + ".weight_packed")
    scales, (scale_rows, groups), dtype = floats(tensors.pop(prefix + ".weight_scale"))
    if rows != out or scale_rows != out:
        fail(f"{prefix}: weight_packed/weight_scale rows do not match weight_shape {shape}")
    if weights_config["symmetric"]:
        zero_point = [[0] * groups for _ in range(out)]
    else:
        zp, (zp_words, zp_groups) = ints(tensors.pop(prefix + ".weight_zero_point"), prefix + ".weight_zero_point")
        if zp_groups != groups:
            fail(f"{prefix}.weight_zero_point: {zp_groups} groups, weight_scale {groups}")
        columns_of = [unpack_whole_fields(zp[g::groups], out, bits) for g in range(groups)]
        zero_point = [[columns_of[g][o] - offset for g in range(groups)] for o in range(out)]
    if prefix + ".weight_g_idx" in tensors:
        group_of, _ = ints(tensors.pop(prefix + ".weight_g_idx"), prefix + ".weight_g_idx")
    elif weights_config["strategy"] == "group":
        group_of = [c // weights_config["group_size"] for c in range(columns)]
    else:
        group_of = [0] * columns
    if any(not 0 <= g < groups for g in group_of):
        fail(f"{prefix}: group index out of range")
    weight = [0.0] * (out * columns)
    for o in range(out):
        codes = unpack_whole_fields(packed[o * row_words : (o + 1) * row_words], columns, bits)
        for c in range(columns):
            g = group_of[c]
            weight[o * columns + c] = scales[o * groups + g] * ((codes[c] - offset) - zero_point[o][g])
    return weight, (out, columns), dtype


def bitmask_module(tensors, prefix):
    shape, _ = ints(tensors.pop(prefix + ".shape"), prefix + ".shape")
    out, columns = shape
    values, _, dtype = floats(tensors.pop(prefix + ".compressed"))
    bitmask, (rows, row_bytes) = ints(tensors.pop(prefix + ".bitmask"), prefix + ".bitmask")
    tensors.pop(prefix + ".row_offsets", None)  # implied by the bitmask
    if rows != out or row_bytes != (columns + 7) // 8:
        fail(f"{prefix}.bitmask: shape does not match {shape}")
    weight, k = [0.0] * (out * columns), 0
    for o in range(out):
        for c in range(columns):
            if (bitmask[o * row_bytes + c // 8] >> (c % 8)) & 1:
                weight[o * columns + c] = values[k]
                k += 1
    if k != len(values):
        fail(f"{prefix}: {len(values)} values for {k} set bits")
    return weight, (out, columns), dtype


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export_dir")
    parser.add_argument("output_dir")
    parser.add_argument("--dtype", choices=["F32", "F16", "BF16"], help="GPTQ: dense dtype (default: the config's)")
    args = parser.parse_args()
    with open(os.path.join(args.export_dir, "config.json")) as source:
        config = json.load(source)
    quantization = config.pop("quantization_config", None)
    if not quantization:
        fail(f"{args.export_dir}/config.json has no quantization_config")
    tensors, metadata = st.load(os.path.join(args.export_dir, "model.safetensors"))
    dense = {}
    method = quantization.get("quant_method")
    if method == "gptq":
        torch_dtype = config.get("torch_dtype", config.get("dtype", "float16"))
        dtype = args.dtype or {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}[torch_dtype]
        for prefix in sorted(name[: -len(".qweight")] for name in tensors if name.endswith(".qweight")):
            weight, shape = gptq_module(tensors, prefix, quantization["bits"])
            dense[prefix + ".weight"] = (dtype, shape, encode(dtype, weight))
    elif method == "compressed-tensors":
        groups = quantization.get("config_groups") or {}
        if len(groups) > 1:
            fail("more than one config group")
        weights_config = next(iter(groups.values()))["weights"] if groups else None
        for name in sorted(tensors):
            if name.endswith(".weight_packed"):
                if weights_config is None:
                    fail(f"{name} but no config group")
                prefix = name[: -len(".weight_packed")]
                weight, shape, dtype = pack_quantized_module(tensors, prefix, weights_config)
                dense[prefix + ".weight"] = (dtype, shape, encode(dtype, weight))
        for name in sorted(tensors):
            if name.endswith(".bitmask"):
                prefix = name[: -len(".bitmask")]
                weight, shape, dtype = bitmask_module(tensors, prefix)
                dense[prefix + ".weight"] = (dtype, shape, encode(dtype, weight))
    else:
        fail(f"unknown quant_method {method!r}")
    for name, tensor in tensors.items():
        if name in dense:
            fail(f"{name} is both stored and unpacked")
        dense[name] = tensor
    os.makedirs(args.output_dir, exist_ok=True)
    st.save(os.path.join(args.output_dir, "model.safetensors"), dense, metadata)
    with open(os.path.join(args.output_dir, "config.json"), "w") as target:
        json.dump(config, target, indent=2)
        target.write("\n")
    print(f"{args.export_dir} ({method}): {len(dense)} tensors written to {args.output_dir}")


if __name__ == "__main__":
    main()
