-- uniform: the baseline. Every unit is pruned to the same level from the compression database, optionally
-- post-trained, and evaluated on held-out data.
local cli = require("cli")
local pipeline = require("pipeline")
local genome = require("genome")
pipeline.single_process("scripts/uniform.lua")
local o = cli.parse({
  name = "scripts/uniform.lua",
  about = "Uniform structured pruning baseline: one level for every attention and MLP unit.",
  options = cli.with(cli.input_options, cli.with({
    {"database", "string", nil, "compression database directory (built when missing; default: OUTPUT/database, or uniform-out/database without --output)"},
    {"level", "number", 3, "level of every unit, or a fraction of parameters to remove (the nearest level)"},
    {"levels", "integer", 10, "compression steps per kind when building the database"},
    {"seqlen", "integer", 256, "sequence length"},
    {"calibration_sequences", "integer", 16, "sequences for the database's Hessians"},
    {"post_train_tokens", "integer", 0, "post-training tokens"},
    {"lr", "number", 1e-4, "post-training learning rate"},
    {"eval_sequences", "integer", 8, "held-out sequences for perplexity"},
    {"batch_size", "integer", 4, "batch size"},
    {"output", "string", nil, "save the pruned model here: OUTPUT/model and, for transformers, OUTPUT/model-padded"},
  }, cli.with(cli.level_lists, cli.export_options))),
}, arg)
local inputs = pipeline.inputs(o)
local model, calib, eval = inputs.model, inputs.calibration, inputs.eval
local build_levels, lists = pipeline.database_levels(model, o)
local level = pipeline.target_level(model, o.level, o.levels, false, lists)
build_levels.path = o.database or (o.output or "uniform-out") .. "/database"
local db = darwin.database.build(model, calib, build_levels)
local g = genome.at_level(db, level)
local pruned = model:clone()
pruned:apply(db, g)
pipeline.post_train(pruned, inputs.tokens, o.post_train_tokens, {seqlen = o.seqlen, batch_size = o.batch_size, lr = o.lr, seed = 1})
print(string.format("dense   %10d parameters  perplexity %.4f", model:parameters(), model:perplexity(eval)))
print(string.format("uniform %10d parameters  perplexity %.4f  (%s)", pruned:parameters(), pruned:perplexity(eval), genome.format(g)))
if o.output then pipeline.save(pruned, o.output, o.gguf, inputs.tokenizer)
elseif o.gguf then error("--gguf needs --output", 0) end
