"""Helpers shared by the OPT training / reference / logits scripts (no reference code here)."""
import gzip
import hashlib
import inspect
import json
import os
import platform
import struct
import sys

import torch


def load_tokens(path):
    """Little-endian uint16 token file (.bin, or .bin.gz) -> 1-D int64 tensor."""
    import numpy as np
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            raw = f.read()
    else:
        with open(path, "rb") as f:
            raw = f.read()
    if len(raw) % 2:
        raise ValueError(f"{path}: odd byte count {len(raw)} for uint16 tokens")
    return torch.from_numpy(np.frombuffer(raw, dtype="<u2").astype(np.int64))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions():
    v = {"python": platform.python_version(), "torch": torch.__version__}
    try:
        import transformers
        v["transformers"] = transformers.__version__
    except Exception:
        pass
    try:
        import safetensors
        v["safetensors"] = safetensors.__version__
    except Exception:
        pass
    try:
        import numpy
        v["numpy"] = numpy.__version__
    except Exception:
        pass
    if torch.cuda.is_available():
        v["cuda"] = torch.version.cuda
        v["gpu"] = torch.cuda.get_device_name(0)
    v["host_cpu"] = platform.processor() or platform.machine()
    return v


def no_tf32():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        torch.set_float32_matmul_precision("highest")
    except Exception:
        pass


def load_opt(model_dir, attn="eager"):
    """OPTForCausalLM in float32 with the given attention implementation, on CPU, eval mode.
    transformers 5 renamed from_pretrained's torch_dtype to dtype; pick what this version has."""
    from transformers import OPTForCausalLM
    kw = {"attn_implementation": attn}
    import transformers
    major = int(transformers.__version__.split(".")[0])
    kw["dtype" if major >= 5 else "torch_dtype"] = torch.float32
    model = OPTForCausalLM.from_pretrained(model_dir, **kw)
    model = model.float().eval()
    if getattr(model.config, "tie_word_embeddings", False) and \
            model.lm_head.weight.data_ptr() != model.model.decoder.embed_tokens.weight.data_ptr():
        raise RuntimeError(f"{model_dir}: lm_head is not tied to embed_tokens after loading")
    for n, p in model.named_parameters():
        assert p.dtype == torch.float32, (n, p.dtype)
    return model


def save_opt(model, out_dir):
    """save_pretrained as safetensors; transformers 5 removed safe_serialization (always on)."""
    sig = inspect.signature(model.save_pretrained)
    if "safe_serialization" in sig.parameters:
        model.save_pretrained(out_dir, safe_serialization=True)
    else:
        model.save_pretrained(out_dir)
    st = os.path.join(out_dir, "model.safetensors")
    if not os.path.isfile(st):
        raise RuntimeError(f"save_pretrained wrote no {st}: {os.listdir(out_dir)}")
    return safetensors_keys(st)


def safetensors_keys(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    meta = header.pop("__metadata__", {})
    return {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in header.items()}, meta


@torch.no_grad()
def plain_perplexity(model, tokens, seqlen, device, batch=16, max_windows=None):
    """Perplexity as the reference's opt_eval defines it: non-overlapping windows of seqlen
    tokens; per window the mean cross-entropy of its seqlen-1 next-token predictions;
    exp(mean over windows). Accumulated in float64. Returns (ppl, mean_nll, windows)."""
    n = tokens.numel() // seqlen
    if max_windows:
        n = min(n, max_windows)
    ids = tokens[: n * seqlen].view(n, seqlen)
    model = model.to(device)
    total = torch.zeros((), dtype=torch.float64)
    for i in range(0, n, batch):
        x = ids[i:i + batch].to(device)
        logits = model(x).logits.float()
        lp = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction="none")
        total += lp.view(x.size(0), -1).mean(dim=1).double().sum().cpu()
    mean_nll = (total / n).item()
    import math
    return math.exp(mean_nll), mean_nll, n


def write_safetensors(path, tensors, metadata):
    """Minimal safetensors writer (8-byte LE header length, JSON header, LE data)."""
    dt = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, off = [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        b = t.numpy().tobytes()
        if sys.byteorder != "little":
            raise RuntimeError("big-endian host")
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
