#!/usr/bin/env python3
"""Generates darwinhost's reference fixtures with Hugging Face transformers/tokenizers (run by hand, not by CI).

    python3 -m venv /tmp/fixenv && /tmp/fixenv/bin/pip install torch transformers tokenizers safetensors numpy
    /tmp/fixenv/bin/python Tests/Fixtures/generate.py                 # everything
    /tmp/fixenv/bin/python Tests/Fixtures/generate.py qwen3_tied ...  # only these model families

Writes, under Tests/Fixtures/:
  models/<family>/            a small random checkpoint (config.json + safetensors, some bf16/f16/sharded)
  models/<family>/reference.safetensors
      input_ids [B,T] (as float32), logits [B,T,V], loss [] (mean next-token cross-entropy),
      hidden.<i> [B,T,H] (transformers' hidden_states; the last one is after the final norm),
      grad.<param> (gradients of loss), adamw.<param> (parameters after one torch.optim.AdamW step)
  tokenizers/<kind>/tokenizer.json and tokenizers/<kind>/cases.json (texts with exact ids and decodings)
Everything is seeded; the weights are what the tests load, the references are what they compare against.
"""
import json, os, shutil, sys, zlib
import torch
from safetensors.torch import save_file
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Phi3Config, Qwen2Config, Qwen3Config

ROOT = os.path.dirname(os.path.abspath(__file__))
B, T = 2, 11
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)

FAMILIES = {
    # Llama with GQA, tied embeddings, float32, one file.
    "llama_gqa_tied": (LlamaConfig, dict(vocab_size=96, hidden_size=64, intermediate_size=80, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True, rms_norm_eps=1e-5,
                        rope_theta=10000.0), dict(dtype=torch.float32)),
    # Llama 3.1 style: llama3 RoPE scaling, explicit head_dim != hidden/heads, all biases, untied,
    # bfloat16 weights in shards; config rewritten to the older rope_theta + rope_scaling layout.
    "llama3_bias_bf16_sharded": (LlamaConfig, dict(vocab_size=80, hidden_size=48, intermediate_size=72, num_hidden_layers=3,
                        num_attention_heads=4, num_key_value_heads=1, head_dim=16, attention_bias=True, mlp_bias=True,
                        tie_word_embeddings=False, rms_norm_eps=1e-6, max_position_embeddings=64,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                          original_max_position_embeddings=8), rope_theta=500000.0),
                        dict(dtype=torch.bfloat16, shard="20KB", old_rope_layout=True)),
    # Mistral, GQA, untied, float16 weights.
    "mistral_f16": (MistralConfig, dict(vocab_size=72, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, sliding_window=None,
                        rope_theta=10000.0), dict(dtype=torch.float16)),
    # Qwen2: q/k/v biases, tied embeddings.
    "qwen2_tied": (Qwen2Config, dict(vocab_size=88, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                        num_attention_heads=6, num_key_value_heads=2, tie_word_embeddings=True, rms_norm_eps=1e-6,
                        rope_theta=1000000.0, use_sliding_window=False), dict(dtype=torch.float32)),
    # Qwen3: per-head RMSNorm of queries and keys, explicit head_dim != hidden/heads, no biases, tied, float32.
    "qwen3_tied": (Qwen3Config, dict(vocab_size=90, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=16, tie_word_embeddings=True,
                        rms_norm_eps=1e-6, rope_theta=1000000.0, use_sliding_window=False), dict(dtype=torch.float32)),
    # Qwen3 with attention_bias, untied, bfloat16 weights in shards.
    "qwen3_bias_bf16_sharded": (Qwen3Config, dict(vocab_size=76, hidden_size=40, intermediate_size=56, num_hidden_layers=3,
                        num_attention_heads=6, num_key_value_heads=3, head_dim=8, attention_bias=True,
                        tie_word_embeddings=False, rms_norm_eps=1e-6, rope_theta=10000.0, use_sliding_window=False),
                        dict(dtype=torch.bfloat16, shard="20KB")),
    # Sliding windows shorter than the fixtures' 11 tokens: Mistral's on every layer, Qwen2's from max_window_layers
    # on (written without layer_types, as older configs are), Qwen3's per layer_types.
    "mistral_window": (MistralConfig, dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, sliding_window=4,
                        rope_theta=10000.0), dict(dtype=torch.float32)),
    "qwen2_window": (Qwen2Config, dict(vocab_size=70, hidden_size=32, intermediate_size=40, num_hidden_layers=3,
                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True, rms_norm_eps=1e-6,
                        rope_theta=10000.0, use_sliding_window=True, sliding_window=5, max_window_layers=1),
                        dict(dtype=torch.float32, drop_layer_types=True)),
    "qwen3_window": (Qwen3Config, dict(vocab_size=66, hidden_size=32, intermediate_size=40, num_hidden_layers=3,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=8, tie_word_embeddings=True,
                        rms_norm_eps=1e-6, rope_theta=10000.0, use_sliding_window=True, sliding_window=3,
                        layer_types=["sliding_attention", "full_attention", "sliding_attention"]), dict(dtype=torch.bfloat16)),
    # Phi-3: fused qkv_proj and gate_up_proj, GQA, untied, float32.
    "phi3_gqa": (Phi3Config, dict(vocab_size=80, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, rms_norm_eps=1e-5,
                        rope_theta=10000.0, sliding_window=None, pad_token_id=None, bos_token_id=1, eos_token_id=2),
                        dict(dtype=torch.float32)),
    # Phi-3 as Phi-3-mini: multi-head attention, a sliding window (shorter than the 11 tokens here), bf16 shards.
    "phi3_window_bf16_sharded": (Phi3Config, dict(vocab_size=72, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
                        num_attention_heads=6, num_key_value_heads=6, tie_word_embeddings=False, rms_norm_eps=1e-5,
                        rope_theta=10000.0, sliding_window=6, pad_token_id=None, bos_token_id=1, eos_token_id=2),
                        dict(dtype=torch.bfloat16, shard="20KB")),
    # Phi-3 with partial_rotary_factor (as Phi-4-mini): RoPE on the first 12 of each head's 16 dimensions.
    "phi3_partial_rotary": (Phi3Config, dict(vocab_size=68, hidden_size=48, intermediate_size=40, num_hidden_layers=2,
                        num_attention_heads=3, num_key_value_heads=1, tie_word_embeddings=True, rms_norm_eps=1e-5,
                        rope_theta=10000.0, partial_rotary_factor=0.75, sliding_window=None, pad_token_id=None,
                        bos_token_id=1, eos_token_id=2), dict(dtype=torch.float32)),
}


