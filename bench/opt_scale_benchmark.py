#!/usr/bin/env python3
"""End to end at real model sizes: the official SparseGPT pipeline and sgpte-opt, one after
the other in one command, on a randomly initialised OPT checkpoint of a real shape in fp16.

    python3 bench/opt_scale_benchmark.py --shape 1.3b --work /tmp/scale \\
        --sparsegpt PATH/TO/sparsegpt --sgpte-opt build/drivers/sgpte-opt \\
        [--layers N] [--nsamples 128] [--runs reference,sgpte] [--sgpte-args "..."] [--json OUT]

1. The checkpoint (WORK/opt-SHAPE): config.json and fp16 safetensors written as Hugging Face
   shards them (model-0000x-of-0000y.safetensors with model.safetensors.index.json, 4 GiB a
   shard), random normal weights (std 0.02, layer norms 1 and 0, as OPT initialises), made on
   the GPU. Reused when it exists. --layers keeps the shape of each layer and changes their
   number (to fit a run into a time limit; the report says so).
2. The official pipeline as its users run it: opt.py's get_opt loads the checkpoint
   (torch_dtype='auto': fp16) and its opt_sequential(model, dataloader, dev) runs unmodified
   on 128 windows of 2048 tokens (random.seed(0) windows of models/data/calibration.bin, as
   its loaders draw them), 50 % unstructured sparsity, no quantization (wbits 16), blocksize
   128, percdamp 0.01. Timed from the call to its return (cuda.synchronize), in its own
   process; peak memory from torch.cuda.max_memory_allocated.
3. sgpte-opt on the same checkpoint and windows, --wbits 0 --sparsity 0.5, the forward passes
   in the checkpoint's dtype (fp16) by default; its "Compression" seconds (embedding, every
   layer, their stores) are set against opt_sequential's. The split comes from its statistics
   JSON: per-layer statistics, factorisation, allocation and sweep, and the rest (forward
   passes, loading and storing weights).

Each run's GPU memory is also polled with nvidia-smi (memory.used, every 100 ms): the same
measure for both. Prints one table and writes everything to --json.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time

SHAPES = {  # hidden, layers, heads, ffn (facebook/opt-*)
    "125m": (768, 12, 12, 3072),
    "1.3b": (2048, 24, 32, 8192),
    "2.7b": (2560, 32, 32, 10240),
    "6.7b": (4096, 32, 32, 16384),
    "13b": (5120, 40, 40, 20480),
}
VOCAB, POSITIONS = 50272, 2048
SHARD_BYTES = 4 << 30


def tensor_shapes(hidden, layers, ffn):
    shapes = {
        "model.decoder.embed_tokens.weight": (VOCAB, hidden),
        "model.decoder.embed_positions.weight": (POSITIONS + 2, hidden),
        "model.decoder.final_layer_norm.weight": (hidden,),
        "model.decoder.final_layer_norm.bias": (hidden,),
    }
    for i in range(layers):
        p = f"model.decoder.layers.{i}."
        for m in ("self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj", "self_attn.out_proj"):
            shapes[p + m + ".weight"] = (hidden, hidden)
            shapes[p + m + ".bias"] = (hidden,)
        shapes[p + "fc1.weight"] = (ffn, hidden)
        shapes[p + "fc1.bias"] = (ffn,)
        shapes[p + "fc2.weight"] = (hidden, ffn)
        shapes[p + "fc2.bias"] = (hidden,)
        for n in ("self_attn_layer_norm", "final_layer_norm"):
            shapes[p + n + ".weight"] = (hidden,)
            shapes[p + n + ".bias"] = (hidden,)
    return shapes


def make_checkpoint(directory, shape, layers, seed):
    import torch
    from safetensors.torch import save_file
    hidden, _, heads, ffn = SHAPES[shape]
    if os.path.exists(os.path.join(directory, "model.safetensors.index.json")):
        return
    os.makedirs(directory, exist_ok=True)
    config = {"architectures": ["OPTForCausalLM"], "model_type": "opt", "vocab_size": VOCAB,
              "hidden_size": hidden, "num_hidden_layers": layers, "ffn_dim": ffn,
              "num_attention_heads": heads, "max_position_embeddings": POSITIONS,
              "word_embed_proj_dim": hidden, "do_layer_norm_before": True, "_remove_final_layer_norm": False,
              "activation_function": "relu", "enable_bias": True, "layer_norm_elementwise_affine": True,
              "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "layerdrop": 0.0,
              "tie_word_embeddings": True, "use_cache": False, "bos_token_id": 2, "eos_token_id": 2,
              "pad_token_id": 1, "torch_dtype": "float16", "dtype": "float16"}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    generator = torch.Generator(device="cuda").manual_seed(seed)
    shards, current, size = [], {}, 0
    for name, dims in tensor_shapes(hidden, layers, ffn).items():
        if name.endswith("layer_norm.weight"):
            tensor = torch.ones(dims, dtype=torch.float16)
        elif len(dims) == 1:
            tensor = torch.zeros(dims, dtype=torch.float16)
        else:
            tensor = (torch.randn(dims, generator=generator, device="cuda") * 0.02).half().cpu()
        nbytes = tensor.numel() * 2
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = {}, 0
        current[name] = tensor
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for k, shard in enumerate(shards):
        file = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, os.path.join(directory, file), metadata={"format": "pt"})
        for name, tensor in shard.items():
            weight_map[name] = file
            total += tensor.numel() * 2
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)


class GpuMemoryPoll:
    """The largest memory.used nvidia-smi reports while the block runs (MiB)."""

    def __enter__(self):
        self.peak = 0
        self.process = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "100"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _read(self):
        for line in self.process.stdout:
            try:
                self.peak = max(self.peak, int(line.split()[0]))
            except (ValueError, IndexError):
                pass

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait()
        self.thread.join(timeout=2)


def calibration_windows(tokens_file, nsamples, seed, seqlen):
    """The reference loaders' windows: random.seed(seed); i = randint(0, n - seqlen - 1)."""
    import numpy as np
    import torch
    ids = torch.from_numpy(np.fromfile(tokens_file, dtype="<u2").astype("int64")).view(1, -1)
    random.seed(seed)
    loader = []
    for _ in range(nsamples):
        i = random.randint(0, ids.shape[1] - seqlen - 1)
        inp = ids[:, i:i + seqlen]
        tar = inp.clone()
        tar[:, :-1] = -100
        loader.append((inp, tar))
    return loader


