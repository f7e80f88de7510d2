-- The search on the shared reference model (skipped when ../shared is absent): at equal parameter count the
-- searched model has lower KL to the dense model and lower perplexity than uniform pruning on held-out text.
local root = darwin.test_root or "."
local dir = root .. "/../shared/models/darwin-pycode-16m"
local f = io.open(dir .. "/config.json")
if not f then print("skipped: " .. dir .. " is absent"); return end
f:close()

local check = require("check")
local genome = require("genome")
local evolution = require("evolution")
local model, tok = darwin.load(dir), darwin.tokenizer(dir)
local calib_tokens = darwin.data.tokens(dir .. "/data/calib.txt.gz", tok)
local eval_tokens = darwin.data.tokens(dir .. "/data/eval.txt.gz", tok)
local calib = darwin.data.sequences(calib_tokens, nil, {seqlen = 128, count = 16, seed = 0})
local heldout = darwin.data.sequences(eval_tokens, nil, {seqlen = 128, count = 8, mode = "sequential"})
local dbpath = os.tmpname(); os.remove(dbpath)
-- Three levels per kind keep the build short: 0, 25% and 50% of heads / neurons removed.
local db = darwin.database.build(model, calib, {path = dbpath, attention_levels = {0, 3, 6}, mlp_levels = {0, 256, 512}, quiet = true})
local uniform = genome.uniform(db:blocks(), 1, 1)
local t0 = darwin.clock()
local best = evolution.run({
  model = model, db = db, parent = uniform, fitness_tokens = calib_tokens, seqlen = 128, generations = 8, offspring = 6,
  schedule = {{survivors = 2, tokens = 1024, train_tokens = 0}, {survivors = 1, tokens = 2048, train_tokens = 0}},
  topk = 64, seed = 0, quiet = true,
})
local targets = model:targets(heldout, {topk = 64})
local kl_u, ppl_u, p_u = check.measure_genome(model, db, uniform, heldout, targets)
local kl_s, ppl_s, p_s = check.measure_genome(model, db, best, heldout, targets)
print(string.format("darwin-pycode-16m: uniform KL %.4f ppl %.3f (%d) | searched KL %.4f ppl %.3f (%d) %s; search %.0f s",
  kl_u, ppl_u, p_u, kl_s, ppl_s, p_s, genome.format(best), darwin.clock() - t0))
assert(p_s <= p_u, "searched model must not be larger")
assert(kl_s < kl_u, "searched KL should beat uniform")
assert(ppl_s < ppl_u, "searched perplexity should beat uniform")
os.execute("rm -rf '" .. dbpath .. "'")
