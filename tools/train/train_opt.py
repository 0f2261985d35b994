#!/usr/bin/env python3
"""Train a small byte-level OPT model with transformers' OPTForCausalLM.

    python3 tools/train/train_opt.py --preset tiny|small --train .cache/corpus/train.bin.gz \
        --calibration models/data/calibration.bin --evaluation models/data/evaluation.bin \
        --out DIR [--budget-s SECONDS | --steps N] [--seed 0]

Architecture (OPTConfig): vocab 256 (byte tokens), word_embed_proj_dim = hidden_size,
pre-layer-norm (do_layer_norm_before), ReLU, biases, tied input/output embeddings,
all dropouts 0, float32 weights (bf16 autocast on CUDA for speed).
Training: AdamW (betas 0.9/0.95, weight decay 0.1 on matrices only), linear warm-up then
cosine decay to 10 % of the peak learning rate, batches of random windows of
max_position_embeddings tokens drawn from the training stream with a seeded generator.

With --budget-s the number of steps is fixed after timing the first steps
(steps = what fits in the budget), and recorded; --steps N reruns with exactly N steps.
Ends by saving with save_pretrained (float32 safetensors) and measuring the dense
perplexity on the evaluation (and calibration) stream in float32 with TF32 off, eager
attention, exactly as the reference's opt_eval defines it. Writes DIR/train_info.json.
"""
import argparse
import json
import math
import os
import sys
import time

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opt_common import (load_opt, load_tokens, no_tf32, plain_perplexity, safetensors_keys,  # noqa: E402
                        save_opt, sha256_file, versions)

