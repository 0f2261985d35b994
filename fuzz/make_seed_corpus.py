#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the project's
real fixtures, small enough to commit (well under 1 MB in all):

- safetensors_reader: the golden I/O fixture as is; shrunk copies of real checkpoints
  (every tensor cut to at most 2 elements per dimension, headers, names, dtypes and metadata
  kept, data taken from the original tensors); truncated copies (header intact, data cut;
  header cut inside the JSON).
- opt_config: the config.json files of the bundled model and of the I/O tests, and a
  generation_config.json (valid JSON, not an OPT config).
- compression_cli: command lines (NUL-separated words) of the README and the tests, and the
  metadata of the reference cases as "@key=value" words (see fuzz_compression_cli.cpp).

    python3 fuzz/make_seed_corpus.py   # rewrites fuzz/corpus/
"""

import json
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fuzz" / "corpus"

DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8}


def read_safetensors(path):
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def write_safetensors(path, header, tensors):
    """tensors: name -> bytes, laid out in header order."""
    offset = 0
    body = b""
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        entry["data_offsets"] = [offset, offset + len(tensors[name])]
        offset += len(tensors[name])
        body += tensors[name]
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)


def shrunk(source, target):
    header, data = read_safetensors(source)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        entry["shape"] = [min(extent, 2) for extent in entry["shape"]]
        count = 1
        for extent in entry["shape"]:
            count *= extent
        begin = entry["data_offsets"][0]
        tensors[name] = data[begin:begin + count * DTYPE_SIZES[entry["dtype"]]]
    write_safetensors(target, header, tensors)


def safetensors_corpus(out):
    golden = ROOT / "tests/data/io/golden.safetensors"
    shutil.copy(golden, out / "golden.safetensors")
    sources = {
        "reference_case": ROOT / "tests/data/reference/64x128_sp50_w4asym_heavy.safetensors",
        "tiny_opt_model": ROOT / "models/tiny-opt/model.safetensors",
        "tiny_opt_reference": ROOT / "tests/data/opt/tiny-opt-reference.safetensors",
    }
    for name, source in sources.items():
        shrunk(source, out / f"{name}_shrunk.safetensors")
    case = sources["reference_case"].read_bytes()
    (length,) = struct.unpack("<Q", case[:8])
    (out / "reference_case_data_cut.safetensors").write_bytes(case[:8 + length + 100])
    (out / "reference_case_header_cut.safetensors").write_bytes(case[:8 + length // 2])
    golden_bytes = golden.read_bytes()
    (out / "golden_data_cut.safetensors").write_bytes(golden_bytes[:-7])


def config_corpus(out):
    sources = {
        "tiny_opt": ROOT / "models/tiny-opt/config.json",
        "opt_125m": ROOT / "tests/data/io/opt-125m/config.json",
        "opt_350m": ROOT / "tests/data/io/opt-350m/config.json",
        "generation_config": ROOT / "models/tiny-opt/generation_config.json",
    }
    for name, source in sources.items():
        shutil.copy(source, out / f"{name}.json")


def cli_corpus(out):
    command_lines = {
        "defaults": [],
        "unstructured_uniform": ["--sparsity", "0.5", "--wbits", "4"],
        "n_of_m": ["--prunen", "2", "--prunem", "4", "--blocksize", "128"],
        "mixed_budget": ["--target-avg-bits", "3.5", "--bit-allocation", "budget",
                         "--bit-options", "2,3,4,6,8"],
        "mixed_quantile": ["--target-avg-bits=4", "--quantiles", "0.2,0.4,0.6,0.8",
                           "--importance-weights", "0.25,0.25,0.15,0.25,0.10"],
        "quantizer": ["--wbits", "3", "--sym", "--pertensor", "--mse", "--groupsize", "128",
                      "--act-order", "--percdamp", "0.1", "--damping-retries", "2"],
        "asym": ["--asym", "--wbits", "8"],
        "help": ["--help"],
    }
    for name, words in command_lines.items():
        (out / f"{name}.args").write_bytes(b"\0".join(w.encode() for w in words))
    header, _ = read_safetensors(ROOT / "tests/data/reference/64x128_sp50_w4asym_heavy.safetensors")
    metadata = [f"@{key}={value}" for key, value in header["__metadata__"].items()]
    (out / "reference_metadata.args").write_bytes(b"\0".join(w.encode() for w in metadata))
    (out / "metadata_and_options.args").write_bytes(
        b"\0".join(w.encode() for w in ["--wbits", "8", "@wbits=16", "@prunen=2", "@prunem=4"]))


def main():
    for target, make in {"safetensors_reader": safetensors_corpus, "opt_config": config_corpus,
                         "compression_cli": cli_corpus}.items():
        out = CORPUS / target
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        make(out)


if __name__ == "__main__":
    main()
