--- adapt_pruner: the building blocks of Adapt-Pruner (arXiv 2502.03460) on darwinhost's primitives:
-- layer importance from how much a block changes its input, per-layer sparsity allocated from it (less important
-- layers pruned more, the average held at the target), and an incremental schedule.
-- Defaults follow the reference scripts (github.com/research4pan/AdaptPruner, experiments/*.sh): 20 prune-train
-- steps (5% of the target each), amplitude 0.02, first-order Taylor scores |w * dL/dw| summed per structure,
-- 64-token sequences for the gradients, training data split equally between steps.
-- Choices the paper leaves open, made here: importance is averaged over all tokens of the calibration data;
-- the allocation maps min-max normalised importance linearly onto [target + amplitude, target - amplitude],
-- then shifts and clips so the mean stays exactly at the target; structure counts are rounded per layer and
-- corrected so each kind's total is exact; every unit keeps at least `min_keep` structures (default 1: no unit
-- is removed entirely); one gradient estimate per step (the reference re-estimates within a step); a fresh
-- AdamW per training phase (shapes change between phases) under one warmup-cosine schedule over the whole run
-- (the reference uses warmup-stable-decay over all stages).
local pipeline = require("pipeline")
local json = require("json")
local adapt = {}

--- Importance of each block: 1 - cosine similarity between its input and output hidden states, averaged
-- over all positions of `data` ([n, seq] ids). Returns a Lua array, one value per block.
function adapt.importance(model, data)
  local _, hidden = model:forward(data, {hidden_states = true})
  local out = {}
  for i = 1, #hidden - 1 do
    local a, b = hidden[i], hidden[i + 1]
    local dot = (a * b):sum(3)
    local cos = dot / (a:norm(2, 3) * b:norm(2, 3) + 1e-12)
    out[i] = 1 - cos:mean()
  end
  return out
end

--- Per-layer sparsities in [0, max_sparsity] with mean exactly `target` (when feasible): less important
-- layers get more. `amplitude` is the largest deviation from the target before re-centring.
function adapt.allocate(importance, target, amplitude, max_sparsity)
  max_sparsity = max_sparsity or 1
  local n = #importance
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(importance) do lo = math.min(lo, v); hi = math.max(hi, v) end
  local s = {}
  for i, v in ipairs(importance) do
    local normalised = hi > lo and (v - lo) / (hi - lo) or 0.5
    s[i] = target + amplitude * (1 - 2 * normalised)
  end
  -- Re-centre on the target, clip into range, and repeat until the clipped values keep the mean.
  for _ = 1, 50 do
    local mean = 0
    for i = 1, n do mean = mean + s[i] end
    mean = mean / n
    if math.abs(mean - target) < 1e-12 then break end
    for i = 1, n do s[i] = math.min(max_sparsity, math.max(0, s[i] + target - mean)) end
  end
  return s
end

--- Cumulative targets reaching `target` in steps of `fraction` of it (Adapt-Accel prunes ~5% of the target
-- at a time); the last entry is exactly `target`.
function adapt.schedule(target, fraction)
  fraction = fraction or 0.05
  local steps = math.max(1, math.ceil(1 / fraction - 1e-9))
  local out = {}
  for k = 1, steps do out[k] = target * k / steps end
  out[steps] = target
  return out
end

--- The database levels nearest to per-layer sparsities (fractions of a kind's structures removed).
function adapt.levels_for(db, kind, sparsities)
  local levels, removed = {}, db:levels(kind)
  local total = removed[#removed]
  for i, s in ipairs(sparsities) do
    local best, best_gap = 0, math.huge
    for level = 0, #removed - 1 do
      local gap = math.abs(removed[level + 1] / total - s)
      if gap < best_gap then best, best_gap = level, gap end
    end
    levels[i] = best
  end
  return levels
end

--- Per-layer structure counts to keep, summing exactly to `total_keep`: each layer aims at
-- dense[i] * (1 - sparsity[i]), never grows back above current[i] and keeps at least `min_keep` (default 1).
-- Rounding is corrected one structure at a time where the aim is missed most. Errors when infeasible.
function adapt.keep_counts(current, dense, sparsity, total_keep, min_keep)
  min_keep = min_keep or 1
  local n, keep, aim, sum, lowest, highest = #current, {}, {}, 0, 0, 0
  for i = 1, n do
    local floor = math.min(min_keep, current[i])
    aim[i] = dense[i] * (1 - sparsity[i])
    keep[i] = math.max(floor, math.min(current[i], math.floor(aim[i] + 0.5)))
    sum, lowest, highest = sum + keep[i], lowest + floor, highest + current[i]
  end
  if total_keep < lowest or total_keep > highest then
    error(string.format("adapt_pruner.keep_counts: cannot keep %d structures (feasible: %d..%d)", total_keep, lowest, highest), 2)
  end
  while sum ~= total_keep do
    local dir, best, gap = sum > total_keep and -1 or 1, nil, -math.huge
    for i = 1, n do
      local movable = dir < 0 and keep[i] > math.min(min_keep, current[i]) or dir > 0 and keep[i] < current[i]
      local g = dir < 0 and keep[i] - aim[i] or aim[i] - keep[i]
      if movable and g > gap then best, gap = i, g end
    end
    keep[best], sum = keep[best] + dir, sum + dir
  end
  return keep
end

--- The parameters that belong to single structures of a unit, each with the dimension to sum over so one value
-- per row (or column) remains (nil: a bias, already one value per row).
local function structure_weights(block, kind)
  local p = string.format("model.layers.%d.", block - 1)
  if kind == "attention" then
    return {{p .. "self_attn.q_proj.weight", 2}, {p .. "self_attn.q_proj.bias", nil}, {p .. "self_attn.o_proj.weight", 1}}
  end
  return {{p .. "mlp.gate_proj.weight", 2}, {p .. "mlp.gate_proj.bias", nil}, {p .. "mlp.up_proj.weight", 2},
          {p .. "mlp.up_proj.bias", nil}, {p .. "mlp.down_proj.weight", 1}}
end

--- First-order Taylor importance of each structure of one unit (Adapt-Pruner's / LLM-Pruner's "param_first"):
-- the sum of |w * dL/dw| over the weights that belong only to it (query rows and o_proj columns of a head;
-- gate/up rows and the down_proj column of a neuron). `grads` comes from model:gradients. Returns a Lua array.
function adapt.taylor_scores(model, grads, block, kind)
  local info = model:summary()[block]
  local count = kind == "attention" and info.query_heads or info.mlp_width
  local total = tensor.zeros(count)
  for _, term in ipairs(structure_weights(block, kind)) do
    local name, reduce_dim = term[1], term[2]
    if grads[name] then
      local w = model:parameter(name)
      local contribution = (w * grads[name]):abs()
      if reduce_dim then contribution = contribution:sum(reduce_dim) end
      total = total + contribution:reshape(count, contribution:numel() // count):sum(2)
    end
  end
  return total:totable()
end

--- Removes structures of `kind` so block i keeps counts[i], dropping the lowest-scored ones.
-- `score(model, block, kind)` returns one score per current structure (higher = more important).
function adapt.prune(model, kind, counts, score)
  local summary = model:summary()
  for block, keep in ipairs(counts) do
    local current = kind == "attention" and summary[block].query_heads or summary[block].mlp_width
    if keep < current then
      local scores, order = score(model, block, kind), {}
      for i = 1, current do order[i] = i end
      table.sort(order, function(a, b) if scores[a] ~= scores[b] then return scores[a] > scores[b] end return a < b end)
      local kept = table.move(order, 1, keep, 1, {})
      table.sort(kept)
      model:keep(block, kind, kept)
    end
  end
end

--- Structure counts per block of a kind (query heads or MLP neurons) in the model as it is now.
function adapt.counts(model, kind)
  local out = {}
  for i, b in ipairs(model:summary()) do out[i] = kind == "attention" and b.query_heads or b.mlp_width end
  return out
end

--- Parameters of one MLP neuron: its gate and up rows, its down_proj column and their biases.
function adapt.neuron_params(model)
  local hidden = model:config().hidden_size
  local names = {}
  for _, n in ipairs(model:parameter_names()) do names[n] = true end
  local bias = 0
  for _, kind in ipairs({"gate_proj", "up_proj"}) do
    for i = 0, #model:summary() - 1 do
      if names[string.format("model.layers.%d.mlp.%s.bias", i, kind)] then bias = bias + 1; break end
    end
  end
  return 3 * hidden + bias
end

--- Trainer options for one training phase: `base` (darwin.trainer options; default lr 1e-4) plus, unless it sets
-- its own schedule, the reference's shape of schedule over the whole run: 5% linear warmup, then cosine decay,
-- continued across phases through `schedule_offset`.
function adapt.phase_options(base, phase_steps, offset)
  local options = {}
  for k, v in pairs(base or {lr = darwin.defaults.lr}) do options[k] = v end
  if not options.total_steps then
    local total = 0
    for _, n in ipairs(phase_steps) do total = total + n end
    options.total_steps, options.warmup, options.schedule_offset = math.max(1, total), math.max(1, total // 20), offset
  end
  return options
end

local function sum(list) local s = 0; for _, v in ipairs(list) do s = s + v end return s end

--- Adapt-Pruner with Adapt-Accel: in each of the schedule's steps, measures layer importance on the current
-- model, allocates per-layer sparsity (mean = this step's target), removes the lowest-Taylor-scored structures
-- and trains on this step's share of the tokens. Options:
--   model (pruned in place), target = {attention =, mlp =} fractions of structures to remove,
--   importance_ids ([n, seq] calibration), gradient_ids ([n, seq]), train_ids ([n, seq], split between steps;
--   nil = no training), fraction (0.05), amplitude (0.02), max_sparsity (1), min_keep (1), batch_size (darwin.defaults.batch_size),
--   train_options (darwin.trainer options), score (function(model, grads, block, kind); adapt.taylor_scores),
--   target_params (optional: the last step sets its MLP neuron count so the model has as close to and at most this
--   many parameters as that step allows: grouped-query KV heads go only when all their query heads do, so equal
--   head counts need not mean equal parameters across methods),
--   evaluate (function(model) -> number, logged each step after pruning as evaluation_pruned and after
--   training as evaluation), state (directory: checkpoint + state.json after every
--   step), resume (continue from `state`), overwrite (start again over a saved run), quiet.
-- Returns the pruned model (a reloaded one when resuming) and the log (one record per step).
function adapt.run(o)
  assert(o.model and o.target and o.importance_ids and o.gradient_ids, "adapt_pruner.run needs model, target, importance_ids and gradient_ids")
  local model, dense, log, first = o.model, {}, {}, 1
  for _, kind in ipairs({"attention", "mlp"}) do dense[kind] = adapt.counts(model, kind) end
  local state_file = o.state and (o.state .. "/state.json")
  if o.state then darwin.mkdir(o.state) end
  if state_file and darwin.exists(state_file) and not o.resume and not o.overwrite then
    error(string.format("%s holds a saved Adapt-Pruner run: resume it (--resume) or start again over it (--overwrite)", state_file), 0)
  end
  local f = o.resume and state_file and io.open(state_file)
  if f then
    local saved = json.decode(f:read("a")); f:close()
    model, log, first, dense = darwin.load(o.state .. "/" .. saved.checkpoint), saved.log, saved.step + 1, saved.dense
    if not o.quiet then print(string.format("resuming Adapt-Pruner at step %d from %s", first, o.state)) end
  end
  local schedules = {attention = adapt.schedule(o.target.attention, o.fraction), mlp = adapt.schedule(o.target.mlp, o.fraction)}
  local steps = #schedules.mlp
  local train_rows = o.train_ids and o.train_ids:size(1) or 0
  local score = o.score or adapt.taylor_scores
  local batch = o.batch_size or darwin.defaults.batch_size
  -- One learning-rate schedule over all training phases: optimizer steps of each phase, and those before a step.
  local phase_steps = {}
  for k = 1, steps do phase_steps[k] = (k * train_rows // steps - (k - 1) * train_rows // steps + batch - 1) // batch end
  local function steps_before(k) local n = 0; for j = 1, k - 1 do n = n + phase_steps[j] end return n end
  local start = darwin.clock() - (log[#log] and log[#log].elapsed or 0)
  for step = first, steps do
    local importance = adapt.importance(model, o.importance_ids)
    local _, grads = model:gradients(o.gradient_ids, {batch_size = o.batch_size or darwin.defaults.batch_size})
    local record = {step = step, importance = importance, sparsity = {}}
    for _, kind in ipairs({"attention", "mlp"}) do
      local target = schedules[kind][step]
      local sparsity = adapt.allocate(importance, target, o.amplitude or 0.02, o.max_sparsity)
      local total_keep = sum(dense[kind]) - math.floor(target * sum(dense[kind]) + 0.5)
      if kind == "mlp" and step == steps and o.target_params then
        -- Parameter-matched end point: as many neurons as fit target_params (not more than the model has).
        local per_neuron = adapt.neuron_params(model)
        local fixed = model:parameters() - sum(adapt.counts(model, "mlp")) * per_neuron
        total_keep = math.max(0, math.min(sum(adapt.counts(model, "mlp")), (o.target_params - fixed) // per_neuron))
      end
      local counts = adapt.keep_counts(adapt.counts(model, kind), dense[kind], sparsity, total_keep, o.min_keep)
      adapt.prune(model, kind, counts, function(m, block, k) return score(m, grads, block, k) end)
      record.sparsity[kind] = sparsity
      record[kind] = counts
    end
    grads = nil
    if o.evaluate then record.evaluation_pruned = o.evaluate(model) end
    -- Train on this step's equal share of the rows.
    local lo, hi = (step - 1) * train_rows // steps + 1, step * train_rows // steps
    record.train_tokens = 0
    if hi >= lo then
      local rows = o.train_ids:narrow(1, lo, hi - lo + 1)
      pipeline.finetune(model, rows, batch, adapt.phase_options(o.train_options, phase_steps, steps_before(step)))
      record.train_tokens = rows:numel()
    end
    record.params, record.elapsed = model:parameters(), darwin.clock() - start
    if o.evaluate then record.evaluation = o.evaluate(model) end
    log[#log + 1] = record
    if o.state then
      -- The checkpoint goes to a new directory; the state file names it only once it is complete.
      local checkpoint = string.format("step-%03d", step)
      model:save(o.state .. "/" .. checkpoint)
      darwin.write_file(state_file, json.encode({step = step, log = log, dense = dense, checkpoint = checkpoint}))
      if step > 1 then darwin.remove(string.format("%s/step-%03d", o.state, step - 1)) end
    end
    if not o.quiet then
      print(string.format("step %2d/%d  attention %d  mlp %d  params %d%s  %.1f s", step, steps, sum(record.attention), sum(record.mlp),
        record.params, record.evaluation and string.format("  eval %.4f (pruned %.4f)", record.evaluation, record.evaluation_pruned) or "", record.elapsed))
    end
  end
  return model, log
end

return adapt
