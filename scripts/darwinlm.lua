-- darwinlm: DarwinLM's pipeline on a Hugging Face checkpoint: compression database, training-aware evolutionary
-- search at a fixed size, post-training, evaluation and export. `--train-tokens 0` gives EvoPress's search.
local cli = require("cli")
local pipeline = require("pipeline")
local genome = require("genome")
local evolution = require("evolution")
local json = require("json")
local plot = require("plot")

local spec = {
  name = "scripts/darwinlm.lua",
  about = "Training-aware evolutionary structured pruning (DarwinLM) of a Llama/Mistral/Qwen2 checkpoint.\n" ..
    "Every piece of the search can be replaced: --mutation, --fitness, --selection, --finetune and --schedule take a\n" ..
    "module name or a .lua file (contracts: docs/search.md).",
  options = cli.with({
    {"model", "string", nil, "Hugging Face checkpoint directory", "required"},
    {"data", "string", nil, "calibration / training text (.txt, .jsonl, .npy, .bin, optionally .gz)", "required"},
    {"eval_data", "string", nil, "held-out evaluation data (default: --data)"},
    {"tokenizer", "string", nil, "tokenizer.json or its directory (default: --model)"},
    {"output", "string", "darwinlm-out", "output directory (database, state, log, pruned model)"},
    {"level", "integer", 3, "target level of every unit: the searched model has the size of uniform pruning at this level"},
    {"levels", "integer", 10, "compression steps per kind in the database"},
    {"seqlen", "integer", 256, "sequence length"},
    {"calibration_sequences", "integer", 16, "sequences for the database's Hessians"},
    {"generations", "integer", 10, "generations"},
    {"offspring", "integer", 8, "offspring per generation"},
    {"fitness_tokens", "integers", {1024}, "scoring tokens: of the first stage (doubling each stage), or a list, one per stage"},
    {"train_tokens", "integers", {2048}, "fine-tuning tokens: of the first stage (doubling), or one per stage (0 = EvoPress)"},
    {"stages", "integer", 3, "selection stages (survivors halve each stage, ending at 1)"},
    {"topk", "integer", 64, "top-k dense targets for the KL fitness (0 = full distributions)"},
    {"lr", "number", 1e-4, "fine-tuning learning rate in selection and post-training"},
    {"post_train_tokens", "integer", 16384, "post-training tokens for the final model (0 = none)"},
    {"eval_sequences", "integer", 8, "held-out sequences for perplexity"},
    {"batch_size", "integer", 4, "batch size for scoring and training"},
    {"seed", "integer", 0, "random seed"},
    {"resume", "boolean", false, "continue an interrupted search from OUTPUT/state.json"},
    {"overwrite", "boolean", false, "start again over a search saved in OUTPUT/state.json"},
    {"threads", "integer", nil, "threads (default: all cores)"},
  }, cli.with(cli.search_pieces, cli.level_lists)),
}
local o = cli.parse(spec, arg)
-- The pieces (user modules where given) are loaded and the schedule checked before any long work.
local pieces = pipeline.search_pieces(o)
if o.threads then darwin.set_threads(o.threads) end
-- The output directory is this run's: a second run on it stops here with the holder's pid.
local output_lock = darwin.lock(o.output)
local t0 = darwin.clock()

local inputs = pipeline.inputs(o)
local model, tokens, calib, eval = inputs.model, inputs.tokens, inputs.calibration, inputs.eval
print(string.format("model %s: %d parameters", o.model, model:parameters()))

local build_levels, lists = pipeline.database_levels(model, o)
local level = pipeline.target_level(model, o.level, o.levels, false, lists)
build_levels.path = o.output .. "/database"
local db = darwin.database.build(model, calib, build_levels)
local uniform = genome.uniform(db:blocks(), level, level)

local schedule = pieces.schedule

local function perplexity(m) return m:perplexity(eval, {batch_size = o.batch_size}) end
local best, log = evolution.run({
  model = model, db = db, parent = uniform, fitness_tokens = tokens, seqlen = o.seqlen, generations = o.generations,
  offspring = o.offspring, schedule = schedule, seed = o.seed, topk = o.topk > 0 and o.topk or nil, batch_size = o.batch_size,
  mutate = pieces.mutate, fitness = pieces.fitness, select = pieces.select, finetune = pieces.finetune, origins = pieces.origins,
  train_options = {lr = o.lr}, state = o.output .. "/state.json", log = o.output .. "/log.jsonl", resume = o.resume,
  overwrite = o.overwrite, settings = {
    model = o.model, data = o.data, level = o.level, levels = o.levels, attention_levels = lists and table.concat(lists.attention_levels, ","),
    mlp_levels = lists and table.concat(lists.mlp_levels, ","), seqlen = o.seqlen, offspring = o.offspring, seed = o.seed,
    schedule = json.encode(schedule), topk = o.topk, lr = o.lr, batch_size = o.batch_size, mutation = o.mutation,
    fitness = o.fitness, selection = o.selection, finetune = o.finetune,
  },
  evaluate = perplexity, evaluate_every = math.max(1, o.generations // 4),
})

-- Post-training: the searched model and, for a fair comparison, the uniform baseline get the same tokens.
local function post_train(m)
  pipeline.post_train(m, tokens, o.post_train_tokens, {seqlen = o.seqlen, batch_size = o.batch_size, lr = o.lr, seed = o.seed + 1})
  return m
end
local pruned = model:clone()
pruned:apply(db, best)
post_train(pruned)
local uniform_model = model:clone()
uniform_model:apply(db, uniform)
post_train(uniform_model)
local results = {
  dense = {params = model:parameters(), perplexity = perplexity(model)},
  uniform = {params = uniform_model:parameters(), perplexity = perplexity(uniform_model), genome = uniform, post_train_tokens = o.post_train_tokens},
  searched = {params = pruned:parameters(), perplexity = perplexity(pruned), genome = best, post_train_tokens = o.post_train_tokens},
  seconds = darwin.clock() - t0,
}
-- The selection fitness of each generation's winner (after its stage's fine-tuning), and the held-out perplexity
-- where it was evaluated.
local curves = {{name = "selection fitness", points = {}}, {name = "held-out perplexity", points = {}, dashed = true}}
for _, r in ipairs(log) do
  local last = r.stages[#r.stages]
  if last and last.scores[1] then table.insert(curves[1].points, {r.generation, last.scores[1]}) end
  if r.evaluation then table.insert(curves[2].points, {r.generation, r.evaluation}) end
end
if #curves[1].points > 0 then darwin.write_file(o.output .. "/fitness.svg", plot.svg({curves[1]}, {title = "Selection fitness over generations", xlabel = "generation", ylabel = "fitness of the winner"})) end
darwin.write_file(o.output .. "/fitness.csv", plot.csv(curves))
pruned:save(o.output .. "/model")                              -- per-block shapes, reloadable by darwinhost
pruned:save(o.output .. "/model-padded", {padded = true})       -- dense shapes with zeros, loadable by transformers
darwin.write_file(o.output .. "/config.txt", genome.to_reference_text(best))
darwin.write_file(o.output .. "/results.json", json.encode(results))
for _, name in ipairs({"dense", "uniform", "searched"}) do
  print(string.format("%-9s %10d parameters  perplexity %.4f", name, results[name].params, results[name].perplexity))
end
print(string.format("done in %.1f s; pruned model in %s/model (transformers: %s/model-padded), configuration in %s/config.txt",
  results.seconds, o.output, o.output, o.output))
