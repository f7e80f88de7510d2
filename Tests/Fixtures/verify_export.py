#!/usr/bin/env python3
"""Checks with Hugging Face transformers that a checkpoint darwinhost exported loads as is and computes the
logits darwinhost computed for it (run by hand where torch + transformers are installed).

    darwinhost -e 'local m = darwin.load(...); ...; m:save("out", {padded = true})
                   darwin.write_file("out/ids.json", ...); darwin.write_file("out/logits.json", ...)'
    python3 Tests/Fixtures/verify_export.py out

Expects OUT/ids.json ([[ids...]...]) and OUT/logits.json (the flat float logits darwinhost computed).
"""
import json, sys
import torch
from transformers import AutoModelForCausalLM

out = sys.argv[1]
model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
ids = torch.tensor(json.load(open(f"{out}/ids.json")))
expected = torch.tensor(json.load(open(f"{out}/logits.json"))).reshape(ids.shape[0], ids.shape[1], -1)
with torch.no_grad():
    logits = model(input_ids=ids).logits
err = ((logits - expected).abs().max() / expected.abs().max()).item()
print(f"transformers loaded {out}: max relative logit difference {err:.3g}")
sys.exit(0 if err < 1e-4 else 1)
