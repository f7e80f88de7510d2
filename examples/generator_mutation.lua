-- A generator-style mutation operator: a coroutine hands out which kind of unit to move next (attention, then MLP,
-- and so on), and each call moves one level of that kind from one random block to another (size-preserving).
-- Coroutines are ordinary Lua inside darwinhost's bindings. Use: --mutation examples/generator_mutation.lua
local genome = require("genome")

local kinds = coroutine.wrap(function() while true do coroutine.yield("attention"); coroutine.yield("mlp") end end)

return function(parent, ctx)
  local child, kind = genome.copy(parent), kinds()
  local n, max = #child[kind], ctx.db:max_level(kind)
  local up, down = ctx.rng:integer(1, n), ctx.rng:integer(1, n)
  if up ~= down and child[kind][up] < max and child[kind][down] > 0 then
    child[kind][up], child[kind][down] = child[kind][up] + 1, child[kind][down] - 1
  end
  return child
end
