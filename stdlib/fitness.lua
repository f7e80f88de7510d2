--- fitness: how a candidate model is scored (lower is better). A fitness is an object
-- {prepare = function(ctx, ids) -> batch, score = function(model, batch) -> number}: `prepare` runs once per
-- selection stage on the stage's scoring rows `ids` ([n, seqlen]), `score` once per candidate. The stock ones are
-- such objects and can also be called as functions, `fitness.kl(model, batch)`, so they compose:
-- `fitness.plus(fitness.kl, function(model, batch) return 1e-9 * model:parameters() end)`.
local fitness = {}

--- A fitness object from its two functions; calling it scores (`f(model, batch)` = `f.score(model, batch)`).
function fitness.object(name, prepare, score)
  return setmetatable({name = name, prepare = prepare, score = score}, {
    __call = function(self, model, batch) return self.score(model, batch) end,
    __tostring = function(self) return "fitness " .. self.name end,
  })
end

--- The scoring batch of the KL: the ids plus the dense model's targets (top-`ctx.topk`, or full when nil).
local function with_targets(ctx, ids)
  return {ids = ids, batch_size = ctx.batch_size, targets = ctx.dense:targets(ids, {topk = ctx.topk, batch_size = ctx.batch_size})}
end

--- KL divergence from the dense model's distributions (DarwinLM's fitness): full or top-k targets.
fitness.kl = fitness.object("kl", with_targets, function(model, batch)
  return model:kl(batch.ids, batch.targets, {batch_size = batch.batch_size})
end)

--- Perplexity on the batch (needs no dense targets).
fitness.perplexity = fitness.object("perplexity", function(ctx, ids) return {ids = ids, batch_size = ctx.batch_size} end,
  function(model, batch) return model:perplexity(batch.ids, {batch_size = batch.batch_size}) end)

--- `base` plus `extra(model, batch)` (a penalty: size, measured latency, ...), on `base`'s batches.
function fitness.plus(base, extra)
  return fitness.object(base.name .. " + penalty", base.prepare, function(model, batch) return base.score(model, batch) + extra(model, batch) end)
end

--- The scoring batch of `ids` for the search's fitness (ctx.fitness, an object).
function fitness.batch(ctx, ids) return ctx.fitness.prepare(ctx, ids) end

--- The batch a plain scoring function gets: the KL's (ids, batch_size and dense targets), so it can call fitness.kl.
fitness.default_prepare = with_targets

return fitness
