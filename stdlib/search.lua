--- search: one evolutionary search (DarwinLM, or EvoPress with no fine-tuning) from a table of options, as the scripts
-- run it: inputs, database, target, the replaceable pieces, and evolution.run with its state, log and resume checks.
-- `search.options` is the command-line option list the search scripts share (cli entries).
local cli = require("cli")
local pipeline = require("pipeline")
local genome = require("genome")
local evolution = require("evolution")
local json = require("json")
local search = {}

--- The options of a search (cli spec entries), the replaceable pieces and the database level lists included.
search.options = cli.with(cli.input_options, cli.with({
  {"output", "string", "darwinlm-out", "output directory (database, state, log, pruned model)"},
  {"level", "number", 3, "target: uniform pruning at this level (the searched model's size), or a fraction of parameters to remove (e.g. 0.5)"},
  {"levels", "integer", 10, "compression steps per kind in the database"},
  {"seqlen", "integer", 256, "sequence length"},
  {"calibration_sequences", "integer", 16, "sequences for the database's Hessians"},
  {"generations", "integer", 10, "generations"},
  {"offspring", "integer", 8, "offspring per generation"},
  {"fitness_tokens", "integers", {1024}, "scoring tokens: of the first stage (doubling each stage), or a list, one per stage"},
  {"train_tokens", "integers", {2048}, "fine-tuning tokens: of the first stage (doubling), or one per stage (0 = EvoPress)"},
  {"stages", "integer", 3, "selection stages (survivors halve each stage, ending at 1)"},
  {"topk", "integer", 64, "top-k dense targets for the KL fitness (0 = full distributions)"},
  {"lr", "number", darwin.defaults.lr, "fine-tuning learning rate in selection and post-training"},
  {"eval_sequences", "integer", 8, "held-out sequences for perplexity"},
  {"batch_size", "integer", darwin.defaults.batch_size, "batch size for scoring and training"},
  {"seed", "integer", 0, "random seed"},
  {"resume", "boolean", false, "continue an interrupted search from OUTPUT/state.json"},
  {"overwrite", "boolean", false, "start again over a search saved in OUTPUT/state.json"},
  {"threads", "integer", nil, "threads (default: all cores)"},
}, cli.with(cli.search_pieces, cli.level_lists)))

--- The defaults of search.options as a table (start from it to call search.run from Lua).
function search.defaults()
  local o = {}
  for _, entry in ipairs(search.options) do
    o[entry[1]] = type(entry[3]) == "table" and {table.unpack(entry[3])} or entry[3]
  end
  return o
end

--- Runs a search with options `o` (search.options' names; see search.defaults; `o.pieces` may hold what
-- pipeline.search_pieces(o) returned, `o.inputs` what pipeline.inputs(o) returned). The pieces are loaded and checked
-- before any long work; the database goes to OUTPUT/database, the state and log to OUTPUT/state.json and log.jsonl.
-- `o.db` may be a database already built for these levels (compare.lua shares one between strategies).
-- `extra` adds evolution.run options (evaluate, quiet, ...; quiet_database and quiet_target silence only the
-- database build and the target line). Returns {model, db, inputs, level, uniform, best, log,
-- schedule, evaluate}.
function search.run(o, extra)
  local pieces = o.pieces or pipeline.search_pieces(o)
  local inputs = o.inputs or pipeline.inputs(o)
  local model = inputs.model
  if not (extra and (extra.quiet or extra.quiet_target)) then print(string.format("model %s: %d parameters", o.model, model:parameters())) end
  local build_levels, lists = pipeline.database_levels(model, o)
  local level = pipeline.target_level(model, o.level, o.levels, extra and (extra.quiet or extra.quiet_target), lists)
  build_levels.path, build_levels.quiet = o.output .. "/database", extra and (extra.quiet or extra.quiet_database)
  local db = o.db or pipeline.build_database(model, inputs.calibration, build_levels)
  local uniform = genome.at_level(db, level)
  local function evaluate(m) return m:perplexity(inputs.eval, {batch_size = o.batch_size}) end
  local run = {
    model = model, db = db, parent = uniform, fitness_tokens = inputs.tokens, seqlen = o.seqlen, generations = o.generations,
    offspring = o.offspring, schedule = pieces.schedule, seed = o.seed, topk = o.topk > 0 and o.topk or nil, batch_size = o.batch_size,
    mutate = pieces.mutate, fitness = pieces.fitness, select = pieces.select, finetune = pieces.finetune, origins = pieces.origins,
    train_options = {lr = o.lr}, state = o.output .. "/state.json", log = o.output .. "/log.jsonl", resume = o.resume,
    overwrite = o.overwrite, settings = {
      model = o.model, data = o.data, level = o.level, levels = o.levels, attention_levels = lists and table.concat(lists.attention_levels, ","),
      mlp_levels = lists and table.concat(lists.mlp_levels, ","), seqlen = o.seqlen, offspring = o.offspring, seed = o.seed,
      schedule = json.encode(pieces.schedule), topk = o.topk, lr = o.lr, batch_size = o.batch_size, mutation = o.mutation,
      fitness = o.fitness, selection = o.selection, finetune = o.finetune,
    },
    evaluate = evaluate, evaluate_every = math.max(1, o.generations // 4),
  }
  for k, v in pairs(extra or {}) do run[k] = v end
  local best, log = evolution.run(run)
  return {model = model, db = db, inputs = inputs, level = level, uniform = uniform, best = best, log = log,
          schedule = pieces.schedule, evaluate = evaluate}
end

return search
