-- Every supported family end to end: database, a DarwinLM search with fine-tuning (stock pieces), post-training,
-- and both exports, each reloaded with the logits of the model in memory.
local check = require("check")
local search = require("search")
local fixtures = (darwin.test_root or ".") .. "/Tests/Fixtures"

local families = {"llama_gqa_tied", "llama3_bias_bf16_sharded", "mistral_f16", "qwen2_tied", "qwen3_tied", "qwen3_bias_bf16_sharded",
                  "mistral_window", "qwen2_window", "qwen3_window", "phi3_gqa", "phi3_window_bf16_sharded", "phi3_partial_rotary"}
for _, family in ipairs(families) do
  local model = darwin.load(fixtures .. "/models/" .. family)
  local ids, g = {}, darwin.generator(5)
  for i = 1, 1200 do ids[i] = g:integer(0, model:config().vocab_size - 1) end
  local tokens = tensor(ids)
  local out = os.tmpname(); os.remove(out)
  local o = search.defaults()
  o.model, o.data, o.output = family, "in memory", out
  o.inputs = {model = model, tokens = tokens,
              calibration = darwin.data.sequences(tokens, nil, {seqlen = 8, count = 4, seed = 0}),
              eval = darwin.data.sequences(tokens, nil, {seqlen = 8, count = 2, mode = "sequential"})}
  o.seqlen, o.levels, o.level, o.generations, o.offspring = 8, 4, 2, 2, 3
  o.stages, o.fitness_tokens, o.train_tokens = 2, {32}, {32}
  local result = search.run(o, {quiet = true})
  check.eq(#result.log, 2, family .. ": two generations")
  check.eq(result.db:params(result.best) <= result.db:params(result.uniform), true, family .. ": the budget holds")

  local pruned = model:clone()
  pruned:apply(result.db, result.best)
  local trainer = darwin.trainer(pruned, {lr = 1e-3})
  local batch = darwin.data.sequences(tokens, nil, {seqlen = 8, count = 2, seed = 1})
  local first = trainer:step(batch)
  for _ = 1, 4 do trainer:step(batch) end
  assert(trainer:step(batch) < first, family .. ": post-training lowers the loss")

  local probe = o.inputs.eval
  local expected = pruned:forward(probe)
  for _, padded in ipairs({false, true}) do
    local dir = out .. (padded and "-padded" or "-compact")
    pruned:save(dir, {padded = padded})
    local reloaded = darwin.load(dir)
    local diff = (reloaded:forward(probe) - expected):abs():max() / expected:abs():max()
    assert(diff < 1e-5, string.format("%s: %s export reloads with relative logit difference %g", family, padded and "padded" or "compact", diff))
    if padded then check.eq(reloaded:parameters(), model:parameters(), family .. ": the padded export has the dense shapes") end
    os.execute("rm -rf '" .. dir .. "'")
  end
  os.execute("rm -rf '" .. out .. "'")
end