def run_reference(a):
    """In a process of its own: opt.py's get_opt and opt_sequential, unmodified."""
    import torch
    sys.path.insert(0, os.path.abspath(a.sparsegpt))
    import opt as reference
    torch.backends.cuda.matmul.allow_tf32 = False  # opt.py's defaults
    torch.backends.cudnn.allow_tf32 = False
    load_start = time.time()
    model = reference.get_opt(a.model)
    loaded_by = "opt.py get_opt (torch_dtype='auto')"
    if next(iter(model.parameters())).dtype != torch.float16:
        # A transformers that no longer reads torch_dtype loads float32: load as get_opt means to.
        from transformers import OPTForCausalLM
        model = OPTForCausalLM.from_pretrained(a.model, dtype="auto")
        model.seqlen = model.config.max_position_embeddings
        loaded_by = "from_pretrained(dtype='auto'), get_opt's torch_dtype='auto' under its newer name"
    model.eval()
    load_s = time.time() - load_start
    reference.args = argparse.Namespace(
        nsamples=a.nsamples, sparsity=0.5, prunen=0, prunem=0, percdamp=0.01, blocksize=128,
        wbits=16, minlayer=-1, maxlayer=1000, prune_only="", invert=False, gmp=False)
    loader = calibration_windows(a.calibration, a.nsamples, 0, model.seqlen)
    dev = torch.device("cuda:0")
    torch.cuda.reset_peak_memory_stats()
    torch.cuda.synchronize()
    start = time.time()
    reference.opt_sequential(model, loader, dev)
    torch.cuda.synchronize()
    seconds = time.time() - start
    print(json.dumps({"sequential_s": seconds, "load_s": load_s, "loaded_by": loaded_by,
                      "dtype": str(next(iter(model.parameters())).dtype),
                      "attention": getattr(model.config, "_attn_implementation", "default"),
                      "peak_allocated_bytes": torch.cuda.max_memory_allocated(),
                      "torch": torch.__version__}))


