-- compare: uniform pruning, EvoPress, DarwinLM and Adapt-Pruner at the same target size and post-training token
-- budget on one model and dataset. Writes OUTPUT/results.md (a Markdown table), results.json, and the fitness over
-- the generations as fitness.svg and fitness.csv: for each search, the held-out KL of the generation's best genome
-- (stitched, before any training) and its selection fitness (the KL it won with: after the stage's fine-tuning for
-- DarwinLM, on that generation's sampled tokens); for Adapt-Pruner, the held-out KL after each step's training.
local cli = require("cli")
local pipeline = require("pipeline")
local genome = require("genome")
local adapt = require("adapt_pruner")
local plot = require("plot")
local json = require("json")
local search = require("search")
local contracts = require("contracts")
local zeroshot = require("eval")  -- `eval` below is the held-out data

pipeline.single_process("scripts/compare.lua")
local o = cli.parse({
  name = "scripts/compare.lua",
  about = "Compare uniform, EvoPress, DarwinLM and Adapt-Pruner (and a strategy of your own) at one target size and token budget.",
  -- The searches' options (search.options) with the comparison's defaults, and the comparison's own.
  options = cli.with(cli.with(cli.adjust(search.options, {"train_tokens"}, {
    output = "compare-out", level = 4, levels = 8, generations = 8, stages = 2,
  }), {
    {"strategies", "string", "uniform,evopress,darwinlm,adapt_pruner", "comma-separated strategies to run"},
    {"strategy", "string", nil, "a strategy of your own beside them: module or .lua file returning function(ctx) -> pruned model (docs/search.md)"},
    {"search_train_tokens", "integers", {1024}, "DarwinLM's fine-tuning tokens: of the first selection stage (doubling), or one per stage"},
    {"post_train_tokens", "integer", 8192, "the token budget: post-training (uniform, EvoPress, DarwinLM) or interleaved training (Adapt-Pruner)"},
    {"adapt_fraction", "number", 0.05, "Adapt-Pruner: part of the target removed per step"},
    {"adapt_amplitude", "number", 0.02, "Adapt-Pruner: largest per-layer deviation from the step's sparsity"},
  }), cli.task_options),
}, arg)
-- User pieces (used by both searches) and a user strategy are loaded before any long work.
local pieces = pipeline.user_pieces(o)
if pieces.schedule then pieces.schedule = contracts.schedule(pieces.schedule, o.schedule, o) end
local user_strategy = o.strategy and contracts.strategy(contracts.load(o.strategy, "strategy"), o.strategy)
local tasks = pipeline.tasks(o)
if o.threads then darwin.set_threads(o.threads) end
-- The output directory is this run's: a second run on it stops here with the holder's pid.
local output_lock = darwin.lock(o.output)
local inputs = pipeline.inputs(o)
local dense, eval = inputs.model, inputs.eval
local eval_targets = dense:targets(eval, {batch_size = o.batch_size})
local function kl(m) return m:kl(eval, eval_targets, {batch_size = o.batch_size}) end
local train = {seqlen = o.seqlen, batch_size = o.batch_size, lr = o.lr, seed = o.seed + 1}

local t0 = darwin.clock()
local build_levels, lists = pipeline.database_levels(dense, o)
local level = pipeline.target_level(dense, o.level, o.levels, false, lists)
build_levels.path = o.output .. "/database"
local db = darwin.database.build(dense, inputs.calibration, build_levels)
local db_seconds = darwin.clock() - t0
local uniform = genome.uniform(db:blocks(), level, level)
local target_params = dense:clone(); target_params:apply(db, uniform); target_params = target_params:parameters()

local results, curves = {}, {}

--- One row of the table: evaluates `m` and records how it was made.
local function record(name, m, seconds, tokens_trained, extra)
  local row = {strategy = name, params = m:parameters(), perplexity = m:perplexity(eval, {batch_size = o.batch_size}),
               kl = kl(m), seconds = seconds, tokens_trained = tokens_trained,
               accuracy = pipeline.accuracy(m, inputs.tokenizer, tasks, o, name)}
  for k, v in pairs(extra or {}) do row[k] = v end
  results[#results + 1] = row
  print(string.format("%-13s %9d parameters  perplexity %.4f  KL %.4f  %.1f s  %d tokens trained", name, row.params, row.perplexity, row.kl, seconds, tokens_trained))
end

local colors = {EvoPress = "#1f77b4", DarwinLM = "#d62728", ["Adapt-Pruner"] = "#2ca02c"}

local function run_search(name, train_tokens)
  local start = darwin.clock()
  local curve = {{0, kl((function() local m = dense:clone(); m:apply(db, uniform); return m end)())}}
  -- The scripts' shared search on this comparison's database and inputs, with its own state and log per strategy.
  local run = {}
  for k, v in pairs(o) do run[k] = v end
  run.inputs, run.db, run.train_tokens = inputs, db, train_tokens
  run.pieces = {mutate = pieces.mutate, fitness = pieces.fitness, select = pieces.select, finetune = pieces.finetune,
                origins = pieces.origins, schedule = pieces.schedule or pipeline.schedule_from_options(o, train_tokens)}
  local result = search.run(run, {
    quiet_database = true, quiet_target = true, evaluate = kl, evaluate_every = 1,
    state = string.format("%s/%s-state.json", o.output, name), log = string.format("%s/%s-log.jsonl", o.output, name),
    settings = {model = o.model, data = o.data, level = o.level, levels = o.levels, seqlen = o.seqlen, offspring = o.offspring,
                seed = o.seed, stages = o.stages, fitness_tokens = table.concat(o.fitness_tokens, ","),
                train_tokens = table.concat(train_tokens, ","), topk = o.topk},
  })
  local best, log = result.best, result.log
  local selection = {}
  for _, r in ipairs(log) do
    curve[#curve + 1] = {r.generation, r.evaluation}
    local last = r.stages[#r.stages]
    if last and last.scores[1] then selection[#selection + 1] = {r.generation, last.scores[1]} end
  end
  curves[#curves + 1] = {name = name .. ": held-out KL (full)", points = curve, color = colors[name]}
  curves[#curves + 1] = {name = name .. ": selection fitness (top-k)", points = selection, dashed = true, color = colors[name]}
  local m = dense:clone()
  m:apply(db, best)
  local tokens = pipeline.search_train_tokens(log, o.seqlen) + pipeline.post_train(m, inputs.tokens, o.post_train_tokens, train)
  record(name, m, db_seconds + darwin.clock() - start, tokens, {genome = genome.format(best)})
end

local strategies = {
  uniform = function()
    local start = darwin.clock()
    local m = dense:clone()
    m:apply(db, uniform)
    local tokens = pipeline.post_train(m, inputs.tokens, o.post_train_tokens, train)
    record("uniform", m, db_seconds + darwin.clock() - start, tokens, {genome = genome.format(uniform)})
  end,
  evopress = function() run_search("EvoPress", {0}) end,
  darwinlm = function() run_search("DarwinLM", o.search_train_tokens) end,
  adapt_pruner = function()
    local start = darwin.clock()
    local removed = function(kind) local l = db:levels(kind); return l[level + 1] / l[#l] end
    local pruned, log = adapt.run({
      model = dense:clone(), target = {attention = removed("attention"), mlp = removed("mlp")}, target_params = target_params,
      importance_ids = inputs.calibration,
      gradient_ids = darwin.data.sequences(inputs.tokens, nil, {seqlen = 64, count = 32, seed = o.seed + 2}),
      train_ids = darwin.data.sequences(inputs.tokens, nil, {seqlen = o.seqlen, count = pipeline.rows_for(o.post_train_tokens, o.seqlen), seed = o.seed + 1}),
      fraction = o.adapt_fraction, amplitude = o.adapt_amplitude, batch_size = o.batch_size, train_options = {lr = o.lr},
      evaluate = kl, state = o.output .. "/adapt-pruner-state", resume = o.resume, overwrite = o.overwrite,
    })
    local curve, tokens = {}, 0
    for _, r in ipairs(log) do curve[#curve + 1] = {r.step, r.evaluation}; tokens = tokens + r.train_tokens end
    curves[#curves + 1] = {name = "Adapt-Pruner: held-out KL (full)", points = curve, color = colors["Adapt-Pruner"]}
    record("Adapt-Pruner", pruned, darwin.clock() - start, tokens,
      {genome = "heads " .. table.concat(adapt.counts(pruned, "attention"), " ") .. " | neurons " .. table.concat(adapt.counts(pruned, "mlp"), " ")})
  end,
}

if user_strategy then
  -- ctx: what a strategy needs to prune to the same target and be compared fairly.
  strategies[user_strategy.name] = function()
    local start = darwin.clock()
    local ctx = {dense = dense, db = db, inputs = inputs, level = level, uniform = uniform, target_params = target_params,
                 options = o, evaluate = kl, post_train = function(m) return pipeline.post_train(m, inputs.tokens, o.post_train_tokens, train) end}
    local m, tokens = user_strategy.run(ctx)
    record(user_strategy.name, m, darwin.clock() - start, tokens or 0)
  end
  o.strategies = o.strategies .. "," .. user_strategy.name
end

record("dense", dense, 0, 0)
for name in o.strategies:gmatch("[^,%s]+") do
  local run = strategies[name]
  if not run then error("unknown strategy '" .. name .. "' in --strategies (expected uniform, evopress, darwinlm, adapt_pruner)") end
  run()
end

-- The report.
-- With --tasks, each task's acc and acc_norm (and their means) follow the columns of perplexity and KL.
local function row(cells) return "| " .. table.concat(cells, " | ") .. " |" end
local function append(list, more) return table.move(more, 1, #more, #list + 1, list) end
local headers = {"strategy", "parameters", "held-out perplexity", "KL to dense", "wall time (s)", "tokens trained"}
if tasks then append(headers, (zeroshot.cells(results[1].accuracy))) end
local lines = {row(headers), "|---|" .. string.rep("---:|", #headers - 1)}
for _, r in ipairs(results) do
  local cells = {r.strategy, string.format("%d", r.params), string.format("%.4f", r.perplexity), string.format("%.4f", r.kl),
                 string.format("%.1f", r.seconds), string.format("%d", r.tokens_trained)}
  if tasks then append(cells, select(2, zeroshot.cells(r.accuracy))) end
  lines[#lines + 1] = row(cells)
end
lines[#lines + 1] = ""
lines[#lines + 1] = string.format("Target: uniform level %d of %d (%d parameters); database build %.1f s, included in the wall time of the " ..
  "database-based strategies; %d held-out sequences of %d tokens.", o.level, o.levels, target_params, db_seconds, o.eval_sequences, o.seqlen)
for _, r in ipairs(results) do
  if r.genome then lines[#lines + 1] = string.format("- %s: %s", r.strategy, r.genome) end
end
local report = table.concat(lines, "\n") .. "\n"
darwin.write_file(o.output .. "/results.md", report)
darwin.write_file(o.output .. "/results.json", json.encode({options = o, results = results, curves = curves, target_params = target_params}))
if #curves > 0 then
  darwin.write_file(o.output .. "/fitness.svg", plot.svg(curves, {title = "Fitness (KL to the dense model) over generations",
    xlabel = "generation (searches) / step (Adapt-Pruner)", ylabel = "KL divergence"}))
  darwin.write_file(o.output .. "/fitness.csv", plot.csv(curves))
end
print("")
io.write(report)
print(string.format("written: %s/results.md, results.json, fitness.svg, fitness.csv", o.output))
