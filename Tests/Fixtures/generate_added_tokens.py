#!/usr/bin/env python3
"""Reference ids for added tokens with flags (lstrip, rstrip, single_word) and special tokens next to combining
marks, from Hugging Face `tokenizers` (run by hand; needs only `pip install tokenizers`):

    python3 Tests/Fixtures/generate_added_tokens.py

Writes tokenizers/added_flags/tokenizer.json (the GPT-2-style fixture plus flagged added tokens) and cases.json,
tokenizers/added_normalized/ (the SentencePiece-style fixture plus normalized and raw added tokens), and the
unicode_cases.json of three fixture tokenizers.
"""
import json, os
from tokenizers import Tokenizer, AddedToken

ROOT = os.path.dirname(os.path.abspath(__file__))
tok = Tokenizer.from_file(os.path.join(ROOT, "tokenizers", "bytelevel_gpt2", "tokenizer.json"))
tok.add_tokens([AddedToken("<tool>", lstrip=True, normalized=False),
                AddedToken("[END]", rstrip=True, normalized=False),
                AddedToken("xyz", single_word=True, normalized=False)])
tok.add_special_tokens([AddedToken("<s>", special=True, normalized=False)])
TEXTS = [
    "call   <tool>  now",
    "a<tool>b",
    "done [END]   next",
    "[END]\n\nrest",
    "xyz and xyzabc and abcxyz and (xyz) and _xyz",
    "xyz",
    "<s>\u0301 after a special token comes a combining mark",
    "e\u0301<s>e\u0301",
    "<s><s> <tool>[END]xyz",
    "  \t<tool>\t [END] \n",
]


def save_fixture(tok, name, texts):
    """Writes tokenizers/NAME/tokenizer.json and cases.json (each text's ids, with special tokens, and decoding)."""
    out = os.path.join(ROOT, "tokenizers", name)
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    cases = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids,
              "ids_with_special": tok.encode(t, add_special_tokens=True).ids,
              "decoded": tok.decode(tok.encode(t, add_special_tokens=False).ids, skip_special_tokens=False)} for t in texts]
    json.dump(cases, open(os.path.join(out, "cases.json"), "w"), ensure_ascii=False, indent=1)
    for c in cases: print(repr(c["text"]), c["ids"])


save_fixture(tok, "added_flags", TEXTS)

# Canonically equivalent spellings are different text to `tokenizers` (no normalizer here): precomposed and
# combining forms, Hangul syllables and jamo, OHM SIGN and OMEGA, a space before a combining mark.
UNICODE = ["caf\u00e9 cafe\u0301", "\ud55c\uae00 \u1112\u1161\u11ab\u1100\u1173\u11af", "\u2126 \u03a9", "a \u0301b", "e\u0301\u0301 \u00e9\u0301"]
for name in ["sentencepiece_bpe", "metaspace_bpe", "bytelevel_gpt2"]:
    t = Tokenizer.from_file(os.path.join(ROOT, "tokenizers", name, "tokenizer.json"))
    vocab = t.get_vocab()
    cases = [{"text": u, "ids": t.encode(u, add_special_tokens=False).ids, "ids_with_special": t.encode(u, add_special_tokens=True).ids,
              "decoded": t.decode(t.encode(u, add_special_tokens=False).ids, skip_special_tokens=False)} for u in UNICODE]
    json.dump(cases, open(os.path.join(ROOT, "tokenizers", name, "unicode_cases.json"), "w"), ensure_ascii=False, indent=1)
    print(name, [c["ids"] for c in cases])

# The `normalized` flag: normalized added tokens are matched in the normalized text (after the SentencePiece-style
# normalizer turned spaces into ▁), the others in the raw text.
tok = Tokenizer.from_file(os.path.join(ROOT, "tokenizers", "sentencepiece_bpe", "tokenizer.json"))
tok.add_tokens([AddedToken("\u2581hello\u2581world", normalized=True), AddedToken("<raw>", normalized=False),
                AddedToken("\u2581x", normalized=False), AddedToken("q\u2581q", normalized=True)])
NORMALIZED = ["say hello world now", "hello world", "<raw> hello world<raw>", "a \u2581x b x", "hello  world",
              "q q and q\u2581q", "<raw>q q", "hello world hello world"]
save_fixture(tok, "added_normalized", NORMALIZED)
