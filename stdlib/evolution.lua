--- evolution: DarwinLM's elitist evolutionary search over genomes, with state saved every generation.
-- Every algorithmic choice is a replaceable function in the options: mutate, fitness, select.
local genome = require("genome")
local mutation = require("mutation")
local fitness = require("fitness")
local selection = require("selection")
local finetune = require("finetune")
local schedule = require("schedule")
local contracts = require("contracts")
local json = require("json")
local distributed = require("distributed")
local evolution = {}

--- Default selection schedule (schedule.default()).
evolution.default_schedule = schedule.default()

local function read_file(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Refuses to resume a search saved with other settings: every key of `wanted` must have the saved value.
function evolution.check_settings(saved, wanted, path)
  local keys = {}
  for k in pairs(wanted) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if saved[k] ~= wanted[k] then
      error(string.format("cannot resume %s: it was saved by a search with %s = %s, this run asks for %s (use another output directory, or --overwrite to start again)",
        path, k, tostring(saved[k]), tostring(wanted[k])), 0)
    end
  end
end

--- Runs the search. Options:
--   model (dense darwin.Model), db (darwin.Database), parent (initial genome),
--   fitness_tokens / train_tokens (1-d tensors of token ids to draw sequences from), seqlen,
--   generations (10), offspring (8), schedule (evolution.default_schedule), seed (0),
--   mutate (mutation.level_switch), fitness (fitness.kl, or a plain score function), select (selection.multistage),
--   finetune (finetune.adamw), origins (names of the pieces for error messages: {mutate =, fitness =, select =,
--   finetune =, schedule =}; defaults "option mutate", ...), topk (nil: full KL),
--   batch_size (darwin.defaults.batch_size), train_options (darwin.trainer options), state (path of the JSON state file),
--   log (path of the JSONL log), resume (continue from `state`), overwrite (start again over a saved state),
--   settings (a table of the values that define the search: saved in the state, and a resume with different
--   values is refused), evaluate (function(model) -> number, logged every `evaluate_every` generations), quiet.
-- Returns the best genome and the log records.
function evolution.run(o)
  assert(o.model and o.db and o.parent and o.fitness_tokens and o.seqlen, "evolution.run needs model, db, parent, fitness_tokens and seqlen")
  -- Every piece is checked at the boundary (contracts): a user's piece that breaks its contract stops the search
  -- with an error naming the piece and what was wrong.
  local origins = o.origins or {}
  local function origin(piece, given) return origins[piece] or (given and "option " .. piece or "stock " .. piece) end
  local ctx = {
    model = o.model, dense = o.model, db = o.db,
    schedule = contracts.schedule(o.schedule or schedule.default(), origin("schedule", o.schedule)),
    fitness = contracts.fitness(o.fitness or fitness.kl, origin("fitness", o.fitness)),
    finetune = contracts.finetune(o.finetune or finetune.adamw, origin("finetune", o.finetune)),
    topk = o.topk, batch_size = o.batch_size or darwin.defaults.batch_size, train_options = o.train_options, rng = darwin.generator(o.seed or 0),
  }
  local mutate = contracts.mutation(o.mutate or mutation.level_switch, origin("mutate", o.mutate))
  local select = contracts.selection(o.select or selection.multistage, origin("select", o.select))
  local pools = {fitness = o.fitness_tokens, train = o.train_tokens or o.fitness_tokens}
  function ctx.sample(which, tokens)
    local count = math.max(1, tokens // o.seqlen)
    return darwin.data.sequences(pools[which], nil, {seqlen = o.seqlen, count = count, seed = ctx.rng:integer(0, 2147483647)})
  end
  local state = {generation = 0, parent = genome.validate(genome.copy(o.parent), o.db, "the initial parent"), log = {},
                 settings = o.settings}
  local saved = o.state and read_file(o.state)
  if saved and not saved:find("%S") then
    -- An empty file (os.tmpname's) holds no search. A search writes its state whole (write then rename), so asked to
    -- resume from one, something else made it: say so rather than start again from scratch.
    if o.resume then
      error(string.format("%s is empty: it holds no saved search to resume (a search writes its state whole); remove it, or run without --resume", o.state), 0)
    end
    saved = nil
  end
  if saved and not o.resume and not o.overwrite then
    error(string.format("%s holds a saved search: resume it (--resume) or start again over it (--overwrite)", o.state), 0)
  end
  if o.resume and saved then
    state = json.decode(saved)
    evolution.check_settings(state.settings or {}, o.settings or {}, o.state)
    ctx.rng:set_state(state.rng)
    if not o.quiet then print(string.format("resuming at generation %d from %s", state.generation + 1, o.state)) end
  end
  -- The size budget: the initial parent's parameters. Level steps of a kind remove equal parameters except into
  -- or out of full removal (a unit's KV head and output biases go with its last structure), so offspring above
  -- the budget are discarded rather than allowed to grow the model.
  state.budget = state.budget or o.db:params(state.parent)
  local start = darwin.clock() - (state.elapsed or 0)
  for generation = state.generation + 1, o.generations or 10 do
    ctx.parent = state.parent
    local seen, offspring = {[genome.key(state.parent)] = true}, {}
    for _ = 1, 20 * (o.offspring or 8) do
      if #offspring >= (o.offspring or 8) then break end
      local child = mutate(state.parent, ctx)
      if not seen[genome.key(child)] and o.db:params(child) <= state.budget then offspring[#offspring + 1] = child end
      seen[genome.key(child)] = true
    end
    -- A live line over the generation's candidate evaluations (the stock selection steps it; see selection.lua).
    ctx.progress = not o.quiet and darwin.progress(string.format("generation %d", generation), evolution.evaluations(ctx.schedule, #offspring, ctx.parent ~= nil), {unit = "candidates"}) or nil
    local best, stages = select(offspring, ctx)
    if ctx.progress then ctx.progress:clear(); ctx.progress = nil end
    state.parent = best
    local record = {generation = generation, genome = best, params = o.db:params(best), stages = stages,
                    elapsed = darwin.clock() - start, offspring = #offspring}
    if o.evaluate and generation % (o.evaluate_every or 1) == 0 then
      local m = o.model:clone(); m:apply(o.db, best); record.evaluation = o.evaluate(m); m:close()
    end
    state.log[#state.log + 1] = record
    state.generation, state.rng, state.elapsed = generation, ctx.rng:state(), record.elapsed
    -- Every rank holds the same state; rank 0 writes it.
    if o.state and distributed.writer() then darwin.write_file(o.state, json.encode(state)) end
    if o.log and distributed.writer() then
      local lines = {}
      for i, r in ipairs(state.log) do lines[i] = json.encode(r) end
      darwin.write_file(o.log, table.concat(lines, "\n") .. "\n")
    end
    if not o.quiet then
      local last = stages[#stages]
      local score = last and last.scores[1]
      print(string.format("generation %3d  fitness %s  %s%s  %.1f s", generation, score and string.format("%.5f", score) or "-", genome.format(best),
        record.evaluation and string.format("  eval %.4f", record.evaluation) or "", record.elapsed))
    end
  end
  return state.parent, state.log
end

--- The candidate evaluations of a multi-stage selection of `n` offspring under `schedule` ({survivors =} per stage),
-- the parent joining the last stage when `elitist`: the total of a generation's progress line.
function evolution.evaluations(schedule, n, elitist)
  local total, pool = 0, n
  for s, stage in ipairs(schedule or {}) do
    if s == #schedule and elitist then pool = pool + 1 end
    total = total + pool
    pool = math.min(pool, stage.survivors or pool)
  end
  return total > 0 and total or n
end

return evolution
