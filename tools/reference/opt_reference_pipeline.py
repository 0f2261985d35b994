#!/usr/bin/env python3
"""Run the official SparseGPT OPT pipeline (opt_sequential + opt_eval) on our models.

    python3 tools/reference/opt_reference_pipeline.py --sparsegpt PATH --model DIR \
        --calibration models/data/calibration.bin --evaluation models/data/evaluation.bin \
        --nsamples 128 --seed 0 [--sparsity S --prunen N --prunem M --wbits B ...] --json OUT.json
    # or several runs, one model load each, in one process:
        ... --runs dense,sp50,2of4,w4,w3,sp50w4 --json OUT.json

PATH is a checkout of IST-DASLab/sparsegpt. Its opt.py is imported and its
``opt_sequential(model, dataloader, dev)`` and ``opt_eval(model, testenc, dev, name)``
run UNMODIFIED; this script only prepares their inputs:
  * ``opt.args`` = argparse.Namespace with the fields they read (nsamples, sparsity,
    prunen, prunem, percdamp, blocksize, wbits, minlayer, maxlayer, prune_only, invert,
    gmp), defaults as in opt.py's command line (wbits 16 = no quantization; the reference
    quantizer is per-channel, asymmetric, no MSE);
  * calibration windows drawn as the reference data loaders do: random.seed(seed), then
    per window i = random.randint(0, n_tokens - seqlen - 1), inp = tokens[i:i+seqlen]
    (shape (1, seqlen)); seqlen = model.seqlen = config.max_position_embeddings;
  * evaluation: an object whose ``input_ids`` is the (1, n) evaluation stream; opt_eval
    uses its non-overlapping seqlen windows.
Adaptations for transformers 5 (in this runner only): the model is loaded with
``dtype=torch.float32`` (not ``torch_dtype``) and ``attn_implementation="eager"``, so the
decoder hands each layer an explicit additive causal mask (with SDPA a layer called with
attention_mask=None would still be causal, but eager keeps the reference's assumption that
the captured mask carries the causality). Decoder layers of transformers 5.x still return
tuples; either way opt.py's ``layer(...)[0]`` is right for its batches of one.
Each run also measures the perplexity of the same model with a plain batched transformers
forward pass (same windows, same definition) as a sanity check of opt_eval.
"""
import argparse
import contextlib
import io
import json
import os
import random
import re
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from opt_common import load_opt, load_tokens, no_tf32, plain_perplexity, sha256_file, versions  # noqa: E402

PRESET_RUNS = {
    "dense": dict(sparsity=0.0, prunen=0, prunem=0, wbits=16),
    "sp50": dict(sparsity=0.5, prunen=0, prunem=0, wbits=16),
    "2of4": dict(sparsity=0.0, prunen=2, prunem=4, wbits=16),
    "4of8": dict(sparsity=0.0, prunen=4, prunem=8, wbits=16),
    "w4": dict(sparsity=0.0, prunen=0, prunem=0, wbits=4),
    "w3": dict(sparsity=0.0, prunen=0, prunem=0, wbits=3),
    "sp50w4": dict(sparsity=0.5, prunen=0, prunem=0, wbits=4),
}


class TestEnc:
    def __init__(self, ids):
        self.input_ids = ids


class Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


def import_reference(path):
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, "opt.py")):
        sys.exit(f"error: {path} has no opt.py")
    if not torch.cuda.is_available():
        torch.cuda.synchronize = lambda *a, **k: None  # fasterprune calls it unconditionally
    sys.path.insert(0, path)
    import opt as ref_opt
    commit = "unknown"
    f = os.path.join(path, "REFERENCE_COMMIT")
    if os.path.isfile(f):
        commit = open(f).read().strip()
    return ref_opt, commit


def calibration_loader(tokens, nsamples, seed, seqlen):
    """Exactly the windows of the reference's get_wikitext2/get_ptb/get_c4 loaders."""
    ids = tokens.view(1, -1)
    random.seed(seed)
    loader, starts = [], []
    for _ in range(nsamples):
        i = random.randint(0, ids.shape[1] - seqlen - 1)
        j = i + seqlen
        inp = ids[:, i:j]
        tar = inp.clone()
        tar[:, :-1] = -100
        loader.append((inp, tar))
        starts.append(i)
    return loader, starts


