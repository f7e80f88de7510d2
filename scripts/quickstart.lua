-- quickstart: DarwinLM end to end in a few minutes, needing nothing outside the repository.
-- 1. generates Python-like text and trains a small byte-level Llama-style model on it;
-- 2. builds the second-order compression database;
-- 3. searches per-unit compression levels with the training-aware evolutionary search;
-- 4. post-trains the searched and the uniformly pruned model alike and compares held-out perplexity.
local cli = require("cli")
local genome = require("genome")
local search = require("search")

local o = cli.parse({
  name = "scripts/quickstart.lua",
  about = "Train a small model on generated text, then prune it with DarwinLM's search and compare with uniform pruning.",
  options = cli.with({
    {"steps", "integer", 300, "training steps of the small model"},
    {"level", "integer", 4, "target level (of 8 per kind): the size of uniform pruning at this level"},
    {"generations", "integer", 8, "search generations"},
    {"offspring", "integer", 6, "offspring per generation"},
    {"post_train_steps", "integer", 40, "post-training steps for the uniform and the searched model"},
    {"seed", "integer", 0, "random seed"},
    {"save", "string", nil, "also write the trained model and its data here (model/, train.bin, eval.bin) for other scripts"},
  }, {cli.search_pieces[1], cli.search_pieces[2], cli.search_pieces[3], cli.search_pieces[4], cli.search_pieces[5]}),
}, arg)
-- Pieces of your own (--mutation, --fitness, --selection, --finetune, --schedule) are loaded before the training.
local pieces = require("pipeline").user_pieces(o)
local t0 = darwin.clock()
local seqlen, batch = 64, 8

--- Deterministic Python-like text: functions, loops, conditionals and comprehensions over a small vocabulary.
local function corpus(seed, chars)
  local g = darwin.generator(seed)
  local names = {"total", "count", "value", "index", "item", "result", "left", "right", "size", "name", "data", "key"}
  local ops = {"+", "-", "*", "//", "%"}
  local function pick(list) return list[g:integer(1, #list)] end
  local parts, n = {}, 0
  while n < chars do
    local a, b, k = pick(names), pick(names), g:integer(0, 99)
    local kind, s = g:integer(1, 4)
    if kind == 1 then s = string.format("def %s_%d(%s, %s):\n    return %s %s %s\n\n", a, k, a, b, a, pick(ops), b)
    elseif kind == 2 then s = string.format("for %s in range(%d):\n    %s = %s %s %s\n", a, k, b, b, pick(ops), a)
    elseif kind == 3 then s = string.format("if %s > %d:\n    %s = %s %s %d\nelse:\n    %s = %d\n", a, k, b, a, pick(ops), k % 10, b, k)
    else s = string.format("%s = [%s * %d for %s in %s]\n", b, a, k % 7, a, b) end
    parts[#parts + 1] = s
    n = n + #s
  end
  return table.concat(parts)
end

--- Token ids as nanoGPT's .bin format (little-endian uint16), which darwin.data.tokens reads.
local function write_bin(path, text)
  local parts = {}
  for i = 1, #text do parts[i] = string.pack("<I2", text:byte(i)) end
  darwin.write_file(path, table.concat(parts))
end

local function byte_ids(text)
  local t = {}
  for i = 1, #text do t[i] = text:byte(i) end
  return tensor(t)
end
local train_text, eval_text = corpus(o.seed, 120000), corpus(o.seed + 1000, 12000)
local train_tokens = byte_ids(train_text)
local eval = darwin.data.sequences(byte_ids(eval_text), nil, {seqlen = seqlen, count = 16, mode = "sequential"})

-- 1. A small model (vocabulary = bytes), trained with AdamW and a cosine schedule.
local model = darwin.random_model({vocab = 256, hidden = 96, layers = 4, heads = 6, kv_heads = 2, intermediate = 256, std = 0.02, seed = o.seed})
local trainer = darwin.trainer(model, {lr = 3e-3, warmup = 20, total_steps = o.steps, clip = 1.0})
for step = 1, o.steps do
  local loss = trainer:step(darwin.data.sequences(train_tokens, nil, {seqlen = seqlen, count = batch, seed = step}))
  if step == 1 or step % 100 == 0 then print(string.format("train step %4d  loss %.3f", step, loss)) end
end
print(string.format("trained %d parameters in %.1f s; held-out perplexity %.3f", model:parameters(), darwin.clock() - t0, model:perplexity(eval)))

if o.save then
  darwin.mkdir(o.save)
  model:save(o.save .. "/model")
  write_bin(o.save .. "/train.bin", train_text)
  write_bin(o.save .. "/eval.bin", eval_text)
  print("saved the trained model and its data in " .. o.save)
end

-- 2.-3. The compression database (8 equal steps per kind) and the search from uniform pruning at the target level
-- (the same size): search.run, the scripts' shared strategy, on the data made above.
local workdir = os.tmpname(); os.remove(workdir)
local s = search.defaults()
s.model, s.data, s.output, s.seed, s.level, s.levels, s.seqlen = "(trained above)", "(generated above)", workdir, o.seed, o.level, 8, seqlen
s.generations, s.offspring, s.topk, s.batch_size, s.lr = o.generations, o.offspring, 32, batch, 1e-3
s.inputs = {model = model, tokens = train_tokens, eval = eval,
            calibration = darwin.data.sequences(train_tokens, nil, {seqlen = seqlen, count = 16, seed = 1})}
s.pieces = pieces
pieces.schedule = pieces.schedule or {{survivors = 2, tokens = 1024, train_tokens = 1024}, {survivors = 1, tokens = 2048, train_tokens = 2048}}
local searched = search.run(s, {evaluate = false, quiet_database = true})
local db, uniform, best = searched.db, searched.uniform, searched.best

-- 4. Same post-training for both pruned models, then compare.
local function post_train(g)
  local m = model:clone()
  m:apply(db, g)
  local t = darwin.trainer(m, {lr = 1e-3})
  for step = 1, o.post_train_steps do t:step(darwin.data.sequences(train_tokens, nil, {seqlen = seqlen, count = batch, seed = 10000 + step})) end
  return m
end
local rows = {
  {"dense", model, nil},
  {"uniform", post_train(uniform), uniform},
  {"searched", post_train(best), best},
}
print("")
for _, r in ipairs(rows) do
  print(string.format("%-9s %8d parameters  held-out perplexity %7.3f  %s", r[1], r[2]:parameters(), r[2]:perplexity(eval),
    r[3] and genome.format(r[3]) or ""))
end
print(string.format("total %.1f s", darwin.clock() - t0))
darwin.remove(workdir)
