-- Peak resident memory of a DarwinLM search against its working set (issue: the host's collector must see what
-- objects hold). Run: darwinhost bench/search_memory.lua [generations]  (darwin-bench search runs it too)
-- Uses ../shared/models/darwin-pycode-16m when present, else random weights of its shape and random ids.
local genome = require("genome")
local evolution = require("evolution")
local pipeline = require("pipeline")
local generations = tonumber(arg and arg[1]) or 10
local recompute = ({["true"] = true, ["false"] = false})[arg and arg[2] or "auto"]
local shared = "../shared/models/darwin-pycode-16m"
local model, tokens
if darwin.exists(shared .. "/config.json") then
  model = darwin.load(shared)
  tokens = darwin.data.tokens(shared .. "/data/calib.txt.gz", darwin.tokenizer(shared))
else
  model = darwin.random_model{vocab = 8192, hidden = 384, layers = 8, heads = 12, kv_heads = 4, intermediate = 1024, head_dim = 32}
  local g, ids = darwin.generator(1), {}
  for i = 1, 200000 do ids[i] = g:integer(0, 8191) end
  tokens = tensor(ids)
end
local seqlen, batch = 256, 4
local dbpath = os.tmpname(); os.remove(dbpath)
local calib = darwin.data.sequences(tokens, nil, {seqlen = seqlen, count = 16, seed = 0})
local db = darwin.database.build(model, calib, {path = dbpath, levels = 10, quiet = true})
local level = pipeline.target_level(model, 4, 10, true)
local parent = genome.uniform(db:blocks(), level, level)
local schedule = pipeline.selection_schedule(3, 8, 512, 512)

-- The working set: the dense model, the database index and the token pool as they are now, plus one candidate
-- (its weights, a trainer's copy and AdamW state) and the dense targets of the largest scoring stage.
collectgarbage(); collectgarbage()
darwin.reset_peak_memory()
local base = darwin.memory().resident_bytes
local candidate = model:clone(); candidate:apply(db, parent)
local candidate_bytes = 4 * candidate:parameters()
candidate:close()
local largest = darwin.data.sequences(tokens, nil, {seqlen = seqlen, count = schedule[#schedule].tokens // seqlen, seed = 1})
local targets = model:targets(largest, {topk = 64, batch_size = batch})
local target_bytes = (#largest:totable() * seqlen) * 64 * 8
targets:close()
local working_set = base + 3 * candidate_bytes + target_bytes

local t0 = darwin.clock()
evolution.run{
  model = model, db = db, parent = parent, fitness_tokens = tokens, seqlen = seqlen, generations = generations, offspring = 8,
  schedule = schedule, seed = 0, topk = 64, batch_size = batch, train_options = {lr = 1e-4, recompute = recompute}, quiet = true,
}
local peak = darwin.memory().peak_resident_bytes
darwin.remove(dbpath)
print(string.format("search (recompute %s): %d generations in %.0f s; peak RSS %.0f MiB, working set %.0f MiB (dense model, database index and data %.0f MiB + one trained candidate %.0f MiB + targets %.0f MiB): ratio %.2f",
  tostring(arg and arg[2] or "auto"), generations, darwin.clock() - t0, peak / 2^20, working_set / 2^20, base / 2^20, 3 * candidate_bytes / 2^20, target_bytes / 2^20, peak / working_set))
