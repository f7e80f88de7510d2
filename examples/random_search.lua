-- A whole alternative strategy on the public API, for compare.lua: random search. Samples genomes at the target size
-- (random walks of level switches from the uniform genome), keeps the best by KL, post-trains it with the same
-- token budget as the other strategies. Use: darwinhost scripts/compare.lua ... --strategy examples/random_search.lua
local mutation = require("mutation")
local fitness = require("fitness")

return {name = "random-search", run = function(ctx)
  local sctx = {db = ctx.db, rng = darwin.generator(ctx.options.seed), dense = ctx.dense, batch_size = ctx.options.batch_size,
                topk = ctx.options.topk > 0 and ctx.options.topk or nil}
  local batch = fitness.kl.prepare(sctx, ctx.inputs.calibration)
  local best, best_score = ctx.uniform, math.huge
  for _ = 1, 4 * ctx.options.offspring do
    local g = ctx.uniform
    for _ = 1, sctx.rng:integer(1, 8) do g = mutation.level_switch(g, sctx) end
    if ctx.db:params(g) <= ctx.db:params(ctx.uniform) then
      local m = ctx.dense:clone(); m:apply(ctx.db, g)
      local score = fitness.kl(m, batch)
      m:close()
      if score < best_score then best, best_score = g, score end
    end
  end
  local model = ctx.dense:clone()
  model:apply(ctx.db, best)
  return model, ctx.post_train(model)
end}
