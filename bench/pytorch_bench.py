#!/usr/bin/env python3
"""PyTorch (eager, CPU) companion of `darwin-bench forward`: the same model shape, batch and thread count.

    python3 -m pip install torch transformers          # optional dependencies, not needed by darwinhost
    python3 bench/pytorch_bench.py --threads 2          # prints the same rows as darwin-bench forward
    python3 bench/pytorch_bench.py --threads 2 --serve  # timed calls on request, like darwin-bench serve

Uses ../shared/models/darwin-pycode-16m when present, else a random Llama of the same shape.
"""
import argparse, os, statistics, sys, time
import torch
from transformers import AutoModelForCausalLM, LlamaConfig


def median_seconds(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)


def serve(operations, banner):
    """One timed call per stdin line (`forward`, `kl`, `train`; `quit` ends), answered with its seconds."""
    print(banner, flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command not in operations:
            print(f"error: unknown command '{command}'; expected forward, kl, train or quit", flush=True)
            continue
        t = time.perf_counter()
        operations[command]()
        print(time.perf_counter() - t, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--serve", action="store_true", help="answer forward/kl/train lines on stdin with seconds (side_by_side.py --interleave)")
    ap.add_argument("--model", help="a checkpoint directory (a real shape written by darwin-bench scale), loaded in float32")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shared = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "models", "darwin-pycode-16m")
    if a.model:
        model, name = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32), os.path.basename(a.model.rstrip("/"))
    elif os.path.exists(os.path.join(shared, "config.json")):
        model, name = AutoModelForCausalLM.from_pretrained(shared, dtype=torch.float32), "darwin-pycode-16m"
    else:
        cfg = LlamaConfig(vocab_size=8192, hidden_size=384, intermediate_size=1024, num_hidden_layers=8,
                          num_attention_heads=12, num_key_value_heads=4, head_dim=32, tie_word_embeddings=True)
        model, name = AutoModelForCausalLM.from_config(cfg).float(), "random 16m-shaped Llama"
    ids = torch.randint(0, model.config.vocab_size, (a.batch, a.seq), generator=torch.Generator().manual_seed(1))
    tokens = a.batch * a.seq
    n = 1024
    x, y = torch.randn(n, n), torch.randn(n, n)
    ceiling = 2 * n ** 3 / median_seconds(lambda: x @ y, 5) / 1e9
    with torch.no_grad():
        top = model(input_ids=ids).logits.topk(64, dim=-1)
        p = torch.log_softmax(top.values, dim=-1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    @torch.no_grad()
    def forward():
        return model(input_ids=ids).logits

    @torch.no_grad()
    def kl():
        q = torch.log_softmax(model(input_ids=ids).logits.gather(-1, top.indices), dim=-1)
        return (p.exp() * (p - q)).sum(-1).mean()

    def step():
        opt.zero_grad(set_to_none=True)
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()

    if a.serve:
        serve({"forward": forward, "kl": kl, "train": step, "train_kept": step}, f"ready {name} threads={a.threads} tokens={tokens}")
        return
    fwd = median_seconds(forward, a.repeats)
    kl_s = median_seconds(kl, a.repeats)
    train = median_seconds(step, a.repeats)
    print(f"pytorch {torch.__version__}: threads={a.threads}, {name}")
    print(f"{'matmul 1024^3 (torch ceiling)':44}{ceiling:.2f} GFLOP/s")
    print(f"{f'forward {a.batch}x{a.seq}':44}{tokens / fwd:.2f} tok/s")
    print(f"{f'KL to top-64 targets {a.batch}x{a.seq}':44}{tokens / kl_s:.2f} tok/s")
    print(f"{f'training step {a.batch}x{a.seq} (fwd+bwd+AdamW)':44}{tokens / train:.2f} tok/s")


if __name__ == "__main__":
    main()
