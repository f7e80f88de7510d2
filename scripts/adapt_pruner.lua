-- adapt_pruner: Adapt-Pruner with Adapt-Accel (arXiv 2502.03460) on a Hugging Face checkpoint: layer-wise
-- sparsity from how much each block changes its input, Taylor-scored heads and neurons, pruned ~5% of the
-- target at a time with training in between. No compression database: it prunes the trained model directly.
local cli = require("cli")
local pipeline = require("pipeline")
local adapt = require("adapt_pruner")
local json = require("json")

pipeline.single_process("scripts/adapt_pruner.lua")
local o = cli.parse({
  name = "scripts/adapt_pruner.lua",
  about = "Adapt-Pruner: adaptive layer-wise structured pruning, interleaved with training (Adapt-Accel).",
  options = cli.with(cli.input_options, cli.with({
    {"output", "string", "adapt-out", "output directory (per-step checkpoint and state, log, pruned model)"},
    {"sparsity", "number", 0.3, "fraction of attention heads and of MLP neurons to remove"},
    {"attention_sparsity", "number", nil, "fraction of attention heads to remove (default: --sparsity)"},
    {"mlp_sparsity", "number", nil, "fraction of MLP neurons to remove (default: --sparsity)"},
    {"fraction", "number", 0.05, "part of the target removed per step (the paper: 5%, i.e. 20 steps)"},
    {"amplitude", "number", 0.02, "largest deviation of a layer's sparsity from the step's target"},
    {"train_tokens", "integer", 16384, "training tokens, split equally between the steps"},
    {"lr", "number", 1e-4, "learning rate"},
    {"seqlen", "integer", 256, "sequence length for importance, training and evaluation"},
    {"calibration_sequences", "integer", 16, "sequences for layer importance"},
    {"gradient_sequences", "integer", 32, "sequences for the Taylor scores"},
    {"gradient_seqlen", "integer", 64, "length of the Taylor-score sequences (the reference uses 64)"},
    {"eval_sequences", "integer", 8, "held-out sequences for perplexity"},
    {"batch_size", "integer", 4, "batch size"},
    {"seed", "integer", 0, "random seed"},
    {"resume", "boolean", false, "continue an interrupted run from OUTPUT/state"},
    {"overwrite", "boolean", false, "start again over a run saved in OUTPUT/state"},
    {"threads", "integer", nil, "threads (default: all cores)"},
  }, cli.export_options)),
}, arg)
if o.threads then darwin.set_threads(o.threads) end
-- The output directory is this run's: a second run on it stops here with the holder's pid.
local output_lock = darwin.lock(o.output)
local t0 = darwin.clock()
local inputs = pipeline.inputs(o)
local dense = inputs.model
print(string.format("model %s: %d parameters", o.model, dense:parameters()))
local function perplexity(m) return m:perplexity(inputs.eval, {batch_size = o.batch_size}) end

local pruned, log = adapt.run({
  model = dense:clone(),
  target = {attention = o.attention_sparsity or o.sparsity, mlp = o.mlp_sparsity or o.sparsity},
  importance_ids = inputs.calibration,
  gradient_ids = darwin.data.sequences(inputs.tokens, nil, {seqlen = o.gradient_seqlen, count = o.gradient_sequences, seed = o.seed + 2}),
  train_ids = darwin.data.sequences(inputs.tokens, nil, {seqlen = o.seqlen, count = pipeline.rows_for(o.train_tokens, o.seqlen), seed = o.seed + 1}),
  fraction = o.fraction, amplitude = o.amplitude, batch_size = o.batch_size, train_options = {lr = o.lr},
  state = o.output .. "/state", resume = o.resume, overwrite = o.overwrite,
})
local lines = {}
for i, record in ipairs(log) do lines[i] = json.encode(record) end
darwin.write_file(o.output .. "/log.jsonl", table.concat(lines, "\n") .. "\n")
local results = {
  dense = {params = dense:parameters(), perplexity = perplexity(dense)},
  adapt_pruner = {params = pruned:parameters(), perplexity = perplexity(pruned), kl = pruned:kl(inputs.eval, dense:targets(inputs.eval)),
                  attention = adapt.counts(pruned, "attention"), mlp = adapt.counts(pruned, "mlp")},
  seconds = darwin.clock() - t0,
}
pipeline.save(pruned, o.output, o.gguf, inputs.tokenizer)
darwin.write_file(o.output .. "/results.json", json.encode(results))
print(string.format("dense        %10d parameters  perplexity %.4f", results.dense.params, results.dense.perplexity))
print(string.format("adapt-pruner %10d parameters  perplexity %.4f  KL %.4f", results.adapt_pruner.params, results.adapt_pruner.perplexity, results.adapt_pruner.kl))
print(string.format("done in %.1f s; pruned model in %s/model", results.seconds, o.output))