PRESETS = {
    "tiny": dict(hidden=128, layers=2, heads=4, ffn=512, positions=256, batch=64, lr=3e-3, budget=120),
    "small": dict(hidden=384, layers=6, heads=6, ffn=1536, positions=512, batch=64, lr=1.5e-3, budget=300),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--calibration", required=True)
    ap.add_argument("--evaluation", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=None, help="wall-clock training budget (default: preset)")
    ap.add_argument("--steps", type=int, default=None, help="exact number of optimizer steps (overrides budget)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--log-every", type=int, default=200)
    ap.add_argument("--max-eval-windows", type=int, default=None, help="(smoke tests only) cap evaluation windows")
    args = ap.parse_args()
    p = dict(PRESETS[args.preset])
    batch = args.batch or p["batch"]
    lr_peak = args.lr or p["lr"]
    budget = args.budget_s if args.budget_s is not None else p["budget"]

    from transformers import OPTConfig, OPTForCausalLM
    import transformers

    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.cuda.manual_seed_all(args.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    cfg = OPTConfig(
        vocab_size=256, hidden_size=p["hidden"], num_hidden_layers=p["layers"], ffn_dim=p["ffn"],
        num_attention_heads=p["heads"], max_position_embeddings=p["positions"],
        word_embed_proj_dim=p["hidden"], do_layer_norm_before=True, activation_function="relu",
        enable_bias=True, layer_norm_elementwise_affine=True, tie_word_embeddings=True,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, layerdrop=0.0,
        init_std=0.02, use_cache=False,
    )
    model = OPTForCausalLM(cfg).float().to(dev)
    if model.lm_head.weight.data_ptr() != model.model.decoder.embed_tokens.weight.data_ptr():
        model.lm_head.weight = model.model.decoder.embed_tokens.weight  # tie explicitly
    model.train()
    n_params = sum(p_.numel() for p_ in model.parameters())
    tied = model.lm_head.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()
    print(f"transformers {transformers.__version__} torch {torch.__version__} device {dev}: "
          f"{n_params} parameters, lm_head tied: {tied}", flush=True)

    train = load_tokens(args.train).to(dev)
    P = p["positions"]
    n_train = train.numel()
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    offs = torch.arange(P, device=dev)

    decay, no_decay = [], []
    for n, p_ in model.named_parameters():
        (decay if p_.dim() >= 2 and "embed_positions" not in n else no_decay).append(p_)
    opt_kw = dict(lr=lr_peak, betas=(0.9, 0.95), eps=1e-8)
    if dev.type == "cuda":
        opt_kw["fused"] = True
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], **opt_kw)

    total_steps = args.steps  # None until timed
    probe_steps = min(60, args.warmup)

    def lr_at(step):
        if step < args.warmup:
            return lr_peak * (step + 1) / args.warmup
        T = total_steps if total_steps else 10 ** 9
        frac = min(1.0, (step - args.warmup) / max(1, T - args.warmup))
        return lr_peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    cal_probe = load_tokens(args.calibration)
    n_probe = min(16, cal_probe.numel() // P)
    probe = cal_probe[: n_probe * P].view(n_probe, P).to(dev)  # fixed held-out windows, for the log only

    @torch.no_grad()
    def probe_loss():
        model.eval()
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            lg = model(input_ids=probe).logits
        model.train()
        return torch.nn.functional.cross_entropy(lg[:, :-1].float().reshape(-1, 256), probe[:, 1:].reshape(-1)).item()

    losses = []
    history = []
    step = 0
    t0 = time.time()
    t_probe = None
    stopped_by_budget = False
    while True:
        if total_steps is not None and step >= total_steps:
            break
        if args.steps is None and time.time() - t0 > budget * 1.08:
            stopped_by_budget = True
            print(f"budget exceeded at step {step}; stopping", flush=True)
            break
        if step % 1000 == 0:  # window starts drawn on the CPU generator, 1000 steps at a time
            chunk = torch.randint(0, n_train - P, (1000, batch), generator=gen).to(dev)
        x = train[chunk[step % 1000][:, None] + offs]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(input_ids=x).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, 256), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(loss.detach())
        if step == 10:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t_probe = time.time()
        if args.steps is None and step == probe_steps:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            per_step = (time.time() - t_probe) / (probe_steps - 10)
            remaining = budget - (time.time() - t0)
            total_steps = step + max(0, int(remaining / per_step * 0.97))
            total_steps = max(total_steps, args.warmup + 1)
            print(f"timing: {per_step * 1000:.2f} ms/step -> total_steps {total_steps}", flush=True)
        if step % args.log_every == 0 or (total_steps is not None and step == total_steps):
            recent = torch.stack(losses[-args.log_every:]).float().mean().item()
            pl = probe_loss()
            history.append({"step": step, "loss": recent, "heldout_loss": pl, "lr": lr_at(step - 1),
                            "elapsed_s": time.time() - t0})
            print(f"step {step:6d}/{total_steps}  loss {recent:.4f}  held-out {pl:.4f}  lr {lr_at(step - 1):.2e}  "
                  f"{time.time() - t0:7.1f}s", flush=True)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    train_time = time.time() - t0
    final_loss = torch.stack(losses[-200:]).float().mean().item() if losses else float("nan")

    os.makedirs(args.out, exist_ok=True)
    model = model.float().eval()
    keys, meta = save_opt(model, args.out)
    saved_lm_head = "lm_head.weight" in keys
    print(f"saved {sorted(keys)} ; lm_head.weight saved: {saved_lm_head}", flush=True)

    # dense perplexity of the saved checkpoint, reloaded, fp32, TF32 off, eager attention
    no_tf32()
    reloaded = load_opt(args.out, attn="eager")
    ev = load_tokens(args.evaluation)
    ca = load_tokens(args.calibration)
    t1 = time.time()
    ppl_eval, nll_eval, n_eval = plain_perplexity(reloaded, ev, P, dev, max_windows=args.max_eval_windows)
    ppl_cal, nll_cal, n_cal = plain_perplexity(reloaded, ca, P, dev, max_windows=args.max_eval_windows)
    print(f"dense perplexity: evaluation {ppl_eval!r} ({n_eval} windows), calibration {ppl_cal!r} "
          f"({n_cal} windows), {time.time() - t1:.1f}s", flush=True)

    info = {
        "preset": args.preset,
        "config": {k: p[k] for k in ("hidden", "layers", "heads", "ffn", "positions")},
        "parameters": n_params,
        "seed": args.seed,
        "batch_windows": batch,
        "tokens_per_step": batch * P,
        "lr_peak": lr_peak,
        "warmup_steps": args.warmup,
        "schedule": "linear warm-up, cosine to 10 % of peak",
        "optimizer": "AdamW betas (0.9, 0.95) eps 1e-8, weight decay 0.1 on matrices (not positions, biases, norms), grad clip 1.0",
        "precision": "fp32 weights, bf16 autocast on CUDA",
        "budget_s": None if args.steps else budget,
        "steps": step,
        "planned_steps": total_steps,
        "stopped_by_budget": stopped_by_budget,
        "train_time_s": train_time,
        "tokens_seen": step * batch * P,
        "final_train_loss": final_loss,
        "loss_history": history,
        "train_file": {"path": args.train, "tokens": n_train},
        "evaluation": {"path": args.evaluation, "sha256": sha256_file(args.evaluation), "windows": n_eval,
                       "perplexity": ppl_eval, "mean_nll": nll_eval},
        "calibration": {"path": args.calibration, "sha256": sha256_file(args.calibration), "windows": n_cal,
                        "perplexity": ppl_cal, "mean_nll": nll_cal},
        "perplexity_definition": "non-overlapping windows of max_position_embeddings tokens; per-window mean next-token CE; exp(mean over windows); fp32, TF32 off, eager attention",
        "saved_tensors": keys,
        "lm_head_weight_saved": saved_lm_head,
        "versions": versions(),
        "regenerate": f"python3 tools/train/train_opt.py --preset {args.preset} --train .cache/corpus/train.bin "
                      f"--calibration models/data/calibration.bin --evaluation models/data/evaluation.bin "
                      f"--out OUTDIR --steps {step} --seed {args.seed}",
        "wall_s": time.time() - t_start,
    }
    with open(os.path.join(args.out, "train_info.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(json.dumps({k: info[k] for k in ("steps", "final_train_loss", "train_time_s")}), flush=True)


if __name__ == "__main__":
    main()
