--- contracts: the pieces of the search a user replaces, loaded from the command line and checked at the boundary.
-- Each piece has a contract (docs/search.md); `contracts.<piece>(value, origin)` accepts the forms the contract
-- allows and returns a checked version whose errors name the contract, the user's piece (`origin`) and what
-- was wrong:
--   mutation   function(parent, ctx) -> child genome (the parent is left unchanged)
--   fitness    {prepare(ctx, ids) -> batch, score(model, batch) -> finite number, lower is better}, or a plain
--              score function (it gets the KL's batch: ids, batch_size, dense targets)
--   selection  function(candidates, ctx) -> best genome [, stage records {candidates =, scores = {...}, ...}]
--   finetune   function(model, ids, ctx) -> trainer or nil
--   schedule   a list of stages {survivors =, tokens =, train_tokens =} (see the schedule module)
-- A module may also return a table holding the function under the piece's name (`{mutate = f}`, `{score = f}`,
-- `{select = f}`, `{finetune = f}`, `{schedule = list}`).
local genome = require("genome")
local fitness = require("fitness")
local schedule = require("schedule")
local contracts = {}

--- Loads the piece named `spec` for option `--option`: a path to a .lua file (run, its return value is the piece) or
-- a module name on package.path (required). Errors name the option and the file.
function contracts.load(spec, option)
  local ok, piece
  if spec:match("%.lua$") or spec:find("/", 1, true) then
    local chunk, err = loadfile(spec)
    if not chunk then error(string.format("--%s %s: cannot load it: %s", option, spec, err), 0) end
    ok, piece = pcall(chunk)
  else
    ok, piece = pcall(require, spec)
  end
  if not ok then error(string.format("--%s %s: running it failed: %s", option, spec, tostring(piece)), 0) end
  if piece == nil or piece == true then
    error(string.format("--%s %s: the module returned nothing; it must return its %s", option, spec, option), 0)
  end
  return piece
end

--- The function of a piece given as a function or as a table holding it under `field` (or a callable table).
local function function_of(piece, field, contract, origin)
  if type(piece) == "function" then return piece end
  if type(piece) == "table" then
    if type(piece[field]) == "function" then return piece[field] end
    local mt = getmetatable(piece)
    if mt and type(mt.__call) == "function" then return function(...) return piece(...) end end
  end
  error(string.format("%s contract (%s): expected a function or a table with a function '%s', got %s", contract, origin, field,
    type(piece) == "table" and "a table without it" or type(piece)), 0)
end

--- Checks that `v` is a finite number.
local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

--- A checked mutation operator.
function contracts.mutation(piece, origin)
  local mutate = function_of(piece, "mutate", "mutation", origin)
  return function(parent, ctx)
    local before = genome.key(parent)
    local child = mutate(parent, ctx)
    if genome.key(parent) ~= before then
      error(string.format("mutation contract (%s): the operator changed its parent in place; change a copy (genome.copy(parent))", origin), 0)
    end
    return genome.validate(child, ctx.db, "mutation contract (" .. origin .. ")")
  end
end

--- A checked fitness object {name, prepare, score}.
function contracts.fitness(piece, origin)
  local prepare, score
  if type(piece) == "table" and type(piece.score) == "function" then
    prepare, score = piece.prepare or fitness.default_prepare, piece.score
    if type(prepare) ~= "function" then
      error(string.format("fitness contract (%s): 'prepare' must be a function(ctx, ids) -> batch, got %s", origin, type(prepare)), 0)
    end
  else
    prepare, score = fitness.default_prepare, function_of(piece, "score", "fitness", origin)
  end
  return fitness.object(origin, function(ctx, ids)
    local batch = prepare(ctx, ids)
    if batch == nil then error(string.format("fitness contract (%s): prepare returned nil (expected the batch that score receives)", origin), 0) end
    return batch
  end, function(model, batch)
    local s = score(model, batch)
    if not finite(s) then
      error(string.format("fitness contract (%s): score returned %s, expected a finite number (lower is better)", origin, tostring(s)), 0)
    end
    return s
  end)
end

--- A checked selection: returns the best genome and stage records (an empty list when the piece gives none).
function contracts.selection(piece, origin)
  local select = function_of(piece, "select", "selection", origin)
  return function(candidates, ctx)
    local best, stages = select(candidates, ctx)
    genome.validate(best, ctx.db, "selection contract (" .. origin .. ")")
    if stages == nil then return best, {} end
    if type(stages) ~= "table" then
      error(string.format("selection contract (%s): the second result must be a list of stage records, got %s", origin, type(stages)), 0)
    end
    for s, record in ipairs(stages) do
      if type(record) ~= "table" or type(record.scores) ~= "table" then
        error(string.format("selection contract (%s): stage record %d must be a table with a list 'scores' (best first)", origin, s), 0)
      end
      for i, v in ipairs(record.scores) do
        if not finite(v) then error(string.format("selection contract (%s): stage %d score %d is %s, expected a finite number", origin, s, i, tostring(v)), 0) end
      end
    end
    return best, stages
  end
end

--- A checked fine-tuning function: its result must be nil or a trainer (anything with a close method).
function contracts.finetune(piece, origin)
  local finetune = function_of(piece, "finetune", "finetune", origin)
  return function(model, ids, ctx)
    local trainer = finetune(model, ids, ctx)
    local closable = trainer == nil or ((type(trainer) == "userdata" or type(trainer) == "table") and trainer.close ~= nil)
    if not closable then
      error(string.format("finetune contract (%s): returned %s, expected nil or a trainer (it is closed after scoring)", origin, tostring(trainer)), 0)
    end
    return trainer
  end
end

--- A checked whole strategy for compare.lua: a function(ctx) -> pruned model [, tokens trained], or a table
-- {name =, run = function}. Returns {name, run}, `run` checking that a model comes back.
function contracts.strategy(piece, origin)
  local run = function_of(piece, "run", "strategy", origin)
  local name = type(piece) == "table" and type(piece.name) == "string" and piece.name or origin:match("([^/]+)%.lua$") or origin
  return {name = name, run = function(ctx)
    local model, tokens = run(ctx)
    local mt = getmetatable(model)
    if type(model) ~= "userdata" or type(mt) ~= "table" or rawget(mt, "__name") ~= "darwin.Model" then
      error(string.format("strategy contract (%s): returned %s, expected the pruned model (a darwin.Model)", origin, tostring(model)), 0)
    end
    if tokens ~= nil and math.type(tokens) ~= "integer" then
      error(string.format("strategy contract (%s): the second result (tokens trained) must be an integer, got %s", origin, tostring(tokens)), 0)
    end
    return model, tokens
  end}
end

--- A checked schedule: a list of stages, a table holding one under 'schedule', or a function(options) returning one.
function contracts.schedule(piece, origin, options)
  if type(piece) == "table" and piece.schedule ~= nil then piece = piece.schedule end
  if type(piece) == "function" then piece = piece(options or {}) end
  return schedule.validate(piece, origin)
end

return contracts
