-- A selection with another schedule: successive halving on one budget that doubles each round, no fine-tuning.
-- It returns only the winner (no stage records). Use: --selection examples/successive_halving.lua
return function(candidates, ctx)
  local pool, tokens = {ctx.parent}, 2 * (ctx.schedule[1].tokens or 64)
  for _, g in ipairs(candidates) do pool[#pool + 1] = g end
  while #pool > 1 do
    local batch = ctx.fitness.prepare(ctx, ctx.sample("fitness", tokens))
    local scored = {}
    for i, g in ipairs(pool) do
      local m = ctx.model:clone(); m:apply(ctx.db, g)
      scored[i] = {g = g, s = ctx.fitness.score(m, batch)}
      m:close()
    end
    table.sort(scored, function(a, b) return a.s < b.s end)
    pool = {}
    for i = 1, math.max(1, #scored // 2) do pool[i] = scored[i].g end
    tokens = tokens * 2
  end
  return pool[1]
end
