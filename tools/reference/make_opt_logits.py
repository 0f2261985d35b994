#!/usr/bin/env python3
"""Reference activations of an OPT checkpoint from transformers, for the C++ forward-pass test.

    python3 tools/reference/make_opt_logits.py --model models/tiny-opt \
        --evaluation models/data/evaluation.bin --windows 2 \
        --ppl tiny-opt=models/tiny-opt --ppl small-opt=.cache/small-opt \
        --out tests/data/opt/tiny-opt-reference.safetensors

Runs the model in float32, eval mode, eager attention, on the CPU (TF32 irrelevant there)
on the first --windows non-overlapping windows of max_position_embeddings tokens of the
evaluation stream, and stores:
  input_ids                          (W, S) int64
  logits                             (W, S, vocab) float32
  hidden_states.embeddings           (W, S, hidden)  token + learned position embeddings
                                                     (the input of decoder layer 0)
  hidden_states.layer.K              (W, S, hidden)  output of decoder layer K
  hidden_states.final_layer_norm     (W, S, hidden)  after the decoder's final layer norm
Metadata: versions, model file sha256, and for every --ppl NAME=DIR the dense perplexity
(plain transformers forward pass on --ppl-device, fp32, TF32 off, eager; definition of the
reference's opt_eval) as repr() strings.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from opt_common import load_opt, load_tokens, no_tf32, plain_perplexity, sha256_file, versions, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--evaluation", required=True)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--ppl", action="append", default=[], help="NAME=DIR: record DIR's dense perplexity")
    ap.add_argument("--ppl-value", action="append", default=[], help="NAME=VALUE: record a known perplexity")
    ap.add_argument("--ppl-device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    no_tf32()
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))

    model = load_opt(a.model, attn="eager").to("cpu")
    cfg = model.config
    S = cfg.max_position_embeddings
    ev = load_tokens(a.evaluation)
    ids = ev[: a.windows * S].view(a.windows, S).clone()

    captured = {}
    dec = model.model.decoder

    def pre_hook(mod, args, kwargs=None):
        hs = args[0] if args else kwargs["hidden_states"]
        captured["hidden_states.embeddings"] = hs.detach().clone()

    def layer_hook(k):
        def h(mod, args, out):
            o = out[0] if isinstance(out, (tuple, list)) else out
            captured[f"hidden_states.layer.{k}"] = o.detach().clone()
        return h

    try:
        handles = [dec.layers[0].register_forward_pre_hook(pre_hook, with_kwargs=True)]
    except TypeError:  # torch < 2.0
        handles = [dec.layers[0].register_forward_pre_hook(pre_hook)]
    for k, layer in enumerate(dec.layers):
        handles.append(layer.register_forward_hook(layer_hook(k)))
    if dec.final_layer_norm is not None:
        handles.append(dec.final_layer_norm.register_forward_hook(
            lambda m, i, o: captured.__setitem__("hidden_states.final_layer_norm", o.detach().clone())))
    with torch.no_grad():
        logits = model(ids).logits.float()
    for h in handles:
        h.remove()

    # independent check of the embedding capture: token + position embeddings (offset 2)
    with torch.no_grad():
        emb = dec.embed_tokens(ids) + dec.embed_positions.weight[2:2 + S].unsqueeze(0)
    d = (emb - captured["hidden_states.embeddings"]).abs().max().item()
    print(f"embedding capture vs tok+pos: max abs diff {d:.3g}")
    # window CE of these windows, for information
    ce = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1)).item()

    tensors = {"input_ids": ids.to(torch.int64), "logits": logits.contiguous()}
    tensors["hidden_states.embeddings"] = captured["hidden_states.embeddings"].float()
    for k in range(len(dec.layers)):
        tensors[f"hidden_states.layer.{k}"] = captured[f"hidden_states.layer.{k}"].float()
    if "hidden_states.final_layer_norm" in captured:
        tensors["hidden_states.final_layer_norm"] = captured["hidden_states.final_layer_norm"].float()

    v = versions()
    meta = {
        "producer": "tools/reference/make_opt_logits.py (transformers OPTForCausalLM, fp32, eval, eager attention, CPU)",
        "model": os.path.basename(os.path.normpath(a.model)),
        "model_safetensors_sha256": sha256_file(os.path.join(a.model, "model.safetensors")),
        "evaluation_sha256": sha256_file(a.evaluation),
        "windows": ",".join(f"{w * S}:{(w + 1) * S}" for w in range(a.windows)),
        "transformers_version": v.get("transformers", "?"),
        "torch_version": v["torch"],
        "device": "cpu",
        "mean_cross_entropy_these_windows": repr(ce),
    }
    for spec in a.ppl_value:
        name, val = spec.split("=", 1)
        meta[f"dense_perplexity.{name}"] = val
    for spec in a.ppl:
        name, d_ = spec.split("=", 1)
        m = load_opt(d_, attn="eager")
        ppl, nll, n = plain_perplexity(m, ev, m.config.max_position_embeddings, torch.device(a.ppl_device))
        meta[f"dense_perplexity.{name}"] = repr(ppl)
        meta[f"dense_perplexity.{name}.windows"] = str(n)
        meta[f"dense_perplexity.{name}.device"] = a.ppl_device + (f" ({v['gpu']})" if a.ppl_device.startswith("cuda") and "gpu" in v else "")
        print(f"dense perplexity {name}: {ppl!r} ({n} windows)")
        del m
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    write_safetensors(a.out, tensors, meta)
    print(f"wrote {a.out}: {os.path.getsize(a.out)} bytes; " + ", ".join(f"{k}{list(t.shape)}" for k, t in tensors.items()))


if __name__ == "__main__":
    main()
