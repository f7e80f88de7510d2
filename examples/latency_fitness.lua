-- A fitness that optimises speed, not only size: the stock KL plus the measured time of one forward pass.
-- Use: darwinhost scripts/darwinlm.lua ... --fitness examples/latency_fitness.lua
local fitness = require("fitness")

return fitness.plus(fitness.kl, function(model, batch)
  local start = darwin.clock()
  model:forward(batch.ids:narrow(1, 1, 1))
  return 0.01 * (darwin.clock() - start)   -- seconds, weighted against the KL
end)
