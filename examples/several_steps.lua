-- A mutation that moves several steps at once: 2 to 4 of the stock level switches in a row (still size-preserving).
-- Use: --mutation examples/several_steps.lua
local mutation = require("mutation")

return function(parent, ctx)
  local child = parent
  for _ = 1, ctx.rng:integer(2, 4) do child = mutation.level_switch(child, ctx) end
  return child
end
