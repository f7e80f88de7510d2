-- search.run, the whole strategy the scripts share, with every piece replaced by user code: a coroutine-based
-- mutation, the stock KL composed with a size penalty as a plain function, a selection returning only a genome,
-- a counting fine-tuning and an explicit schedule. And the contract errors it reports.
local check = require("check")
local genome = require("genome")
local fitness = require("fitness")
local finetune = require("finetune")
local schedule = require("schedule")
local search = require("search")
local fixtures = (darwin.test_root or ".") .. "/Tests/Fixtures"

local model = darwin.load(fixtures .. "/models/llama3_bias_bf16_sharded")      -- 3 blocks, 4 heads, MLP 72
local ids = {}
local g = darwin.generator(3)
for i = 1, 2000 do ids[i] = g:integer(0, model:config().vocab_size - 1) end
local tokens = tensor(ids)
local inputs = {
  model = model, tokens = tokens,
  calibration = darwin.data.sequences(tokens, nil, {seqlen = 8, count = 4, seed = 0}),
  eval = darwin.data.sequences(tokens, nil, {seqlen = 8, count = 2, mode = "sequential"}),
}

local generator_mutation = dofile((darwin.test_root or ".") .. "/examples/generator_mutation.lua")  -- a coroutine inside
local scored, tuned = 0, 0
local function sized_kl(m, batch) scored = scored + 1; return fitness.kl(m, batch) + 1e-9 * m:parameters() end
local function best_only(candidates, ctx)
  local batch = ctx.fitness.prepare(ctx, ctx.sample("fitness", 16))
  local best, best_score
  for _, c in ipairs(candidates) do
    local m = ctx.model:clone(); m:apply(ctx.db, c)
    if ctx.finetune(m, ctx.sample("train", 16), ctx) then tuned = tuned + 1 end
    local s = ctx.fitness.score(m, batch); m:close()
    if not best_score or s < best_score then best, best_score = c, s end
  end
  return best
end

-- The pieces as modules in a folder outside stdlib/, named the way the scripts' options name them.
local folder = os.tmpname(); os.remove(folder); darwin.mkdir(folder)
local function module_file(name, text) local f = assert(io.open(folder .. "/" .. name, "w")); f:write(text); f:close(); return folder .. "/" .. name end
local from_files = {
  mutation = (darwin.test_root or ".") .. "/examples/generator_mutation.lua",
  fitness = module_file("sized_kl.lua", [[
    local fitness = require("fitness")
    return function(m, b) return fitness.kl(m, b) + 1e-9 * m:parameters() end]]),
  selection = module_file("first_only.lua", "return {select = function(candidates, ctx) return candidates[1] end}"),
  finetune = module_file("no_training.lua", "return function(model, ids, ctx) return nil end"),
  schedule = module_file("one_stage.lua", "return {schedule = {{survivors = 1, tokens = 16}}}"),
}

local out = os.tmpname(); os.remove(out)
local o = search.defaults()
o.model, o.data, o.output, o.inputs = "fixture", "in memory", out, inputs
o.seqlen, o.levels, o.level, o.generations, o.offspring = 8, 4, 2, 2, 3
o.pieces = {mutate = generator_mutation, fitness = sized_kl, select = best_only, finetune = finetune.adamw,
            schedule = schedule.explicit({survivors = {1}, tokens = {16}}), origins = {}}
local result = search.run(o, {quiet = true})
check.eq(#result.log, 2, "two generations")
check.eq(result.db:params(result.best) <= result.db:params(result.uniform), true, "the searched genome keeps the budget")
check.eq(scored, 2 * 3, "the composed fitness scored each offspring")
check.eq(tuned, 2 * 3, "the selection fine-tuned each offspring through ctx.finetune")
check.eq(#result.log[1].stages, 0, "a selection without stage records logs none")

-- The same through the module options, as the scripts pass them.
local by_name = search.defaults()
by_name.model, by_name.data, by_name.output, by_name.inputs = "fixture", "in memory", out .. "-files", inputs
by_name.seqlen, by_name.levels, by_name.level, by_name.generations, by_name.offspring = 8, 4, 2, 2, 3
for k, v in pairs(from_files) do by_name[k] = v end
local from_modules = search.run(by_name, {quiet = true})
check.eq(#from_modules.log, 2, "a search with every piece from a file")
check.eq(#from_modules.log[2].stages, 0, "the file's selection returned only a genome")
os.execute("rm -rf '" .. out .. "-files' '" .. folder .. "'")

-- Broken pieces stop the search with the contract's message, naming the piece.
o.resume, o.overwrite = false, true
o.pieces.origins = {select = "my_select"}
o.pieces.select = function() return {attention = {1, 2}, mlp = {1, 1, 1}} end
check.raises(function() search.run(o, {quiet = true}) end, "selection contract (my_select) returned an invalid genome: attention has 2 levels, expected 3")
o.pieces.select, o.pieces.origins = best_only, {finetune = "my_finetune"}
o.pieces.finetune = function() return "not a trainer" end
check.raises(function() search.run(o, {quiet = true}) end, "finetune contract (my_finetune): returned not a trainer, expected nil or a trainer")
os.execute("rm -rf '" .. out .. "'")
