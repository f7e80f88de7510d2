--- selection: DarwinLM's multi-stage, training-aware selection. Each stage fine-tunes every remaining candidate
-- (on a copy of the model) on fresh training tokens, scores it on fresh calibration tokens and keeps the best
-- `survivors`. The parent joins the last stage (elitism). A stage with train_tokens = 0 is EvoPress's selection.
-- In an MPI job the candidates of a stage are spread over the ranks (distributed.map), with the same result.
local genome = require("genome")
local fitness = require("fitness")
local finetune = require("finetune")
local distributed = require("distributed")
local selection = {}

--- Runs the stages of ctx.schedule ({survivors =, tokens =, train_tokens =} each) over `candidates`, fine-tuning
-- with ctx.finetune (finetune.adamw when absent) and scoring with ctx.fitness (an object: see fitness);
-- returns the winning genome and one record per stage {candidates, tokens, train_tokens, scores (best first)}.
function selection.multistage(candidates, ctx)
  local pool, records = {}, {}
  for i, g in ipairs(candidates) do pool[i] = g end
  for s, stage in ipairs(ctx.schedule) do
    if s == #ctx.schedule and ctx.parent then
      local present = false
      for _, g in ipairs(pool) do if genome.equal(g, ctx.parent) then present = true end end
      if not present then pool[#pool + 1] = ctx.parent end
    end
    local score_with = ctx.fitness or fitness.kl
    local batch = score_with.prepare(ctx, ctx.sample("fitness", stage.tokens))
    local train_ids = (stage.train_tokens or 0) > 0 and ctx.sample("train", stage.train_tokens) or nil
    -- Each candidate is fine-tuned and scored on one rank of an MPI job (all of them in a single process).
    local scores_by_candidate = distributed.map(pool, function(g)
      local candidate = ctx.model:clone()
      candidate:apply(ctx.db, g)
      local trainer = train_ids and (ctx.finetune or finetune.adamw)(candidate, train_ids, ctx)
      local score = score_with.score(candidate, batch)
      -- Released at once: a candidate and its trainer hold a model's worth of memory or more.
      if trainer then trainer:close() end
      candidate:close()
      if type(score) ~= "number" or score ~= score then
        error("fitness function returned " .. tostring(score) .. " for genome " .. genome.format(g) .. " (expected a number)")
      end
      if ctx.progress then ctx.progress:step(1, string.format("stage %d/%d", s, #ctx.schedule)) end
      return score
    end)
    if ctx.progress then ctx.progress:step(#pool - distributed.owned(#pool), string.format("stage %d/%d", s, #ctx.schedule)) end
    local scored = {}
    for i, g in ipairs(pool) do scored[i] = {genome = g, score = scores_by_candidate[i], order = i} end
    table.sort(scored, function(a, b) if a.score ~= b.score then return a.score < b.score end return a.order < b.order end)
    pool = {}
    local scores = {}
    for i, entry in ipairs(scored) do
      if i <= stage.survivors then pool[#pool + 1] = entry.genome end
      scores[i] = entry.score
    end
    records[s] = {candidates = #scored, tokens = stage.tokens, train_tokens = stage.train_tokens or 0, scores = scores}
  end
  return pool[1], records
end

return selection