def make_model(name, cls, kwargs, options):
    out = os.path.join(ROOT, "models", name)
    shutil.rmtree(out, ignore_errors=True)
    torch.manual_seed(zlib.crc32(name.encode()))
    config = cls(**kwargs)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").float()
    with torch.no_grad():  # larger than the default init so that the logits are far from uniform
        for n, p in model.named_parameters():
            p.copy_(1 + 0.1 * torch.randn_like(p) if "norm" in n else 0.15 * torch.randn_like(p))
    model.to(options["dtype"]).save_pretrained(out, max_shard_size=options.get("shard", "50GB"), safe_serialization=True)
    if options.get("drop_layer_types"):
        path = os.path.join(out, "config.json")
        c = json.load(open(path))
        c.pop("layer_types")
        json.dump(c, open(path, "w"), indent=2)
    if options.get("old_rope_layout"):
        path = os.path.join(out, "config.json")
        c = json.load(open(path))
        params = c.pop("rope_parameters")
        c["rope_theta"] = params.pop("rope_theta")
        c["rope_scaling"] = params
        json.dump(c, open(path, "w"), indent=2)
    # Reference in float32 on exactly the stored (rounded) weights.
    ref = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
    ref.train()  # no dropout in these models; train() only enables gradients as used in fine-tuning
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, config.vocab_size, (B, T), generator=g)
    result = ref(input_ids=ids, labels=ids, output_hidden_states=True)
    result.loss.backward()
    tensors = {"input_ids": ids.float(), "logits": result.logits.detach().float(), "loss": result.loss.detach().reshape([])}
    for i, h in enumerate(result.hidden_states):
        tensors[f"hidden.{i}"] = h.detach().float()
    params = dict(ref.named_parameters())
    for n, p in params.items():
        tensors[f"grad.{n}"] = p.grad.detach().clone()
    opt = torch.optim.AdamW(list(params.values()), **ADAMW)
    opt.step()
    for n, p in params.items():
        tensors[f"adamw.{n}"] = p.detach().clone()
    if config.model_type == "phi3":  # also under darwinhost's names for the parts of the fused projections
        hd = config.hidden_size // config.num_attention_heads
        sizes = {"self_attn.qkv_proj": (["q_proj", "k_proj", "v_proj"], [config.num_attention_heads * hd,
                 config.num_key_value_heads * hd, config.num_key_value_heads * hd], "self_attn."),
                 "mlp.gate_up_proj": (["gate_proj", "up_proj"], [config.intermediate_size] * 2, "mlp.")}
        for key in [k for k in tensors if k.endswith("qkv_proj.weight") or k.endswith("gate_up_proj.weight")]:
            fused = next(f for f in sizes if key.endswith(f + ".weight"))
            parts, rows, scope = sizes[fused]
            for part_name, part in zip(parts, torch.split(tensors[key], rows, dim=0)):
                tensors[key.replace(fused, scope + part_name)] = part.clone()
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out, "reference.safetensors"),
              metadata={"transformers": transformers.__version__, "torch": torch.__version__,
                        "adamw": json.dumps(ADAMW)})
    print(f"{name}: loss {result.loss.item():.5f}, {sum(p.numel() for p in params.values())} parameters")


