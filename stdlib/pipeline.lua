--- pipeline: small steps shared by the pruning scripts.
local finetune = require("finetune")
local schedule = require("schedule")
local distributed = require("distributed")
local pipeline = {}

--- The tokenizer for a model directory: `explicit` when given, else the directory's tokenizer.json when it has
-- one, else nil (pre-tokenized .npy / .bin data needs no tokenizer).
function pipeline.tokenizer(model_dir, explicit)
  if explicit then return darwin.tokenizer(explicit) end
  local f = io.open(model_dir .. "/tokenizer.json")
  if not f then return nil end
  f:close()
  return darwin.tokenizer(model_dir)
end

--- Fine-tunes `model` in place on the rows of `ids` (see finetune.rows; kept here for existing scripts).
pipeline.finetune = finetune.rows

--- The inputs every pruning script starts from, read from parsed options (model, data, eval_data, tokenizer, seqlen,
-- calibration_sequences, eval_sequences, seed): {model, tokenizer, tokens, eval_tokens, calibration, eval}.
-- `eval` is the first eval_sequences sequences of the held-out data (or of --data when there is none), in order.
function pipeline.inputs(o)
  local model = darwin.load(o.model)
  local tok = pipeline.tokenizer(o.model, o.tokenizer)
  local tokens = darwin.data.tokens(o.data, tok)
  local eval_tokens = o.eval_data and darwin.data.tokens(o.eval_data, tok) or tokens
  return {
    model = model, tokenizer = tok, tokens = tokens, eval_tokens = eval_tokens,
    calibration = darwin.data.sequences(tokens, nil, {seqlen = o.seqlen, count = o.calibration_sequences, seed = o.seed or 0}),
    eval = darwin.data.sequences(eval_tokens, nil, {seqlen = o.seqlen, count = o.eval_sequences, mode = "sequential"}),
  }
end

