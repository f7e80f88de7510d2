-- darwinlm: DarwinLM's pipeline on a Hugging Face checkpoint: compression database, training-aware evolutionary
-- search at a fixed size, post-training, evaluation and export. `--train-tokens 0` gives EvoPress's search.
local cli = require("cli")
local pipeline = require("pipeline")
local genome = require("genome")
local search = require("search")
local json = require("json")
local plot = require("plot")
local eval = require("eval")
local distributed = require("distributed")

local spec = {
  name = "scripts/darwinlm.lua",
  about = "Training-aware evolutionary structured pruning (DarwinLM) of a Llama/Mistral/Qwen2 checkpoint.\n" ..
    "Every piece of the search can be replaced: --mutation, --fitness, --selection, --finetune and --schedule take a\n" ..
    "module name or a .lua file (contracts: docs/search.md).",
  options = cli.with(search.options, cli.with({
    {"post_train_tokens", "integer", 16384, "post-training tokens for the final model (0 = none)"},
  }, cli.with(cli.export_options, cli.task_options))),
}
local o = cli.parse(spec, arg)
o.pieces = pipeline.search_pieces(o)  -- user pieces and task files are loaded and checked before anything else
local tasks = pipeline.tasks(o)
if o.threads then darwin.set_threads(o.threads) end
-- The output directory is this run's: a second run on it stops here with the holder's pid. In an MPI job rank 0
-- holds it and writes everything; the other ranks score their share of the candidates.
local output_lock = distributed.writer() and darwin.lock(o.output) or nil
local t0 = darwin.clock()

local result = search.run(o)
local model, db, best, log, uniform = result.model, result.db, result.best, result.log, result.uniform
local tokens, perplexity = result.inputs.tokens, result.evaluate

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
-- Post-training is data-parallel over the ranks of an MPI job; evaluation and the outputs are rank 0's.
if not distributed.writer() then return end
local results = {
  dense = {params = model:parameters(), perplexity = perplexity(model)},
  uniform = {params = uniform_model:parameters(), perplexity = perplexity(uniform_model), genome = uniform, post_train_tokens = o.post_train_tokens},
  searched = {params = pruned:parameters(), perplexity = perplexity(pruned), genome = best, post_train_tokens = o.post_train_tokens},
}
-- Zero-shot accuracy of the three models on the --tasks files.
local accuracy_table
if tasks then
  local rows = {}
  for _, entry in ipairs({{"dense", model}, {"uniform", uniform_model}, {"searched", pruned}}) do
    local name, m = entry[1], entry[2]
    results[name].accuracy = pipeline.accuracy(m, result.inputs.tokenizer, tasks, o, name)
    rows[#rows + 1] = {name = name, results = results[name].accuracy}
  end
  accuracy_table = eval.table(rows)
  darwin.write_file(o.output .. "/accuracy.md", accuracy_table)
end
results.seconds = darwin.clock() - t0
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
pipeline.save(pruned, o.output, o.gguf, result.inputs.tokenizer)
darwin.write_file(o.output .. "/config.txt", genome.to_reference_text(best))
darwin.write_file(o.output .. "/results.json", json.encode(results))
for _, name in ipairs({"dense", "uniform", "searched"}) do
  print(string.format("%-9s %10d parameters  perplexity %.4f", name, results[name].params, results[name].perplexity))
end
if accuracy_table then io.write("\n", accuracy_table, "\n") end
if distributed.size() > 1 then
  print(string.format("MPI: %d ranks; rank 0 waited %.1f s for the other ranks' candidates", distributed.size(), distributed.waited))
end
print(string.format("done in %.1f s; pruned model in %s/model (transformers: %s/model-padded), configuration in %s/config.txt",
  results.seconds, o.output, o.output, o.output))