# ---------------------------------------------------------------- tokenizers
TRICKY = [
    "Hello, world!",
    "def f(x):\n    return x**2  # square\n",
    "  leading and trailing  ",
    "tabs\tand\t\ttabs\r\nCRLF lines\n\n\nblank",
    "numbers 1234567 3.14159 0x1F 1,000,000 and 2026-11-22",
    "unicode: naïve café Ünïcödé — “quotes” … ß Σίσυφος Привет",
    "CJK 日本語のテキスト 中文 한국어",
    "emoji 👍🏽 👨‍👩‍👧 🎉🎉 ❤️",
    "combining e\u0301 and a\u0308 and zero\u200bwidth",
    "it's they're we've I'm you'll he'd IT'S",
    "x = [i for i in range(10) if i % 2 == 0]",
    "    \n\t  mixed   whitespace\u00a0nbsp\u3000ideographic",
    "<|endoftext|>special in the middle<|endoftext|>",
    "",
    "a",
]

GPT2_REGEX = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def corpus():
    import glob
    files = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py")))[:60]
    text = [open(f, encoding="utf-8", errors="replace").read() for f in files]
    return text + TRICKY * 3 + ["naïve café Привет Σίσυφος 日本語 中文 한국어 👍 🎉"] * 20


def train_tokenizers():
    from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders, normalizers, processors, Regex
    kinds = {}
    # GPT-2 style byte-level BPE (like the shared reference model's tokenizer).
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(corpus(), trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"],
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    kinds["bytelevel_gpt2"] = tok
    # Llama 3 style: regex split, byte-level without its own regex, BOS added by a template.
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus(), trainers.BpeTrainer(vocab_size=700, special_tokens=["<|begin_of_text|>", "<|endoftext|>"],
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                                       special_tokens=[("<|begin_of_text|>", bos)])
    kinds["bytelevel_llama3"] = tok
    # SentencePiece-style BPE (Llama 2 / Mistral / TinyLlama): ▁ for spaces, byte fallback, <s> prepended.
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tok.train_from_iterator([t.replace(" ", "▁") for t in corpus() if "\u3000" not in t],
                            trainers.BpeTrainer(vocab_size=900, special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens,
                                                limit_alphabet=120))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    kinds["sentencepiece_bpe"] = tok
    # Newer SentencePiece-style layout (Mistral / Llama 2 converted by recent transformers): Metaspace
    # pre-tokenizer with prepend_scheme "first", no normalizer, Metaspace decoder.
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False),
                                     decoders.ByteFallback(), decoders.Fuse()])
    tok.train_from_iterator([t for t in corpus() if "\u3000" not in t],
                            trainers.BpeTrainer(vocab_size=800, special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens,
                                                limit_alphabet=120))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    kinds["metaspace_bpe"] = tok
    for name, tok in kinds.items():
        out = os.path.join(ROOT, "tokenizers", name)
        os.makedirs(out, exist_ok=True)
        tok.save(os.path.join(out, "tokenizer.json"))
        write_cases(tok, os.path.join(out, "cases.json"))
        print(f"tokenizer {name}: vocab {tok.get_vocab_size()}")


