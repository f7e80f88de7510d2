-- Models, tokenizers and data from Lua, on the small fixture checkpoints (paths relative to the repo root).
local check = require("check")
local root = darwin.test_root or "."
local fixtures = root .. "/Tests/Fixtures"

local model = darwin.load(fixtures .. "/models/llama_gqa_tied")
local cfg = model:config()
check.eq(cfg.architecture, "LlamaForCausalLM", "architecture")
check.eq(cfg.num_key_value_heads, 2, "kv heads")
check.eq(model:parameters(), 61760, "parameters")
local summary = model:summary()
check.eq(#summary, 2, "summary blocks")
check.eq(summary[1].query_heads, 4, "query heads")
check.eq(summary.total_params, 61760, "total")
assert(tostring(model):find("LlamaForCausalLM", 1, true))

-- forward: a [batch, seq] tensor of ids, or a Lua table; hidden states on request.
local ids = tensor{{1, 5, 9, 2, 7}, {3, 3, 8, 0, 1}}
local logits, hidden = model:forward(ids, {hidden_states = true})
check.same(logits:size(), {2, 5, 96}, "logits shape")
check.eq(#hidden, 3, "embeddings + 2 blocks")
check.same(hidden[3]:size(), {2, 5, 64}, "hidden shape")
local single = model:forward({1, 5, 9, 2, 7})
check.values(single[1], logits[1]:reshape(-1):totable(), 1e-5, "table ids = tensor ids")

-- perplexity equals exp(mean NLL); KL of a model to its own targets is 0.
local nll, count = model:nll(ids)
check.eq(count, 8, "predicted tokens")
check.near(model:perplexity(ids, {batch_size = 1}), math.exp(nll / count), 1e-6, "perplexity")
local targets = model:targets(ids, {topk = 16})
check.near(model:kl(ids, targets), 0, 1e-6, "self KL")
check.near(model:kl(ids, model:targets(ids)), 0, 1e-6, "self KL full")
check.raises(function() model:perplexity(ids, {batch = 2}) end, "unknown option 'batch'")
check.raises(function() model:forward(tensor{{1, 500}}) end, "token id 500 at position 2 is outside the vocabulary 0..<96")
check.raises(function() darwin.load(fixtures .. "/models/none") end, "not a model directory")

-- tokenizer round trip and exact ids from the fixture cases.
local tok = darwin.tokenizer(fixtures .. "/tokenizers/bytelevel_llama3")
local text = "def f(x):\n    return x  # naïve 👍"
local with_bos = tok:encode(text)
local plain = tok:encode(text, {add_special_tokens = false})
check.eq(#with_bos, #plain + 1, "BOS added by default")
check.eq(with_bos[1], tok:token_to_id("<|begin_of_text|>"), "BOS id")
check.eq(tok:decode(plain), text, "round trip")
check.eq(tok:decode(with_bos, {skip_special_tokens = true}), text, "skip special")
check.eq(tok:id_to_token(with_bos[1]), "<|begin_of_text|>", "id_to_token")

-- data: a token file cut into sequences.
local path = os.tmpname()
local f = assert(io.open(path, "w"))
f:write(string.rep("def square(x):\n    return x * x\n\n", 40))
f:close()
local all = darwin.data.tokens(path, tok)
local seqs = darwin.data.sequences(path, tok, {seqlen = 16, count = 5, seed = 1})
check.same(seqs:size(), {5, 16}, "sequences")
local again = darwin.data.sequences(path, tok, {seqlen = 16, count = 5, seed = 1})
check.values(seqs, again:reshape(-1):totable(), 0, "seeded")
local sequential = darwin.data.sequences(all, nil, {seqlen = 16, tokens = 48, mode = "sequential"})
check.same(sequential:size(), {3, 16}, "tokens / seqlen sequences")
check.values(sequential[1], all:narrow(1, 1, 16):totable(), 0, "first window")
check.raises(function() darwin.data.sequences(path, tok, {count = 2}) end, "option 'seqlen' is required")
os.remove(path)
