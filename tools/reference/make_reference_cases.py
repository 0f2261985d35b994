#!/usr/bin/env python3
"""Produce per-layer reference cases from the official SparseGPT implementation.

Usage:
    python3 make_reference_cases.py --sparsegpt PATH --out DIR [--tokens 128]
        [--seed-offset K] [--shapes 128x64:32,200x300] [--configs sp60,1of4,sp50_w2sym]

Without --shapes/--configs it writes the committed cases (tests/data/reference). Other
shapes (ROWSxCOLS[:BLOCKSIZE], default block size 128) and configurations (names as in
CONFIGS, or spelt out: ``sp<percent>``, ``<n>of<m>``, ``w<bits>sym|asym``, joined by
``_``, e.g. ``sp60_w4sym``, ``2of4_w3asym``) make fresh cases to check an implementation
on inputs it has not seen.

PATH is a checkout of IST-DASLab/sparsegpt (it must hold sparsegpt.py and quant.py).
Those modules are imported from PATH and used UNMODIFIED; this script contains none of
their code. It runs the reference's ``SparseGPT`` class in float32 on CPU torch
(one thread, fixed seeds) on small random linear layers and writes one safetensors file
per case with the tensors ``W``, ``X``, ``W_out`` and (first case of each group) ``H``,
and the configuration as metadata (see tests/data/reference/README.md).

Inputs are generated with Python's own ``random`` module in pure Python arithmetic, so
W and X are bit-identical whatever torch/numpy/BLAS version runs this script.

Adaptations (none of them touch the reference's code):
  * ``torch.cuda.synchronize`` (called unconditionally at the end of ``fasterprune``)
    is replaced by a no-op when CUDA is not available;
  * if the ``transformers`` package cannot be imported (sparsegpt.py only uses its
    ``Conv1D`` class for an isinstance test), a stub module with an empty ``Conv1D``
    class is registered before the import.
"""
import argparse
import contextlib
import io
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import types

import torch
import torch.nn as nn

SHAPES = [(64, 128), (96, 256), (256, 512), (300, 200)]
PERCDAMP = 0.01
DEAD_COLUMN = {(300, 200): [37]}  # all-zero input column ("dead" input)


def blocksize_for(shape):
    return 32 if shape in [(64, 128), (96, 256)] else 128


def parse_shapes(text):
    """'128x64:32,200x300' -> [((128, 64), 32), ((200, 300), 128)]"""
    shapes = []
    for item in text.split(","):
        m = re.fullmatch(r"(\d+)x(\d+)(?::(\d+))?", item.strip())
        if not m:
            sys.exit(f"error: --shapes: '{item}' is not ROWSxCOLS[:BLOCKSIZE]")
        shapes.append(((int(m.group(1)), int(m.group(2))), int(m.group(3) or 128)))
    return shapes


def parse_config(name):
    """'sp60_w4sym' -> (name, 0.6, 0, 0, 4, True); parts: sp<percent>, <n>of<m>, w<bits>sym|asym."""
    sparsity, prunen, prunem, wbits, sym = 0.0, 0, 0, 0, False
    for part in name.split("_"):
        if m := re.fullmatch(r"sp(\d+)", part):
            sparsity = int(m.group(1)) / 100
        elif m := re.fullmatch(r"(\d+)of(\d+)", part):
            prunen, prunem = int(m.group(1)), int(m.group(2))
        elif m := re.fullmatch(r"w(\d+)(sym|asym)", part):
            wbits, sym = int(m.group(1)), m.group(2) == "sym"
        else:
            sys.exit(f"error: --configs: '{part}' of '{name}' is not sp<percent>, <n>of<m> or w<bits>sym|asym")
    return (name, sparsity, prunen, prunem, wbits, sym)


# The committed configurations: (name, sparsity, prunen, prunem, wbits (0 = none), sym).
CONFIGS = [parse_config(name) for name in ("sp50", "2of4", "4of8", "sp50_w4asym", "w3sym", "w8asym")]