def write_cases(tok, path):
    cases = []
    for text in TRICKY:
        plain = tok.encode(text, add_special_tokens=False).ids
        special = tok.encode(text, add_special_tokens=True).ids
        cases.append({"text": text, "ids": plain, "ids_with_special": special,
                      "decoded": tok.decode(plain, skip_special_tokens=False)})
    json.dump(cases, open(path, "w"), ensure_ascii=False, indent=1)


# ---------------------------------------------------------------- structured OBS reference
def obs_reference(w, h, g, levels, rel_damp=0.01):
    """Greedy structured OBS in float64, written independently of darwinhost's update formulas: at every step
    the inverse Hessian of the surviving columns is inverted afresh, and the surviving weights are the
    least-squares optimum W H[:,K] H[K,K]^-1 (which sequential OBS updates must reproduce)."""
    import numpy as np
    w = w.astype(np.float64).copy(); h = h.astype(np.float64).copy()
    cols = w.shape[1]; n = cols // g
    dead = np.diag(h) == 0
    h[dead, dead] = 1; w[:, dead] = 0
    h += rel_damp * np.mean(np.diag(h)) * np.eye(cols)
    alive = list(range(n)); order = []; snaps = {}
    def columns(structs): return [c for s in structs for c in range(s * g, (s + 1) * g)]
    def optimal(structs):
        k = columns(structs)
        return w @ h[:, k] @ np.linalg.inv(h[np.ix_(k, k)])
    if 0 in levels: snaps[0] = (list(alive), optimal(alive))
    while len(order) < max(levels):
        k = columns(alive); hinv = np.linalg.inv(h[np.ix_(k, k)]); cur = optimal(alive)
        scores = []
        for i, s in enumerate(alive):
            idx = list(range(i * g, (i + 1) * g))
            block = np.linalg.inv(hinv[np.ix_(idx, idx)])
            ws = cur[:, idx]
            scores.append(np.einsum("ra,ab,rb->", ws, block, ws))
        best = alive[int(np.argmin(scores))]
        alive.remove(best); order.append(best)
        if len(order) in levels: snaps[len(order)] = (list(alive), optimal(alive))
    return order, snaps


def make_obs_cases():
    import numpy as np
    rng = np.random.default_rng(11)
    tensors, meta = {}, []
    for name, (rows, n, g, samples, levels) in {"heads": (7, 6, 4, 60, [0, 1, 3, 5, 6]),
                                                "neurons": (5, 12, 1, 40, [0, 2, 4, 8, 11])}.items():
        x = rng.standard_normal((samples, n * g)) * rng.uniform(0.2, 2.0, n * g)
        x[:, 1] = 0  # one dead input
        h = (2.0 / samples) * x.T @ x
        w = rng.standard_normal((rows, n * g))
        order, snaps = obs_reference(w.astype(np.float32), h.astype(np.float32), g, levels)
        tensors[f"{name}.weight"] = torch.tensor(w, dtype=torch.float32)
        tensors[f"{name}.hessian"] = torch.tensor(h, dtype=torch.float32)
        for lvl, (kept, ws) in snaps.items():
            tensors[f"{name}.level{lvl}"] = torch.tensor(ws, dtype=torch.float32)
        meta.append({"name": name, "group": g, "levels": levels, "order": order,
                     "kept": {str(l): k for l, (k, _) in snaps.items()}})
    out = os.path.join(ROOT, "obs")
    os.makedirs(out, exist_ok=True)
    save_file(tensors, os.path.join(out, "reference.safetensors"))
    json.dump(meta, open(os.path.join(out, "cases.json"), "w"), indent=1)
    print("obs reference cases written")


def shared_tokenizer_cases():
    """Reference ids for ../shared's model tokenizer (tests skip when ../shared is absent)."""
    from tokenizers import Tokenizer
    path = os.path.join(ROOT, "..", "..", "..", "shared", "models", "darwin-pycode-16m", "tokenizer.json")
    if os.path.exists(path):
        out = os.path.join(ROOT, "tokenizers", "shared_darwin_pycode_16m_cases.json")
        write_cases(Tokenizer.from_file(path), out)
        print("shared tokenizer cases written")


if __name__ == "__main__":
    torch.use_deterministic_algorithms(True)
    for name, (cls, kwargs, options) in FAMILIES.items():
        if len(sys.argv) < 2 or name in sys.argv[1:]:
            make_model(name, cls, kwargs, options)
    if len(sys.argv) > 1:
        sys.exit(0)
    train_tokenizers()
    shared_tokenizer_cases()
    make_obs_cases()
