-- A constructed case with a known answer: blocks 3 and 4 barely change the residual stream (their output
-- projections are scaled by 0.05), so pruning them costs little. Uniform pruning spends the budget equally;
-- the search must move pruning to the unimportant blocks and beat uniform at no more parameters.
local check = require("check")
local genome = require("genome")
local evolution = require("evolution")

local model = darwin.random_model({vocab = 48, hidden = 32, layers = 4, heads = 4, kv_heads = 2, intermediate = 64, std = 0.25, seed = 5})
for _, block in ipairs({2, 3}) do   -- 0-based names: blocks 3 and 4
  model:parameter("model.layers." .. block .. ".self_attn.o_proj.weight"):mul_(0.05)
  model:parameter("model.layers." .. block .. ".mlp.down_proj.weight"):mul_(0.05)
end
local g = darwin.generator(3)
local stream = {}
for i = 1, 4000 do stream[i] = g:integer(0, 47) end
stream = tensor(stream)
local calib = darwin.data.sequences(stream, nil, {seqlen = 16, count = 8, seed = 1})
local heldout = darwin.data.sequences(stream, nil, {seqlen = 16, count = 16, seed = 99})
local dense_targets = model:targets(heldout)
local dbpath = os.tmpname(); os.remove(dbpath)
local db = darwin.database.build(model, calib, {path = dbpath, levels = 4, quiet = true})

local uniform = genome.uniform(4, 2, 2)
local evaluations = {}
local best, log = evolution.run({
  model = model, db = db, parent = uniform, fitness_tokens = stream, seqlen = 16, generations = 8, offspring = 6,
  schedule = {{survivors = 2, tokens = 128, train_tokens = 0}, {survivors = 1, tokens = 256, train_tokens = 0}},
  seed = 1, quiet = true,
  evaluate = function(m) return m:kl(heldout, dense_targets) end,
})
local kl_u, ppl_u, params_u = check.measure_genome(model, db, uniform, heldout, dense_targets)
local kl_s, ppl_s, params_s = check.measure_genome(model, db, best, heldout, dense_targets)
local ppl_dense = model:perplexity(heldout)
print(string.format("dense ppl %.3f | uniform KL %.4f ppl %.3f (%d params) | searched KL %.4f ppl %.3f (%d params) %s",
  ppl_dense, kl_u, ppl_u, params_u, kl_s, ppl_s, params_s, genome.format(best)))
assert(params_s <= params_u, "searched model must not be larger")
assert(kl_s < 0.5 * kl_u, "search should at least halve the KL of uniform pruning")
-- On random tokens only closeness to the dense model is meaningful (the quickstart compares trained models).
assert(math.abs(ppl_s - ppl_dense) < math.abs(ppl_u - ppl_dense), "the searched model's perplexity should be closer to the dense model's")
-- Pruning moved to the unimportant blocks 3 and 4.
local important = best.attention[1] + best.attention[2] + best.mlp[1] + best.mlp[2]
assert(important < 8, "blocks 1 and 2 should end less pruned than uniform, got " .. genome.format(best))
-- The log shows the held-out fitness improving over the generations.
assert(log[#log].evaluation < log[1].evaluation, "held-out KL should improve from the first to the last generation")
os.execute("rm -rf '" .. dbpath .. "'")
