-- Every binding works inside coroutines: the arguments are on the coroutine's stack, not the main thread's.
local check = require("check")
local genome = require("genome")
local mutation = require("mutation")
local evolution = require("evolution")
local fixtures = (darwin.test_root or ".") .. "/Tests/Fixtures"

-- Tensors: shapes, arithmetic, reductions and errors, from a coroutine and from one nested in another.
local function tensor_work(n)
  local t = tensor.zeros(2, 3)
  check.eq(t:size(1), 2, "rows in a coroutine"); check.eq(t:size(2), 3, "columns in a coroutine")
  local a = tensor.arange(1, 7):reshape(2, 3)
  local s = (a + a):sum()
  check.eq(s, 42, "sum in a coroutine")
  local ok, err = pcall(tensor.zeros, -1)
  assert(not ok and err:find("tensor.zeros", 1, true), "errors name the function in a coroutine: " .. tostring(err))
  coroutine.yield(a:matmul(a:t()):get(1, 1) + n)
  return "done"
end
local co = coroutine.create(tensor_work)
local ok, value = coroutine.resume(co, 100)
check.eq(ok, true, "first resume"); check.eq(value, 114, "1*1 + 2*2 + 3*3 + 100")
local ok2, finished = coroutine.resume(co)
check.eq(ok2 and finished, "done", "second resume")
local outer = coroutine.wrap(function()
  local inner = coroutine.wrap(function() coroutine.yield(tensor.ones(4):sum()) end)
  coroutine.yield(inner() + tensor.ones(3):sum())
end)
check.eq(outer(), 7, "nested coroutines")

-- A model, a database and a search whose mutation operator is a coroutine-based generator.
local model = darwin.load(fixtures .. "/models/llama3_bias_bf16_sharded")
local ids = tensor{{1, 2, 3, 4, 5, 6, 7, 8}}
local dense = model:perplexity(ids)
local in_coroutine = coroutine.wrap(function() coroutine.yield(model:perplexity(ids)) end)()
check.eq(in_coroutine, dense, "perplexity in a coroutine")
local g = darwin.generator(3)
local calib = {}
for i = 1, 6 do calib[i] = {} for j = 1, 12 do calib[i][j] = g:integer(0, model:config().vocab_size - 1) end end
local dbpath = os.tmpname(); os.remove(dbpath)
local db = coroutine.wrap(function()
  return darwin.database.build(model, calib, {path = dbpath, attention_levels = {0, 1, 2, 3}, mlp_levels = {0, 18, 36, 54}, quiet = true})
end)()
check.eq(db:blocks(), 3, "database built in a coroutine")

-- The generator keeps its own loop state between calls and yields one child per call.
local generated = 0
local function generator_mutation()
  local co = coroutine.wrap(function(parent, ctx)
    while true do
      local child = mutation.level_switch(parent, ctx)
      check.eq(ctx.db:params(child), ctx.db:params(parent), "budget inside the generator")
      generated = generated + 1
      parent, ctx = coroutine.yield(child)
    end
  end)
  return function(parent, ctx) return co(parent, ctx) end
end
local tokens = {}
for i = 1, 400 do tokens[i] = g:integer(0, model:config().vocab_size - 1) end
local best, log = evolution.run{
  model = model, db = db, parent = genome.uniform(db:blocks(), 2, 2), fitness_tokens = tensor(tokens), seqlen = 10,
  generations = 2, offspring = 3, mutate = generator_mutation(), seed = 5, topk = 8, batch_size = 2, quiet = true,
  schedule = {{survivors = 1, tokens = 40}},
}
check.eq(#log, 2, "a search with a generator mutation runs")
assert(generated >= 6, "the generator made the offspring: " .. generated)
local a, m = genome.level_sums(best)
check.eq(a, 6, "attention budget kept"); check.eq(m, 6, "MLP budget kept")
os.execute("rm -rf '" .. dbpath .. "'")
