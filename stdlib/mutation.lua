--- mutation: operators that make a child genome from a parent. Any function mutate(parent, ctx) -> child can
-- replace them; ctx.rng is a darwin.Generator and ctx.db the compression database.
local genome = require("genome")
local mutation = {}

--- DarwinLM's level-switch mutation: min(randint(1,3), randint(1,3)) flips; each flip picks a kind with
-- probability proportional to its number of units, moves one unit of that kind one level up (more pruned)
-- and another one level down, where those levels exist. Every level step of a kind removes the same number of
-- parameters, so the model size stays on target.
function mutation.level_switch(parent, ctx)
  local rng, db = ctx.rng, ctx.db
  local child = genome.copy(parent)
  local flips = math.min(rng:integer(1, 3), rng:integer(1, 3))
  for _ = 1, flips do
    local n_attention, n_mlp = #child.attention, #child.mlp
    local kind = rng:uniform() * (n_attention + n_mlp) < n_attention and "attention" or "mlp"
    local levels, max = child[kind], db:max_level(kind)
    local ups = {}
    for i, l in ipairs(levels) do if l < max then ups[#ups + 1] = i end end
    if #ups > 0 then
      local up = ups[rng:integer(1, #ups)]
      local downs = {}
      for i, l in ipairs(levels) do if i ~= up and l > 0 then downs[#downs + 1] = i end end
      if #downs > 0 then
        local down = downs[rng:integer(1, #downs)]
        levels[up] = levels[up] + 1
        levels[down] = levels[down] - 1
      end
    end
  end
  return child
end

return mutation
