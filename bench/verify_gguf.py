"""Checks a GGUF file written by darwinhost in llama.cpp itself (the llama-cpp-python package).

    python bench/verify_gguf.py OUT/model.gguf OUT/reference.json [--dense DENSE.gguf] [--speed]

Made by `bench/gguf_reference.lua`, reference.json holds darwinhost's summed negative log-likelihood on token
sequences and its token ids for sample texts. This script computes the same NLL from llama.cpp's logits and
tokenizes the same texts with the vocabulary embedded in the GGUF file; it exits non-zero when the perplexities
differ by more than --tolerance (relative) or any token id differs. With --speed it also measures llama.cpp's
prompt processing and generation speed (tokens/s), and with --dense the same for a dense model beside it.
Prints one JSON object.
"""
import argparse
import json
import math
import sys
import time

import numpy as np
from llama_cpp import Llama


def load(path, n_ctx, threads, logits_all=False):
    return Llama(model_path=path, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=threads,
                 n_threads_batch=threads, logits_all=logits_all, verbose=False)


def nll(llm, sequences):
    """Summed next-token negative log-likelihood (nats) and the number of predicted tokens."""
    total, count = 0.0, 0
    for seq in sequences:
        llm.reset()
        llm.eval(seq)
        logits = np.asarray(llm.scores[: len(seq)], dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total -= float(sum(logp[i, seq[i + 1]] for i in range(len(seq) - 1)))
        count += len(seq) - 1
    return total, count


def speed(path, threads, prompt_tokens=256, generated=64, repeats=3):
    """Best-of-`repeats` prompt processing and greedy generation speed in tokens/s."""
    llm = load(path, prompt_tokens + generated + 8, threads)
    prompt = [(7 * i + 3) % 1000 + 10 for i in range(prompt_tokens)]
    best_pp, best_tg = 0.0, 0.0
    for _ in range(repeats):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        best_pp = max(best_pp, prompt_tokens / (time.perf_counter() - t0))
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        t0 = time.perf_counter()
        for _ in range(generated):
            llm.eval([token])
            token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        best_tg = max(best_tg, generated / (time.perf_counter() - t0))
    return {"prompt_tokens_per_s": best_pp, "generation_tokens_per_s": best_tg}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gguf")
    ap.add_argument("reference")
    ap.add_argument("--dense", help="a dense model's GGUF, for the speed comparison")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    a = ap.parse_args()
    ref = json.load(open(a.reference))
    sequences = ref["sequences"]
    llm = load(a.gguf, max(len(s) for s in sequences), a.threads, logits_all=True)
    total, count = nll(llm, sequences)
    ours = math.exp(ref["nll"] / ref["count"])
    theirs = math.exp(total / count)
    mismatches = []
    for text, ids in zip(ref["texts"], ref["ids"]):
        got = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)  # special tokens in the text, as `tokenizers` finds them
        if list(got) != list(ids):
            mismatches.append({"text": text, "darwinhost": ids, "llama.cpp": list(got)})
    out = {
        "gguf": a.gguf, "count": count, "darwinhost_perplexity": ours, "llama_cpp_perplexity": theirs,
        "relative_difference": abs(theirs - ours) / ours, "tokenizer_samples": len(ref["texts"]),
        "tokenizer_mismatches": mismatches,
    }
    if a.speed:
        out["speed"] = speed(a.gguf, a.threads)
        if a.dense:
            out["dense_speed"] = speed(a.dense, a.threads)
            out["prompt_speedup"] = out["speed"]["prompt_tokens_per_s"] / out["dense_speed"]["prompt_tokens_per_s"]
            out["generation_speedup"] = out["speed"]["generation_tokens_per_s"] / out["dense_speed"]["generation_tokens_per_s"]
    print(json.dumps(out, indent=1))
    ok = count == ref["count"] and out["relative_difference"] <= a.tolerance and not mismatches
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
