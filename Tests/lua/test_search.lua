-- The search modules: mutation invariants, a small search, resume equivalence, errors in user modules.
local check = require("check")
local genome = require("genome")
local mutation = require("mutation")
local evolution = require("evolution")
local json = require("json")
local fixtures = (darwin.test_root or ".") .. "/Tests/Fixtures"

local model = darwin.load(fixtures .. "/models/llama3_bias_bf16_sharded")      -- 3 blocks, 4 heads, MLP 72
local g = darwin.generator(1)
local function random_ids(n)
  local t = {}
  for i = 1, n do t[i] = g:integer(0, model:config().vocab_size - 1) end
  return t
end
local calib = {}
for i = 1, 6 do calib[i] = random_ids(12) end
local dbpath = os.tmpname(); os.remove(dbpath)
-- Levels stop before removing a unit entirely: then every step of a kind removes the same number of parameters.
-- (The full-removal level also drops the KV head and output biases, so a step into it removes more.)
local db = darwin.database.build(model, calib, {path = dbpath, attention_levels = {0, 1, 2, 3}, mlp_levels = {0, 18, 36, 54}, quiet = true})

-- Mutation: the level sum of each kind and the parameter count are preserved, levels stay in range.
local parent = genome.uniform(db:blocks(), 2, 2)
local pa, pm = genome.level_sums(parent)
local changed = 0
for seed = 1, 300 do
  local ctx = {rng = darwin.generator(seed), db = db}
  local child = genome.validate(mutation.level_switch(parent, ctx), db, "test")
  local a, m = genome.level_sums(child)
  check.eq(a, pa, "attention level sum (seed " .. seed .. ")")
  check.eq(m, pm, "mlp level sum (seed " .. seed .. ")")
  check.eq(db:params(child), db:params(parent), "parameter count (seed " .. seed .. ")")
  if not genome.equal(child, parent) then changed = changed + 1 end
end
assert(changed > 250, "mutation should usually change the genome, changed " .. changed)
check.eq(genome.key(parent), "2,2,2|2,2,2", "parent untouched")
check.eq(genome.to_reference_text(genome.uniform(1, 3, 1)), "model.layers.0.self_attn: 3\nmodel.layers.0.mlp: 1\n", "reference text")

-- A small search with training-aware selection; its state resumes to the same result.
local tokens = tensor(random_ids(600))
local state = os.tmpname()
local options = {
  model = model, db = db, parent = parent, fitness_tokens = tokens, seqlen = 10, generations = 3, offspring = 4,
  schedule = {{survivors = 2, tokens = 40, train_tokens = 40}, {survivors = 1, tokens = 80, train_tokens = 40}},
  seed = 7, topk = 8, batch_size = 2, train_options = {lr = 1e-3}, quiet = true,
}
local best, log = evolution.run(options)
check.eq(#log, 3, "one record per generation")
local a, m = genome.level_sums(best)
check.eq(a, pa, "search keeps the attention budget"); check.eq(m, pm, "search keeps the MLP budget")
check.eq(log[3].stages[2].candidates >= 2, true, "the parent joins the last stage")

local interrupted = {}
for k, v in pairs(options) do interrupted[k] = v end
interrupted.generations, interrupted.state = 2, state
evolution.run(interrupted)
check.eq(json.decode(io.open(state):read("a")).generation, 2, "state saved after generation 2")
interrupted.generations, interrupted.resume = 3, true
local resumed_best, resumed_log = evolution.run(interrupted)
check.eq(genome.key(resumed_best), genome.key(best), "resumed search ends where the uninterrupted one does")
check.eq(resumed_log[3].stages[2].scores[1], log[3].stages[2].scores[1], "same fitness after resume")
-- An empty state file holds no search: resuming from it is an error, not a silent fresh start.
local empty = os.tmpname()
interrupted.state = empty
check.raises(function() evolution.run(interrupted) end, "is empty: it holds no saved search to resume")
os.remove(empty)
interrupted.state = state

-- Errors in user modules name the module and the bad value.
local bad = {}
for k, v in pairs(options) do bad[k] = v end
bad.generations = 1
bad.mutate = function(p) local c = genome.copy(p); c.mlp[2] = 99; return c end
check.raises(function() evolution.run(bad) end, "mutation contract (option mutate) returned an invalid genome: mlp level of block 2 is 99, expected an integer in 0..3")
bad.mutate, bad.fitness = nil, function() return nil end
check.raises(function() evolution.run(bad) end, "fitness contract (option fitness): score returned nil, expected a finite number (lower is better)")
bad.fitness, bad.origins = nil, {select = "my_select.lua"}
bad.select = function(candidates) return candidates[1], {{scores = {0 / 0}}} end
check.raises(function() evolution.run(bad) end, "selection contract (my_select.lua): stage 1 score 1 is")
bad.select, bad.schedule = nil, {{survivors = 1, tokens = 0}}
check.raises(function() evolution.run(bad) end, "schedule contract (option schedule): stage 1: tokens is 0, expected an integer >= 1")
-- Level helpers: the highest level of a kind, and the uniform genome at a level (checked).
check.eq(db:max_level("mlp"), #db:levels("mlp") - 1, "max_level is the last level")
check.eq(genome.key(genome.at_level(db, 1)), genome.key(genome.uniform(db:blocks(), 1, 1)), "at_level is the uniform genome")
check.raises(function() genome.at_level(db, 99) end, "genome.at_level: level 99 does not exist for attention")
os.remove(state)
os.execute("rm -rf '" .. dbpath .. "'")
