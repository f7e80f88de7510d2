#!/usr/bin/env python3
"""The products of a forward pass alone, through PyTorch's matmul (MKL in PyPI's wheels): a floor under PyTorch's own
forward and KL times at the real shapes.

    python3 bench/forward_products_torch.py --threads 2            # needs torch

For each shape (4 x 512 tokens) it times, best of --rounds, every linear layer's product of every block (q, k, v, o,
gate, up, down at 2048 rows) and, separately, the LM head's product in chunks of 512 rows, and prints their
seconds and GFLOP/s. PyTorch's KL (`bench/pytorch_bench.py`) computes the full logits and gathers the targets' 64;
darwinhost's computes only those 64 logits per position, so the head's product is work only PyTorch does.
Compare darwinhost's `kl` seconds (`bench/side_by_side.py --shape NAME --ops kl`) with the blocks' products here:
a ratio of 1.3 to PyTorch needs darwinhost's whole pass to take at most PyTorch's time / 1.3.
"""
import argparse, time

import torch

SHAPES = {  # hidden, query width, key/value width, MLP width, layers, vocabulary
    "smollm2-360m": (960, 960, 320, 2560, 32, 49152),
    "qwen2.5-0.5b": (896, 896, 128, 4864, 24, 151936),
    "llama-3.2-1b": (2048, 2048, 512, 8192, 16, 128256),
}
TOKENS = 2048


def best_seconds(fn, rounds):
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shape", choices=sorted(SHAPES), action="append", help="one shape (repeatable); all by default")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} threads, {TOKENS} tokens")
    print(f"{'shape':14}{'blocks s':>10}{'GFLOP/s':>9}{'head s':>9}{'GFLOP/s':>9}")
    for name in a.shape or SHAPES:
        h, q, kv, mlp, layers, vocab = SHAPES[name]
        products = [(q, h), (kv, h), (kv, h), (h, q), (mlp, h), (mlp, h), (h, mlp)]  # (out, in)
        inputs = {k: torch.randn(TOKENS, k) for k in {k for _, k in products}}
        weights = [torch.randn(n, k) for n, k in products]
        head = torch.randn(vocab, h)

        def blocks():
            for _ in range(layers):
                for (_, k), w in zip(products, weights):
                    torch.nn.functional.linear(inputs[k], w)

        def head_products():
            for start in range(0, TOKENS, 512):
                torch.nn.functional.linear(inputs[h][start:start + 512], head)

        block_flops = 2 * TOKENS * layers * sum(n * k for n, k in products)
        head_flops = 2 * TOKENS * vocab * h
        tb, th = best_seconds(blocks, a.rounds), best_seconds(head_products, a.rounds)
        print(f"{name:14}{tb:10.2f}{block_flops / tb / 1e9:9.0f}{th:9.2f}{head_flops / th / 1e9:9.0f}", flush=True)


if __name__ == "__main__":
    main()