def import_reference(path):
    path = os.path.abspath(path)
    for f in ("sparsegpt.py", "quant.py"):
        if not os.path.isfile(os.path.join(path, f)):
            sys.exit(f"error: {path} has no {f}")
    try:
        import transformers  # noqa: F401
    except Exception:
        stub = types.ModuleType("transformers")

        class Conv1D(nn.Module):  # never instantiated; isinstance tests only
            pass

        stub.Conv1D = Conv1D
        sys.modules["transformers"] = stub
        print("note: transformers not importable; registered a stub module with Conv1D")
    if not torch.cuda.is_available():
        torch.cuda.synchronize = lambda *a, **k: None
    sys.path.insert(0, path)
    import quant
    import sparsegpt
    return sparsegpt, quant


def reference_commit(path):
    """REFERENCE_COMMIT file written by tools/reference/extract_reference.sh, else git."""
    f = os.path.join(path, "REFERENCE_COMMIT")
    if os.path.isfile(f):
        return open(f).read().strip()
    if os.path.exists(os.path.join(path, ".git")):
        try:
            return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True,
                                  capture_output=True, text=True).stdout.strip()
        except Exception:
            pass
    return "unknown"


def gen_inputs(rows, cols, tokens, heavy, seed):
    """W ~ N(0, 1/cols); X = per-column log-normal scale * (N(0,1) + 0.5 * rank-4 shared
    component); heavy: ~2 % of columns (at least 2) scaled x20; dead columns zero."""
    rng = random.Random(seed)
    sw = 1.0 / math.sqrt(cols)
    W = [[rng.gauss(0.0, sw) for _ in range(cols)] for _ in range(rows)]
    k = 4
    U = [[rng.gauss(0.0, 1.0) for _ in range(k)] for _ in range(tokens)]
    V = [[rng.gauss(0.0, 1.0) / math.sqrt(k) for _ in range(cols)] for _ in range(k)]
    scale = [math.exp(0.3 * rng.gauss(0.0, 1.0)) for _ in range(cols)]
    dead = list(DEAD_COLUMN.get((rows, cols), []))
    outliers = []
    if heavy:
        n_out = max(2, round(0.02 * cols))
        candidates = [j for j in range(cols) if j not in dead]
        outliers = sorted(rng.sample(candidates, n_out))
        for j in outliers:
            scale[j] *= 20.0
    for j in dead:
        scale[j] = 0.0
    X = []
    for t in range(tokens):
        u = U[t]
        row = []
        for j in range(cols):
            shared = u[0] * V[0][j] + u[1] * V[1][j] + u[2] * V[2][j] + u[3] * V[3][j]
            row.append(scale[j] * (rng.gauss(0.0, 1.0) + 0.5 * shared))
        X.append(row)
    return (torch.tensor(W, dtype=torch.float64).float(),
            torch.tensor(X, dtype=torch.float64).float(), outliers, dead)


def write_safetensors(path, tensors, metadata):
    """Minimal safetensors writer: 8-byte LE header length, JSON header, raw LE data."""
    dt = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, off = [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    np_dt = {"F32": "<f4", "I64": "<i8", "I32": "<i4", "U8": "u1"}
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np_dt[h["dtype"]]).copy().reshape(h["shape"]))
    return out, meta


