--- adapt_pruner: the building blocks of Adapt-Pruner (arXiv 2502.03460) on darwinhost's primitives:
-- layer importance from how much a block changes its input, per-layer sparsity allocated from it (less important
-- layers pruned more, the average held at the target), and an incremental schedule.
-- Choices the paper leaves open, made here: importance is averaged over all tokens of the calibration data;
-- the allocation maps min-max normalised importance linearly onto [target + amplitude, target - amplitude],
-- then shifts and clips so the mean stays exactly at the target.
local adapt = {}

--- Importance of each block: 1 - cosine similarity between its input and output hidden states, averaged
-- over all positions of `data` ([n, seq] ids). Returns a Lua array, one value per block.
function adapt.importance(model, data)
  local _, hidden = model:forward(data, {hidden_states = true})
  local out = {}
  for i = 1, #hidden - 1 do
    local a, b = hidden[i], hidden[i + 1]
    local dot = (a * b):sum(3)
    local cos = dot / (a:norm(2, 3) * b:norm(2, 3) + 1e-12)
    out[i] = 1 - cos:mean()
  end
  return out
end

--- Per-layer sparsities in [0, max_sparsity] with mean exactly `target` (when feasible): less important
-- layers get more. `amplitude` is the largest deviation from the target before re-centring.
function adapt.allocate(importance, target, amplitude, max_sparsity)
  max_sparsity = max_sparsity or 1
  local n = #importance
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(importance) do lo = math.min(lo, v); hi = math.max(hi, v) end
  local s = {}
  for i, v in ipairs(importance) do
    local normalised = hi > lo and (v - lo) / (hi - lo) or 0.5
    s[i] = target + amplitude * (1 - 2 * normalised)
  end
  -- Re-centre on the target, clip into range, and repeat until the clipped values keep the mean.
  for _ = 1, 50 do
    local mean = 0
    for i = 1, n do mean = mean + s[i] end
    mean = mean / n
    if math.abs(mean - target) < 1e-12 then break end
    for i = 1, n do s[i] = math.min(max_sparsity, math.max(0, s[i] + target - mean)) end
  end
  return s
end

--- Cumulative targets reaching `target` in steps of `fraction` of it (Adapt-Accel prunes ~5% of the target
-- at a time); the last entry is exactly `target`.
function adapt.schedule(target, fraction)
  fraction = fraction or 0.05
  local steps = math.max(1, math.ceil(1 / fraction - 1e-9))
  local out = {}
  for k = 1, steps do out[k] = target * k / steps end
  out[steps] = target
  return out
end

--- The database levels nearest to per-layer sparsities (fractions of a kind's structures removed).
function adapt.levels_for(db, kind, sparsities)
  local levels, removed = {}, db:levels(kind)
  local total = removed[#removed]
  for i, s in ipairs(sparsities) do
    local best, best_gap = 0, math.huge
    for level = 0, #removed - 1 do
      local gap = math.abs(removed[level + 1] / total - s)
      if gap < best_gap then best, best_gap = level, gap end
    end
    levels[i] = best
  end
  return levels
end

return adapt
