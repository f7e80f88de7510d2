--- fitness: how a candidate model is scored (lower is better). Any function fitness(model, batch) -> number
-- can replace these; `batch` comes from fitness.batch.
local fitness = {}

--- KL divergence from the dense model's distributions (DarwinLM's fitness): full or top-k targets.
function fitness.kl(model, batch)
  return model:kl(batch.ids, batch.targets, {batch_size = batch.batch_size})
end

--- Perplexity on the batch (needs no dense targets).
function fitness.perplexity(model, batch)
  return model:perplexity(batch.ids, {batch_size = batch.batch_size})
end

--- A scoring batch for `ids` ([n, seqlen]): the ids plus the dense model's targets (top-`ctx.topk`, or full
-- when ctx.topk is nil) when the fitness function is the KL.
function fitness.batch(ctx, ids)
  local b = {ids = ids, batch_size = ctx.batch_size}
  if ctx.fitness == fitness.kl then b.targets = ctx.dense:targets(ids, {topk = ctx.topk, batch_size = ctx.batch_size}) end
  return b
end

return fitness
