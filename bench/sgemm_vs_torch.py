#!/usr/bin/env python3
"""One thread's sgemm: the system OpenBLAS (what darwinhost calls) against PyTorch's matmul (MKL in PyPI's wheels).

    python3 bench/sgemm_vs_torch.py            # needs torch; OpenBLAS from libopenblas-dev

The shapes are those of one worker of a SmolLM2-360M training step split by sequences (512 tokens each): forward
products X·Wᵀ (NT), input gradients dY·W (NN) and weight gradients dYᵀ·X (TN). Both libraries run the same
operands in one process, call after call (best of 7 rounds of 0.2 s each), so the machine's drifting speed affects
both alike. Prints GFLOP/s per shape and the ratio of the total times.
"""
import argparse, ctypes, ctypes.util, time

import torch

SHAPES = [("NT", 512, 960, 960), ("NT", 512, 320, 960), ("NT", 512, 2560, 960), ("NT", 512, 960, 2560),
          ("NT", 512, 8192, 960), ("NN", 512, 960, 2560), ("NN", 512, 2560, 960), ("TN", 2560, 960, 512),
          ("TN", 960, 2560, 512), ("TN", 8192, 960, 512)]
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def best_seconds(fn, rounds, window=0.2):
    fn()
    best = float("inf")
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < window:
            fn()
            calls += 1
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--openblas", default=ctypes.util.find_library("openblas") or "libopenblas.so.0")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(1)
    blas = ctypes.CDLL(a.openblas)
    blas.openblas_set_num_threads(1)
    ptr = lambda t: ctypes.c_void_p(t.data_ptr())
    totals = {"torch": 0.0, "openblas": 0.0}
    print(f"{'form':5}{'m':>6}{'n':>6}{'k':>6}{'PyTorch GFLOP/s':>17}{'OpenBLAS GFLOP/s':>18}{'time ratio':>12}")
    for form, m, n, k in SHAPES:
        if form == "NT":
            x, w = torch.randn(m, k), torch.randn(n, k)
            ours, ta, tb, lda, ldb = (lambda: torch.nn.functional.linear(x, w)), NO_TRANS, TRANS, k, k
        elif form == "NN":
            x, w = torch.randn(m, k), torch.randn(k, n)
            ours, ta, tb, lda, ldb = (lambda: x @ w), NO_TRANS, NO_TRANS, k, n
        else:
            x, w = torch.randn(k, m), torch.randn(k, n)
            ours, ta, tb, lda, ldb = (lambda: x.t() @ w), TRANS, NO_TRANS, m, n
        c = torch.empty(m, n)
        theirs = lambda: blas.cblas_sgemm(ROW_MAJOR, ta, tb, m, n, k, ctypes.c_float(1), ptr(x), lda, ptr(w), ldb,
                                          ctypes.c_float(0), ptr(c), n)
        t_torch, t_blas = float("inf"), float("inf")
        for _ in range(a.rounds):  # alternate the two, one round each
            t_torch = min(t_torch, best_seconds(ours, 1))
            t_blas = min(t_blas, best_seconds(theirs, 1))
        totals["torch"] += t_torch
        totals["openblas"] += t_blas
        flops = 2 * m * n * k
        print(f"{form:5}{m:6}{n:6}{k:6}{flops / t_torch / 1e9:17.1f}{flops / t_blas / 1e9:18.1f}{t_blas / t_torch:12.2f}")
    print(f"all shapes: OpenBLAS time / PyTorch time = {totals['openblas'] / totals['torch']:.3f}")


if __name__ == "__main__":
    main()
