--- schedule: the stages of the multi-stage selection. A schedule is a list of stages
-- {survivors = n, tokens = scoring tokens, train_tokens = fine-tuning tokens (0: none)}; this module builds and
-- checks them. Any list of such tables is a schedule; `schedule.validate` says what is wrong with one.
local schedule = {}

--- The default: three stages with growing token budgets (a scaled-down version of the reference's).
function schedule.default()
  return {
    {survivors = 4, tokens = 512, train_tokens = 2048},
    {survivors = 2, tokens = 2048, train_tokens = 8192},
    {survivors = 1, tokens = 4096, train_tokens = 16384},
  }
end

--- DarwinLM's shorthand: `stages` stages, survivors halving from `offspring` down to 1, scoring and fine-tuning
-- tokens doubling from `fitness_tokens` and `train_tokens` (0 = EvoPress: no fine-tuning).
function schedule.halving(stages, offspring, fitness_tokens, train_tokens)
  local out = {}
  for s = 1, stages do
    out[s] = {survivors = math.max(1, offspring >> s), tokens = fitness_tokens << (s - 1), train_tokens = train_tokens << (s - 1)}
  end
  out[#out].survivors = 1
  return out
end

--- A schedule from explicit per-stage lists, as the paper gives them: `survivors`, `tokens` and `train_tokens` are
-- lists of one value per stage (a single value is repeated; `train_tokens` may be omitted: no fine-tuning).
-- Example: schedule.explicit{survivors = {8, 4, 2, 1}, tokens = {1024, 2048, 4096, 8192},
--                            train_tokens = {10000, 50000, 100000, 200000}}
function schedule.explicit(lists)
  local function list(v) return type(v) == "table" and v or {v} end
  local survivors, tokens, train = list(lists.survivors), list(lists.tokens), list(lists.train_tokens or 0)
  local stages = math.max(#survivors, #tokens, #train)
  for name, l in pairs({survivors = survivors, tokens = tokens, train_tokens = train}) do
    if #l ~= 1 and #l ~= stages then
      error(string.format("schedule: %s has %d values, the other lists %d stages (give one value per stage, or one for all)", name, #l, stages), 2)
    end
  end
  local out = {}
  for s = 1, stages do
    out[s] = {survivors = survivors[#survivors == 1 and 1 or s], tokens = tokens[#tokens == 1 and 1 or s],
              train_tokens = train[#train == 1 and 1 or s]}
  end
  return schedule.validate(out, "schedule.explicit")
end

--- Checks a schedule: a non-empty list of stages, each with an integer survivors >= 1, tokens >= 1 and
-- train_tokens >= 0 (missing: 0), survivors not growing from stage to stage. `who` names its maker in the error.
-- Returns the schedule.
function schedule.validate(stages, who)
  local function fail(msg) error(string.format("schedule contract (%s): %s", who or "schedule", msg), 0) end
  if type(stages) ~= "table" or #stages == 0 then fail("expected a non-empty list of stages {survivors =, tokens =, train_tokens =}, got " .. type(stages)) end
  for s, stage in ipairs(stages) do
    if type(stage) ~= "table" then fail(string.format("stage %d is a %s, expected a table", s, type(stage))) end
    for _, field in ipairs({"survivors", "tokens", "train_tokens"}) do
      local v, least = stage[field], field == "train_tokens" and 0 or 1
      if not (v == nil and field == "train_tokens") and (math.type(v) ~= "integer" or v < least) then
        fail(string.format("stage %d: %s is %s, expected an integer >= %d", s, field, tostring(v), least))
      end
    end
    if s > 1 and stage.survivors > stages[s - 1].survivors then
      fail(string.format("stage %d keeps %d survivors, more than stage %d's %d", s, stage.survivors, s - 1, stages[s - 1].survivors))
    end
  end
  return stages
end

return schedule