def zero_fraction(model):
    z = n = 0
    for layer in model.model.decoder.layers:
        for mod in layer.modules():
            if isinstance(mod, torch.nn.Linear):
                z += int((mod.weight == 0).sum())
                n += mod.weight.numel()
    return z / max(1, n)


def one_run(ref_opt, a, name, spec, calib, ev_tokens, dev, logdir):
    torch.manual_seed(a.seed)
    model = load_opt(a.model, attn="eager")
    model.seqlen = model.config.max_position_embeddings
    seqlen = model.seqlen
    ref_opt.args = argparse.Namespace(
        nsamples=a.nsamples, sparsity=spec["sparsity"], prunen=spec["prunen"], prunem=spec["prunem"],
        percdamp=a.percdamp, blocksize=a.blocksize, wbits=spec["wbits"], minlayer=a.minlayer,
        maxlayer=a.maxlayer, prune_only=a.prune_only, invert=a.invert, gmp=False)
    loader, starts = calib
    buf = io.StringIO()
    rec = dict(name=name, **spec, percdamp=a.percdamp, blocksize=a.blocksize, nsamples=a.nsamples,
               seed=a.seed, seqlen=seqlen, quantizer="perchannel=True, sym=False, mse=False" if spec["wbits"] < 16 else None)
    t0 = time.time()
    compress = spec["sparsity"] > 0 or spec["prunen"] > 0 or spec["wbits"] < 16
    with contextlib.redirect_stdout(buf):
        if compress:
            ref_opt.opt_sequential(model, loader, dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t1 = time.time()
        ref_opt.opt_eval(model, TestEnc(ev_tokens.view(1, -1)), dev, "evaluation")
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.time()
    out = buf.getvalue()
    if logdir:
        with open(os.path.join(logdir, f"{name}.log"), "w") as f:
            f.write(out)
    m = re.findall(r"Perplexity: (\S+)", out)
    if not m:
        raise RuntimeError(f"{name}: opt_eval printed no perplexity:\n{out[-2000:]}")
    losses = [float(x) for x in re.findall(r"^error (\S+)$", out, re.M)]
    rec.update(
        perplexity=float(m[-1]), perplexity_printed=m[-1],
        sequential_s=(t1 - t0) if compress else 0.0, eval_s=t2 - t1,
        modules_compressed=len(losses), obs_loss_total=sum(losses) if losses else None,
        linear_weight_zero_fraction=zero_fraction(model),
    )
    t3 = time.time()
    model.to(dev)
    ppl, nll, nwin = plain_perplexity(model, ev_tokens, seqlen, dev)
    rec.update(plain_transformers_perplexity=ppl, plain_mean_nll=nll, eval_windows=nwin,
               plain_eval_s=time.time() - t3,
               rel_diff_opt_eval_vs_plain=abs(rec["perplexity"] - ppl) / ppl)
    rec["total_s"] = time.time() - t0
    del model
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sparsegpt", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--calibration", required=True)
    ap.add_argument("--evaluation", required=True)
    ap.add_argument("--nsamples", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sparsity", type=float, default=0.0)
    ap.add_argument("--prunen", type=int, default=0)
    ap.add_argument("--prunem", type=int, default=0)
    ap.add_argument("--wbits", type=int, default=16, help="16 = no quantization (as opt.py)")
    ap.add_argument("--percdamp", type=float, default=0.01)
    ap.add_argument("--blocksize", type=int, default=128)
    ap.add_argument("--minlayer", type=int, default=-1)
    ap.add_argument("--maxlayer", type=int, default=1000)
    ap.add_argument("--prune_only", default="")
    ap.add_argument("--invert", action="store_true")
    ap.add_argument("--runs", default=None, help="comma list of presets: " + ",".join(PRESET_RUNS))
    ap.add_argument("--name", default=None, help="model name for the JSON (default: folder name)")
    ap.add_argument("--json", required=True)
    ap.add_argument("--logdir", default=None, help="folder for each run's captured reference output")
    ap.add_argument("--deadline-s", type=float, default=None,
                    help="skip runs that would not finish within this many seconds from start")
    ap.add_argument("--cpu", action="store_true", help="run on CPU even if CUDA is available")
    ap.add_argument("--max-eval-tokens", type=int, default=None, help="(smoke tests only) truncate evaluation")
    a = ap.parse_args()
    t_start = time.time()

    no_tf32()
    ref_opt, commit = import_reference(a.sparsegpt)
    no_tf32()
    dev = torch.device("cuda:0" if torch.cuda.is_available() and not a.cpu else "cpu")
    if a.runs:
        runs = [(r, PRESET_RUNS[r]) for r in a.runs.split(",")]
    else:
        runs = [("custom", dict(sparsity=a.sparsity, prunen=a.prunen, prunem=a.prunem, wbits=a.wbits))]
    cal_tokens = load_tokens(a.calibration)
    ev_tokens = load_tokens(a.evaluation)
    if a.max_eval_tokens:
        ev_tokens = ev_tokens[: a.max_eval_tokens]
    with open(os.path.join(a.model, "config.json")) as f:
        seqlen = json.load(f)["max_position_embeddings"]
    calib = calibration_loader(cal_tokens, a.nsamples, a.seed, seqlen)
    if a.logdir:
        os.makedirs(a.logdir, exist_ok=True)
    result = {
        "model": a.name or os.path.basename(os.path.normpath(a.model)),
        "model_safetensors_sha256": sha256_file(os.path.join(a.model, "model.safetensors")),
        "reference": "IST-DASLab/sparsegpt opt.py opt_sequential + opt_eval, unmodified",
        "reference_commit": commit,
        "device": str(dev),
        "versions": versions(),
        "seqlen": seqlen,
        "nsamples": a.nsamples,
        "seed": a.seed,
        "calibration": {"path": a.calibration, "sha256": sha256_file(a.calibration), "tokens": cal_tokens.numel(),
                        "window_starts_first8": calib[1][:8],
                        "rule": "random.seed(seed); per window i = random.randint(0, n_tokens - seqlen - 1)"},
        "evaluation": {"path": a.evaluation, "sha256": sha256_file(a.evaluation), "tokens": ev_tokens.numel(),
                       "windows": ev_tokens.numel() // seqlen},
        "adaptations": "loaded with dtype=float32, attn_implementation='eager'; opt.args set by the runner",
        "runs": [],
        "skipped": [],
    }

    def dump():
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        os.replace(tmp, a.json)

    longest = 0.0
    for name, spec in runs:
        elapsed = time.time() - t_start
        if a.deadline_s and elapsed + 1.3 * longest > a.deadline_s:
            print(f"[{name}] skipped: {elapsed:.0f}s elapsed, deadline {a.deadline_s:.0f}s", flush=True)
            result["skipped"].append(name)
            dump()
            continue
        try:
            rec = one_run(ref_opt, a, name, spec, calib, ev_tokens, dev, a.logdir)
        except Exception as e:  # keep going: record the failure
            import traceback
            traceback.print_exc()
            rec = dict(name=name, **spec, error=repr(e))
        longest = max(longest, rec.get("total_s", 0.0))
        result["runs"].append(rec)
        dump()
        if "error" in rec:
            print(f"[{name}] ERROR {rec['error']}", flush=True)
        else:
            print(f"[{name}] ppl {rec['perplexity_printed']} (plain {rec['plain_transformers_perplexity']:.6f}, "
                  f"rel diff {rec['rel_diff_opt_eval_vs_plain']:.2e}) zeros {rec['linear_weight_zero_fraction']:.4f} "
                  f"seq {rec['sequential_s']:.1f}s eval {rec['eval_s']:.1f}s", flush=True)
    result["wall_s"] = time.time() - t_start
    dump()


if __name__ == "__main__":
    main()