--- The uniform target of the scripts' `--level` with `--levels` steps per kind, checked against the model before
-- any long work: an error when the level does not exist for both kinds; otherwise prints what it means and
-- returns the level (the database built with {levels = levels} has exactly these level lists). `level` may instead be
-- a fraction of the parameters to remove (0 < level < 1): the uniform level nearest to it is chosen.
function pipeline.target_level(model, level, levels, quiet, lists)
  local c = model:config()
  local heads = lists and lists.attention_levels or darwin.database.levels(c.num_attention_heads, levels)
  local neurons = lists and lists.mlp_levels or darwin.database.levels(c.intermediate_size, levels)
  local top = math.min(#heads, #neurons) - 1
  local dense = model:parameters()
  -- Parameters at a uniform level, before the database exists (KV heads: as few as the kept query heads need).
  local function params_at(l)
    local hd, h, groups = c.head_dim, c.hidden_size, c.num_attention_heads // c.num_key_value_heads
    local q = c.num_attention_heads - heads[l + 1]
    local attention = 2 * q * hd * h + 2 * ((q + groups - 1) // groups) * hd * h
    local full_attention = 2 * c.num_attention_heads * hd * h + 2 * c.num_key_value_heads * hd * h
    local mlp = 3 * h * (c.intermediate_size - neurons[l + 1])
    return dense - c.num_hidden_layers * (full_attention - attention + 3 * h * c.intermediate_size - mlp)
  end
  local fraction
  if math.type(level) ~= "integer" then
    if not (level > 0 and level < 1) then
      error(string.format("--level %s: give a level (an integer) or the fraction of parameters to remove (between 0 and 1)", tostring(level)), 0)
    end
    fraction, level = level, 0
    for l = 1, top do
      if math.abs(1 - params_at(l) / dense - fraction) < math.abs(1 - params_at(level) / dense - fraction) then level = l end
    end
  end
  if level > top then
    local how = lists and "with these level lists" or string.format("with --levels %d", levels)
    error(string.format("--level %d does not exist: %s this model has attention levels 0..%d (%d heads) and MLP levels 0..%d (%d neurons); choose --level 0..%d",
      level, how, #heads - 1, c.num_attention_heads, #neurons - 1, c.intermediate_size, top), 0)
  end
  if not quiet then
    print(string.format("target: level %d of every unit%s, i.e. %d of %d heads and %d of %d MLP neurons removed per block; about %d of %d parameters kept (%.1f%%)",
      level, fraction and string.format(" (the nearest to removing %.0f%% of the parameters)", 100 * fraction) or "",
      heads[level + 1], c.num_attention_heads, neurons[level + 1], c.intermediate_size, params_at(level), dense, 100 * params_at(level) / dense))
  end
  return level
end

--- The database's level lists from the scripts' options: `--attention-levels` / `--mlp-levels` (structures removed
-- at each level, as the reference lists them: 0,1,2,4,...) when given, else `--levels` evenly spaced steps. Checked
-- against the model before any work (starting at 0, increasing, ending at or below the structure count). Returns the
-- database.build options ({levels =} or {attention_levels =, mlp_levels =}) and the explicit lists (nil without).
function pipeline.database_levels(model, o)
  if not o.attention_levels and not o.mlp_levels then return {levels = o.levels}, nil end
  local c = model:config()
  local lists = {
    attention_levels = o.attention_levels or darwin.database.levels(c.num_attention_heads, o.levels),
    mlp_levels = o.mlp_levels or darwin.database.levels(c.intermediate_size, o.levels),
  }
  for option, total in pairs({attention_levels = c.num_attention_heads, mlp_levels = c.intermediate_size}) do
    local list = lists[option]
    for i, v in ipairs(list) do
      if (i == 1 and v ~= 0) or (i > 1 and v <= list[i - 1]) or v > total then
        error(string.format("--%s must start at 0 and increase up to at most %d (the model's %s), got %s", option:gsub("_", "-"), total,
          option == "attention_levels" and "heads" or "MLP neurons", table.concat(list, ",")), 0)
      end
    end
  end
  return {attention_levels = lists.attention_levels, mlp_levels = lists.mlp_levels}, lists
end

--- DarwinLM's selection schedule (see schedule.halving; kept here for existing scripts).
pipeline.selection_schedule = schedule.halving

--- The user modules named by the options --mutation, --fitness, --selection, --finetune and --schedule, loaded (not
-- yet checked: evolution.run checks them where it calls them): {mutate, fitness, select, finetune, schedule, origins}.
function pipeline.user_pieces(o)
  local contracts = require("contracts")
  local pieces = {origins = {}}
  for option, key in pairs({mutation = "mutate", fitness = "fitness", selection = "select", finetune = "finetune", schedule = "schedule"}) do
    if o[option] then
      pieces[key] = contracts.load(o[option], option)
      pieces.origins[key] = o[option]
    end
  end
  return pieces
end

--- The pieces of a search chosen on the command line (cli.search_pieces, plus --stages, --offspring, --fitness-tokens
-- and --train-tokens, the last two single values or per-stage lists): the evolution.run options mutate, fitness,
-- select, finetune, schedule and origins. A single token count doubles from stage to stage (DarwinLM's shorthand);
-- lists give each stage's value, as the paper states its schedule.
function pipeline.search_pieces(o)
  local pieces = pipeline.user_pieces(o)
  if pieces.schedule then
    pieces.schedule = require("contracts").schedule(pieces.schedule, o.schedule, o)
  else
    pieces.schedule = pipeline.schedule_from_options(o)
  end
  return pieces
end

--- The selection schedule of the options --stages, --offspring, --survivors, --fitness-tokens and --train-tokens (or
-- `train_tokens` given here instead, as compare.lua does per strategy): halving survivors and doubling tokens from
-- single values, or the per-stage lists.
function pipeline.schedule_from_options(o, train_tokens)
  local function list(v) return type(v) == "table" and v or {v} end
  local tokens, train = list(o.fitness_tokens), list(train_tokens or o.train_tokens)
  if #tokens == 1 and #train == 1 and not o.survivors then
    return schedule.halving(o.stages, o.offspring, tokens[1], train[1])
  end
  local stages = math.max(#tokens, #train, o.survivors and #o.survivors or 1)
  local survivors = o.survivors or {}
  if not o.survivors then for s = 1, stages do survivors[s] = s == stages and 1 or math.max(1, o.offspring >> s) end end
  return schedule.explicit({survivors = survivors, tokens = tokens, train_tokens = train})
end

--- Rows of `seqlen` tokens that a request for `tokens` tokens samples (at least one row when tokens > 0).
function pipeline.rows_for(tokens, seqlen) return tokens > 0 and math.max(1, tokens // seqlen) or 0 end

--- Post-trains `model` in place on `tokens` tokens drawn from `pool` with a warmup-free cosine schedule.
-- o: seqlen, batch_size, lr, seed. Returns the number of tokens trained on.
function pipeline.post_train(model, pool, tokens, o)
  local rows = pipeline.rows_for(tokens, o.seqlen)
  if rows == 0 then return 0 end
  local data = darwin.data.sequences(pool, nil, {seqlen = o.seqlen, count = rows, seed = o.seed})
  local steps = math.max(1, (rows + o.batch_size - 1) // o.batch_size)
  local progress = darwin.progress("post-training", steps, {unit = "steps"})
  -- Data-parallel over the ranks of an MPI job (every rank calls this with the same model and data).
  finetune.rows_distributed(model, data, o.batch_size, {lr = o.lr, total_steps = steps}, progress):close()
  progress:finish()
  return rows * o.seqlen
end

--- Saves a pruned model under `output`: `model` (per-block shapes, reloadable by darwinhost), `model-padded` (dense
-- shapes with zeros, loadable by transformers) and, with `gguf` (a GGUF type name), `model.gguf` for llama.cpp with
-- the tokenizer `tok` embedded. Prints what the GGUF export had to add for llama.cpp.
function pipeline.save(model, output, gguf, tok)
  model:save(output .. "/model")
  model:save(output .. "/model-padded", {padded = true})
  if gguf then
    local report = model:save(output .. "/model.gguf", {format = "gguf", dtype = gguf, tokenizer = tok})
    print(string.format("GGUF (%s, llama.cpp architecture '%s', %d parameters) in %s/model.gguf", gguf, report.architecture, report.parameters, output))
    for _, note in ipairs(report.notes) do print("  " .. note) end
  end
end

--- Stops a script that runs in one process only when it was started on several MPI ranks (its ranks would build
-- and write the same files), naming the script that runs distributed instead.
function pipeline.single_process(name)
  if distributed.size() > 1 then
    error(string.format("%s runs in one process, not on %d MPI ranks (scripts/darwinlm.lua and evopress.lua run distributed)", name, distributed.size()), 0)
  end
end

--- Builds (or resumes) the compression database of `model` with database.build's `options` (path, levels, ...). In an
-- MPI job the ranks share the blocks, rank 0 joins their parts, and every rank returns the whole database.
function pipeline.build_database(model, calibration, options)
  local ranks = distributed.size()
  if ranks == 1 then return darwin.database.build(model, calibration, options) end
  local shared = {rank = distributed.rank(), ranks = ranks}
  for k, v in pairs(options) do shared[k] = v end
  darwin.database.build(model, calibration, shared)
  distributed.barrier()
  if distributed.writer() then darwin.database.merge(options.path) end
  distributed.barrier()
  return darwin.database.open(options.path)
end

--- The task files of --tasks (with --task-limit, and --format where a script has it) read and checked before any long
-- work: a list of eval tasks, or nil.
function pipeline.tasks(o)
  if not o.tasks then return nil end
  local eval = require("eval")
  local tasks = {}
  for k, path in ipairs(o.tasks) do tasks[k] = eval.read(path, {limit = o.task_limit, format = o.format}) end
  return tasks
end

--- Zero-shot accuracy of `model` named `name` on `tasks` (pipeline.tasks), with a progress line per task:
-- eval.multiple_choice's list, or nil without tasks.
function pipeline.accuracy(model, tok, tasks, o, name)
  if not tasks then return nil end
  if not tok then error("--tasks needs a tokenizer (--tokenizer, or tokenizer.json in the model directory)", 0) end
  return require("eval").multiple_choice(model, tok, tasks, {batch_size = o.batch_size, progress = name})
end

--- Tokens an evolutionary search spent on fine-tuning candidates, from its log (evolution.run's records).
function pipeline.search_train_tokens(log, seqlen)
  local total = 0
  for _, record in ipairs(log) do
    for _, stage in ipairs(record.stages) do
      total = total + (stage.candidates or 0) * pipeline.rows_for(stage.train_tokens or 0, seqlen) * seqlen
    end
  end
  return total
end

return pipeline