def timed(command, log):
    start = time.time()
    with open(log, "w") as out, GpuMemoryPoll() as poll:
        status = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
    return status, time.time() - start, poll.peak


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=SHAPES, default="1.3b")
    ap.add_argument("--layers", type=int, default=None, help="decoder layers (default: the shape's)")
    ap.add_argument("--work", help="where the checkpoint and the logs go")
    ap.add_argument("--sparsegpt", default=".devdeps/sparsegpt")
    ap.add_argument("--sgpte-opt", default="build/drivers/sgpte-opt")
    ap.add_argument("--sgpte-args", default="", help="more sgpte-opt options, e.g. \"--forward-precision fp32\"")
    ap.add_argument("--calibration", default="models/data/calibration.bin")
    ap.add_argument("--nsamples", type=int, default=128)
    ap.add_argument("--runs", default="reference,sgpte")
    ap.add_argument("--json", default=None)
    ap.add_argument("--as-reference", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.as_reference:
        return run_reference(a)
    if not a.work:
        ap.error("--work is required")

    hidden, default_layers, heads, ffn = SHAPES[a.shape]
    layers = a.layers or default_layers
    name = f"opt-{a.shape}" + (f"-{layers}layers" if layers != default_layers else "")
    model = os.path.join(a.work, name)
    start = time.time()
    make_checkpoint(model, a.shape, layers, 0)
    result = {"shape": a.shape, "layers": layers, "hidden": hidden, "ffn": ffn, "heads": heads,
              "nsamples": a.nsamples, "seqlen": POSITIONS, "configuration": "50 % unstructured, no quantization",
              "checkpoint": model, "checkpoint_s": time.time() - start,
              "gpu": subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                    capture_output=True, text=True).stdout.strip()}
    print(f"{name}: checkpoint ready ({result['checkpoint_s']:.0f} s)", flush=True)
    runs = a.runs.split(",")
    if "reference" in runs:
        log = os.path.join(a.work, f"{name}-reference.log")
        status, wall, peak = timed([sys.executable, os.path.abspath(__file__), "--as-reference", "--model", model,
                                    "--sparsegpt", a.sparsegpt, "--calibration", a.calibration,
                                    "--nsamples", str(a.nsamples)], log)
        lines = open(log).read().splitlines()
        if status != 0 or not lines:
            sys.exit(f"official pipeline failed ({status}); see {log}:\n" + "\n".join(lines[-20:]))
        result["reference"] = dict(json.loads(lines[-1]), wall_s=wall, nvidia_smi_peak_mib=peak)
        print(f"official opt_sequential: {result['reference']['sequential_s']:.1f} s", flush=True)
    if "sgpte" in runs:
        log = os.path.join(a.work, f"{name}-sgpte.log")
        stats = os.path.join(a.work, f"{name}-sgpte.json")
        command = [a.sgpte_opt, model, "--calibration", a.calibration, "--nsamples", str(a.nsamples),
                   "--seqlen", str(POSITIONS), "--wbits", "0", "--sparsity", "0.5", "--stats-json", stats]
        command += a.sgpte_args.split()
        status, wall, peak = timed(command, log)
        if status != 0:
            sys.exit(f"sgpte-opt failed ({status}); see {log}:\n" + open(log).read()[-3000:])
        ours = json.load(open(stats))
        parts = {k: sum(layer["seconds"][k] for layer in ours["layers"]) for k in ours["layers"][0]["seconds"]}
        parts["forward passes, loading, storing"] = ours["compression_seconds"] - sum(parts.values())
        result["sgpte"] = {"compression_s": ours["compression_seconds"], "wall_s": wall, "parts_s": parts,
                           "forward_precision": ours.get("forward_precision"), "command": " ".join(command),
                           "peak_kokkos_bytes": ours.get("peak_device_memory_bytes"),
                           "nvidia_smi_peak_mib": peak}
        print(f"sgpte-opt compression: {ours['compression_seconds']:.1f} s", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print(f"\n{name} ({layers} layers, hidden {hidden}, ffn {ffn}), {a.nsamples} x {POSITIONS} tokens, "
          f"50 % unstructured, {result['gpu']}")
    ref, ours = result.get("reference"), result.get("sgpte")
    if ref:
        print(f"  official opt_sequential ({ref['dtype']}, {ref['attention']}): {ref['sequential_s']:8.1f} s"
              f"   peak {ref['peak_allocated_bytes'] / 2**30:.1f} GiB allocated, {ref['nvidia_smi_peak_mib'] / 1024:.1f} GiB nvidia-smi")
    if ours:
        print(f"  sgpte-opt ({ours['forward_precision']} forward):        {ours['compression_s']:8.1f} s"
              f"   peak {ours['peak_kokkos_bytes'] / 2**30:.1f} GiB Kokkos, {ours['nvidia_smi_peak_mib'] / 1024:.1f} GiB nvidia-smi")
        print("    " + ", ".join(f"{k} {v:.1f}" for k, v in ours["parts_s"].items()))
    if ref and ours:
        print(f"  ratio: {ref['sequential_s'] / ours['compression_s']:.2f}x")


if __name__ == "__main__":
    main()
