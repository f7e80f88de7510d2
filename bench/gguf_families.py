#!/usr/bin/env python3
"""Random Qwen2, Llama-3.1 (llama3 RoPE scaling) and Qwen3 checkpoints with the Llama-3-style fixture tokenizer, for
checking the GGUF export of each family in llama.cpp (run by hand; needs torch and transformers):

    python bench/gguf_families.py OUT
    for k in qwen2 llama31 qwen3; do
      darwinhost bench/gguf_reference.lua --model OUT/$k --text TEXT --output OUT/check-$k --seqlen 64 --sequences 2
      python bench/verify_gguf.py OUT/check-$k/model.gguf OUT/check-$k/reference.json
    done

Pruned variants: load one with darwin.load, remove heads or neurons (model:keep), model:save it with the
tokenizer.json beside it, and check that directory the same way.
"""
import os, shutil, sys
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

TOKENIZER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "tokenizers", "bytelevel_llama3", "tokenizer.json")
SHAPE = dict(vocab_size=700, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             initializer_range=0.2, max_position_embeddings=512)
FAMILIES = {
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(**SHAPE, tie_word_embeddings=True, rope_theta=1e6, use_sliding_window=False)),
    "llama31": (LlamaForCausalLM, LlamaConfig(**SHAPE, tie_word_embeddings=False, rope_theta=500000.0,
                                             rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                                               original_max_position_embeddings=64))),
    "qwen3": (Qwen3ForCausalLM, Qwen3Config(**SHAPE, head_dim=16, tie_word_embeddings=True, use_sliding_window=False)),
}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "gguf-families"
    torch.manual_seed(0)
    for name, (cls, config) in FAMILIES.items():
        directory = os.path.join(out, name)
        cls(config).eval().save_pretrained(directory, safe_serialization=True)
        shutil.copy(TOKENIZER, directory)
        print(directory)
