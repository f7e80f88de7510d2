-- GGUF export: the file's layout read back independently (Tests/lua/gguf_reader.lua), the values against the model's
-- weights (rotary rows interleaved, KV groups evened out, empty units padded) and the errors for what llama.cpp
-- cannot take. llama.cpp itself checks perplexity and token ids in DarwinLuaTests/GGUFLlamaCppTests when installed.
local check = require("check")
local gguf = require("gguf_reader")
local json = require("json")
local tensor = darwin.tensor

local path = os.tmpname(); os.remove(path)
local tok = darwin.tokenizer("Tests/Fixtures/tokenizers/bytelevel_gpt2")
local model = darwin.random_model{vocab = 600, hidden = 64, layers = 4, heads = 4, kv_heads = 2, intermediate = 96, head_dim = 16, seed = 3}
local dense_report = model:save(path, {format = "gguf", tokenizer = tok})
check.eq(dense_report.architecture, "llama", "a dense model is llama.cpp's llama architecture")
check.eq(#dense_report.notes, 0, "nothing added to a dense model")
local f = gguf.read(path)
check.eq(f.version, 3, "GGUF version")
check.eq(f.metadata["llama.attention.head_count"], 4, "scalar head count")
check.eq(f.metadata["llama.feed_forward_length"], 96, "scalar MLP width")

model:keep(1, "attention", {})           -- no attention in block 1: llama.cpp reads the head size there
model:keep(2, "attention", {1, 2, 3})    -- KV head 1 keeps two queries, KV head 2 one: uneven groups
model:keep(3, "mlp", {})                 -- attention without MLP
model:keep(4, "mlp", {1, 5, 9})          -- width 3
local report = model:save(path, {format = "gguf", dtype = "f32", tokenizer = tok})
check.eq(report.architecture, "deci", "a pruned model is llama.cpp's deci architecture")
check.eq(#report.notes, 3, "notes: " .. table.concat(report.notes, " / "))
f = gguf.read(path)
check.same(f.metadata["deci.attention.head_count"], {1, 4, 4, 4}, "per-block query heads (block 2 padded to 2 + 2)")
check.same(f.metadata["deci.attention.head_count_kv"], {1, 2, 2, 2}, "per-block KV heads")
check.same(f.metadata["deci.feed_forward_length"], {96, 96, 1, 3}, "per-block MLP widths (block 3 gets one zero neuron)")
check.eq(f.metadata["deci.attention.key_length"], 16, "head size")
check.eq(f.metadata["tokenizer.ggml.model"], "gpt2", "byte-level BPE")
check.eq(f.metadata["tokenizer.ggml.pre"], "gpt-2", "GPT-2 split pattern")
check.eq(#f.metadata["tokenizer.ggml.tokens"], 600, "one token per embedding row")
check.eq(f.metadata["tokenizer.ggml.tokens"][tok:encode("def", {add_special_tokens = false})[1] + 1], tok:id_to_token(tok:encode("def", {add_special_tokens = false})[1]), "tokens in id order")
check.same(f.tensors["blk.1.attn_q.weight"].dims, {64, 64}, "GGUF dims: columns first")
check.same(f.tensors["blk.3.ffn_down.weight"].dims, {3, 64}, "pruned MLP")

-- Values: written row r of a head reads source row (r % 2) * d/2 + r // 2 (llama.cpp rotates adjacent pairs).
local function row(name, r, n) local out = {} for c = 0, n - 1 do out[c + 1] = gguf.element(f, name, r * n + c) end return out end
local q = model:parameter("model.layers.1.self_attn.q_proj.weight"):totable()
for r = 0, 15 do check.values(tensor(row("blk.1.attn_q.weight", r, 64)), q[(r % 2) * 8 + r // 2 + 1], 0, "interleaved q row " .. r) end
local v = model:parameter("model.layers.1.self_attn.v_proj.weight"):totable()
for r = 0, 31 do check.values(tensor(row("blk.1.attn_v.weight", r, 64)), v[r + 1], 0, "v row " .. r) end
-- The fourth written head of block 2 is a zero head: its query rows and its output columns are zero.
for r = 48, 63 do check.values(tensor(row("blk.1.attn_q.weight", r, 64)), row("blk.0.attn_q.weight", r % 16, 64), 0, "zero query head") end
local o = model:parameter("model.layers.1.self_attn.o_proj.weight"):totable()
local written_o = row("blk.1.attn_output.weight", 5, 64)
for c = 1, 48 do check.eq(written_o[c], o[6][c], "o column " .. c) end
for c = 49, 64 do check.eq(written_o[c], 0, "zero o column " .. c) end
for r = 0, 15 do for _, x in ipairs(row("blk.0.attn_q.weight", r, 64)) do check.eq(x, 0, "block 1's zero head") end end
for _, name in ipairs({"blk.2.ffn_gate.weight", "blk.2.ffn_down.weight"}) do
  for i = 0, 63 do check.eq(gguf.element(f, name, i), 0, name .. " is the zero neuron") end
end
check.eq(f.tensors["blk.0.ffn_down.weight"].type, 0, "f32")

-- q8_0: each value within half a step of its block's scale; rows not a multiple of 32 fall back to f16.
model:save(path, {format = "gguf", dtype = "q8_0", tokenizer = tok})
f = gguf.read(path)
check.eq(f.tensors["token_embd.weight"].type, 8, "q8_0 embedding")
check.eq(f.tensors["blk.3.ffn_down.weight"].type, 1, "width 3 stored as f16")
check.eq(f.tensors["output_norm.weight"].type, 0, "norms stay f32")
local embedding = model:parameter("model.embed_tokens.weight"):totable()
for i = 0, 255 do
  local x, scale = gguf.element(f, "token_embd.weight", i)
  local want = embedding[i // 64 + 1][i % 64 + 1]
  -- half a step, plus the float16 rounding of the scale times the largest step count
  assert(math.abs(x - want) <= scale * (0.5 + 127 / 2048) + 1e-9, string.format("q8_0 element %d: %g vs %g (scale %g)", i, x, want, scale))
end

-- SentencePiece-style tokenizers go in as llama.cpp's `llama` vocabulary: a score per token (minus the rank of the
-- first merge that makes it: llama.cpp merges the pair whose joined token scores highest), byte tokens typed as
-- bytes, the unknown token, and a ▁ before the text.
for _, case in ipairs({{"sentencepiece_bpe", 900, 0}, {"metaspace_bpe", 800, 1}}) do
  local dir = "Tests/Fixtures/tokenizers/" .. case[1]
  local spm = darwin.tokenizer(dir)
  local r = darwin.random_model{vocab = case[2], hidden = 32, layers = 1, heads = 2, intermediate = 32}:save(path, {format = "gguf", tokenizer = spm})
  check.eq(#r.notes, case[3], case[1] .. " notes: " .. table.concat(r.notes, " / "))
  local g = gguf.read(path)
  local meta = g.metadata
  check.eq(meta["tokenizer.ggml.model"], "llama", case[1] .. " vocabulary kind")
  check.eq(meta["tokenizer.ggml.add_space_prefix"], true, case[1] .. " ▁ before the text")
  check.eq(meta["tokenizer.ggml.add_bos_token"], true, case[1] .. " BOS added")
  check.eq(meta["tokenizer.ggml.bos_token_id"], spm:token_to_id("<s>"), case[1] .. " BOS id")
  check.eq(meta["tokenizer.ggml.unknown_token_id"], spm:token_to_id("<unk>"), case[1] .. " unknown id")
  local types, scores, tokens = meta["tokenizer.ggml.token_type"], meta["tokenizer.ggml.scores"], meta["tokenizer.ggml.tokens"]
  check.eq(#scores, case[2], case[1] .. " one score per token")
  check.eq(types[spm:token_to_id("<0x41>") + 1], 6, case[1] .. " byte token type")
  check.eq(types[spm:token_to_id("<unk>") + 1], 2, case[1] .. " unknown token type")
  check.eq(types[spm:token_to_id("<s>") + 1], 3, case[1] .. " control token type")
  check.eq(tokens[spm:token_to_id("▁is▁") + 1], "▁is▁", case[1] .. " tokens keep their ▁")
  local merges = json.decode(darwin.read_file(dir .. "/tokenizer.json")).model.merges
  local first_rank = {}
  for rank, m in ipairs(merges) do
    local a, b = table.unpack(type(m) == "table" and m or {m:match("^(%S+) (%S+)$")})
    local id = spm:token_to_id(a .. b)
    if first_rank[id] == nil then first_rank[id] = rank - 1 end
  end
  for id, rank in pairs(first_rank) do check.eq(scores[id + 1], -rank, case[1] .. " score of merged token " .. id) end
  check.eq(scores[spm:token_to_id("<0x41>") + 1] < -#merges, true, case[1] .. " tokens no merge makes score below every merge")
end
os.remove(path)

-- What GGUF cannot take is refused with the reason.
check.raises(function() model:save(path, {format = "gguf", dtype = "q4_0", tokenizer = tok}) end, "must be one of f32, f16, bf16, q8_0")
check.raises(function() model:save(path, {format = "gguf", padded = true, tokenizer = tok}) end, "does not apply to GGUF")
local splitting = os.tmpname()
darwin.write_file(splitting, (darwin.read_file("Tests/Fixtures/tokenizers/metaspace_bpe/tokenizer.json"):gsub('"split": ?false', '"split":true')))
check.raises(function() model:save(path, {format = "gguf", tokenizer = darwin.tokenizer(splitting)}) end, "SentencePiece-style BPE tokenizers")
os.remove(splitting)
check.raises(function() model:save(path, {format = "gguf"}) end, "pass {tokenizer")
check.raises(function() darwin.load("Tests/Fixtures/models/phi3_gqa"):save(path, {format = "gguf", tokenizer = tok}) end, "Phi-3")
check.raises(function() model:save(path, {format = "onnx"}) end, "'safetensors' or 'gguf'")
assert(darwin.exists(path) == nil, "no file left by a refused export")
