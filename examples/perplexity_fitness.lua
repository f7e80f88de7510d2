-- A fitness prototype without dense targets: the candidate's perplexity on the scoring tokens (lower is better).
-- Use: darwinhost scripts/darwinlm.lua ... --fitness examples/perplexity_fitness.lua
return require("fitness").perplexity