def run_case(sparsegpt, quant, W, X, cfg, blocksize):
    name, sparsity, prunen, prunem, wbits, sym = cfg
    layer = nn.Linear(W.shape[1], W.shape[0], bias=False)
    layer.weight.data = W.clone()
    gpt = sparsegpt.SparseGPT(layer)
    if wbits:
        gpt.quantizer = quant.Quantizer()
        gpt.quantizer.configure(wbits, perchannel=True, sym=sym, mse=False)
    gpt.add_batch(X.clone(), None)  # one 2-D batch: the reference counts it as ONE sample
    H = gpt.H.clone()
    nsamples = gpt.nsamples
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        gpt.fasterprune(sparsity, prunen=prunen, prunem=prunem, blocksize=blocksize, percdamp=PERCDAMP)
    out = buf.getvalue()
    m = re.search(r"^error (\S+)$", out, re.M)
    loss = m.group(1) if m else "nan"
    W_out = layer.weight.data.clone().float()
    return H, W_out, loss, nsamples


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sparsegpt", required=True, help="path of the IST-DASLab/sparsegpt checkout")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--tokens", type=int, default=128, help="calibration tokens per layer")
    ap.add_argument("--seed-offset", type=int, default=0,
                    help="added to every case's seed: 0 gives the committed cases, others fresh ones")
    ap.add_argument("--shapes", default=None, help="ROWSxCOLS[:BLOCKSIZE],... instead of the committed shapes")
    ap.add_argument("--configs", default=None, help="configuration names,... instead of the committed ones")
    ap.add_argument("--commit", default=None, help="reference commit hash (default: git rev-parse in PATH)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    sparsegpt, quant = import_reference(args.sparsegpt)
    commit = args.commit or reference_commit(args.sparsegpt)
    os.makedirs(args.out, exist_ok=True)

    shapes = parse_shapes(args.shapes) if args.shapes else [(shape, blocksize_for(shape)) for shape in SHAPES]
    configs = [parse_config(c) for c in args.configs.split(",")] if args.configs else CONFIGS
    index = []
    total = 0
    for si, (shape, bs) in enumerate(shapes):
        rows, cols = shape
        group_first = {}
        inputs = {}
        for ci, cfg in enumerate(configs):
            heavy = (si + ci) % 2 == 1
            seed = 1000 + 10 * si + (1 if heavy else 0) + args.seed_offset
            if heavy not in inputs:
                inputs[heavy] = gen_inputs(rows, cols, args.tokens, heavy, seed)
            W, X, outliers, dead = inputs[heavy]
            H, W_out, loss, nsamples = run_case(sparsegpt, quant, W, X, cfg, bs)
            fname = f"{rows}x{cols}_{cfg[0]}_{'heavy' if heavy else 'normal'}.safetensors"
            tensors = {"W": W, "X": X}
            meta = {
                "sparsity": repr(float(cfg[1])),
                "prunen": str(cfg[2]),
                "prunem": str(cfg[3]),
                "blocksize": str(bs),
                "percdamp": repr(PERCDAMP),
                "wbits": str(cfg[4]),
                "sym": "1" if cfg[5] else "0",
                "perchannel": "1",
                "seed": str(seed),
                "tokens": str(args.tokens),
                "heavy_tailed": "1" if heavy else "0",
                "outlier_columns": ",".join(map(str, outliers)),
                "dead_columns": ",".join(map(str, dead)),
                "config": cfg[0],
                "reference_nsamples": str(nsamples),
                "reference_commit": commit,
                "torch_version": torch.__version__,
                "reference_loss": loss,
            }
            if heavy in group_first:
                meta["hessian_in"] = group_first[heavy]
                Hprev = read_safetensors(os.path.join(args.out, group_first[heavy]))[0]["H"]
                if not torch.equal(Hprev, H):
                    sys.exit(f"error: H of {fname} differs from {group_first[heavy]}")
            else:
                group_first[heavy] = fname
                tensors["H"] = H
            tensors["W_out"] = W_out
            path = os.path.join(args.out, fname)
            write_safetensors(path, tensors, meta)
            size = os.path.getsize(path)
            total += size
            zeros = float((W_out == 0).float().mean())
            print(f"{fname:40s} loss {float(loss):12.6g}  zeros {zeros:.4f}  {size} bytes", flush=True)
            index.append({"file": fname, "shape": [rows, cols], "config": cfg[0], "heavy_tailed": heavy,
                          "blocksize": bs, "reference_loss": loss, "fraction_zero": zeros, "bytes": size})
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump({"reference_commit": commit, "torch_version": torch.__version__, "tokens": args.tokens,
                   "total_bytes": total, "cases": index}, f, indent=1)
        f.write("\n")
    print(f"{len(index)} cases, {total} bytes, torch {torch.__version__}, reference {commit}")


if __name__ == "__main__":
    main()
