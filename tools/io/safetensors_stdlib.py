#!/usr/bin/env python3
"""A minimal, independent safetensors reader and writer using only the standard library.

The Hugging Face `safetensors` package is not available everywhere sgpte is developed, so
this module stands in for it: make_io_fixtures.py writes the golden file the C++ writer must
reproduce byte for byte, and running this file on any .safetensors file (e.g. one written by
sgpte) checks it against the format and prints its tensors:

    python3 tools/io/safetensors_stdlib.py model.safetensors
"""

import json
import struct
import sys

# Element size and struct code of every dtype, in the reference implementation's dtype order:
# writers sort tensors by descending dtype, then by name.
DTYPES = {
    "BOOL": (1, "?"),
    "U8": (1, "B"),
    "I8": (1, "b"),
    "I16": (2, "h"),
    "U16": (2, "H"),
    "F16": (2, "e"),
    "BF16": (2, None),
    "I32": (4, "i"),
    "U32": (4, "I"),
    "F32": (4, "f"),
    "F64": (8, "d"),
    "I64": (8, "q"),
}
DTYPE_ORDER = list(DTYPES)


def save(path, tensors, metadata=None):
    """tensors: {name: (dtype, shape, raw little-endian bytes)}."""
    ordered = sorted(tensors.items(), key=lambda item: (-DTYPE_ORDER.index(item[1][0]), item[0].encode()))
    header = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for name, (dtype, shape, data) in ordered:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for _, (_, _, data) in ordered:
            out.write(data)


def load(path):
    """Returns ({name: (dtype, shape, raw bytes)}, metadata), checking the format."""
    with open(path, "rb") as source:
        content = source.read()
    if len(content) < 8:
        raise ValueError(f"{path}: shorter than the header length")
    (length,) = struct.unpack("<Q", content[:8])
    if length < 2 or 8 + length > len(content):
        raise ValueError(f"{path}: bad header length {length}")

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{path}: duplicate keys in {keys}")
        return dict(pairs)

    header = json.loads(content[8 : 8 + length].decode("utf-8"), object_pairs_hook=no_duplicates)
    data = content[8 + length :]
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(value, str) for value in metadata.values()):
        raise ValueError(f"{path}: metadata values must be strings")
    tensors = {}
    spans = []
    for name, entry in header.items():
        size, _ = DTYPES[entry["dtype"]]
        count = 1
        for extent in entry["shape"]:
            if not isinstance(extent, int) or extent < 0:
                raise ValueError(f"{path}: {name}: bad shape {entry['shape']}")
            count *= extent
        begin, end = entry["data_offsets"]
        if not 0 <= begin <= end <= len(data) or end - begin != count * size:
            raise ValueError(f"{path}: {name}: bad data_offsets {entry['data_offsets']}")
        if end > begin:
            spans.append((begin, end, name))
        tensors[name] = (entry["dtype"], tuple(entry["shape"]), data[begin:end])
    spans.sort()
    for (_, previous_end, previous), (begin, _, name) in zip(spans, spans[1:]):
        if begin < previous_end:
            raise ValueError(f"{path}: {previous} and {name} overlap")
    return tensors, metadata


def values(dtype, data):
    """The elements of raw bytes as Python numbers (BF16 widened through F32)."""
    size, code = DTYPES[dtype]
    count = len(data) // size
    if dtype == "BF16":
        widened = b"".join(b"\0\0" + data[i : i + 2] for i in range(0, len(data), 2))
        return list(struct.unpack(f"<{count}f", widened))
    return list(struct.unpack(f"<{count}{code}", data))


if __name__ == "__main__":
    for file in sys.argv[1:]:
        tensors, metadata = load(file)
        print(f"{file}: {len(tensors)} tensors, metadata {metadata}")
        for name, (dtype, shape, data) in sorted(tensors.items()):
            shown = values(dtype, data)
            print(f"  {name}: {dtype} {list(shape)} {shown[:6]}{' ...' if len(shown) > 6 else ''}")
