--- genome: one compression level per unit (attention and MLP of every block), as DarwinLM searches them.
-- A genome is a table {attention = {l1, ..., lB}, mlp = {l1, ..., lB}} of level numbers (0 = dense, as in
-- the compression database). Functions here never modify their arguments.
local genome = {}

--- The genome with every attention unit at level `attention_level` and every MLP at `mlp_level`.
function genome.uniform(blocks, attention_level, mlp_level)
  local g = {attention = {}, mlp = {}}
  for i = 1, blocks do g.attention[i] = attention_level; g.mlp[i] = mlp_level or attention_level end
  return g
end

--- A deep copy.
function genome.copy(g)
  return {attention = table.move(g.attention, 1, #g.attention, 1, {}), mlp = table.move(g.mlp, 1, #g.mlp, 1, {})}
end

--- A string identifying the genome (for de-duplication and as a table key).
function genome.key(g)
  return table.concat(g.attention, ",") .. "|" .. table.concat(g.mlp, ",")
end

--- True when both genomes have the same levels.
function genome.equal(a, b) return genome.key(a) == genome.key(b) end

--- Sum of levels per kind (constant under level-switch mutation).
function genome.level_sums(g)
  local a, m = 0, 0
  for _, l in ipairs(g.attention) do a = a + l end
  for _, l in ipairs(g.mlp) do m = m + l end
  return a, m
end

--- A one-line rendering: "attn 3 3 2 4 | mlp 5 4 6 3".
function genome.format(g)
  return "attn " .. table.concat(g.attention, " ") .. " | mlp " .. table.concat(g.mlp, " ")
end

--- The reference implementation's text form: one "model.layers.i.self_attn: level" / "...mlp: level" line per unit.
function genome.to_reference_text(g)
  local lines = {}
  for i = 1, #g.attention do
    lines[#lines + 1] = string.format("model.layers.%d.self_attn: %d", i - 1, g.attention[i])
    lines[#lines + 1] = string.format("model.layers.%d.mlp: %d", i - 1, g.mlp[i])
  end
  return table.concat(lines, "\n") .. "\n"
end

--- The uniform genome with every unit at `level` of `db` (checked against both kinds' levels).
function genome.at_level(db, level)
  for _, kind in ipairs({"attention", "mlp"}) do
    if math.type(level) ~= "integer" or level < 0 or level > db:max_level(kind) then
      error(string.format("genome.at_level: level %s does not exist for %s (0..%d)", tostring(level), kind, db:max_level(kind)), 2)
    end
  end
  return genome.uniform(db:blocks(), level, level)
end

--- Checks that `g` is a genome valid for `db`; `who` names the producer (a module) in the error message.
function genome.validate(g, db, who)
  local function fail(msg) error((who or "genome") .. " returned an invalid genome: " .. msg, 3) end
  if type(g) ~= "table" or type(g.attention) ~= "table" or type(g.mlp) ~= "table" then
    fail("expected {attention = {...}, mlp = {...}}, got " .. (type(g) == "table" and "a table without those fields" or type(g)))
  end
  local blocks = db:blocks()
  for _, kind in ipairs({"attention", "mlp"}) do
    local levels, max = g[kind], db:max_level(kind)
    if #levels ~= blocks then fail(string.format("%s has %d levels, expected %d (one per block)", kind, #levels, blocks)) end
    for i, l in ipairs(levels) do
      if math.type(l) ~= "integer" or l < 0 or l > max then
        fail(string.format("%s level of block %d is %s, expected an integer in 0..%d", kind, i, tostring(l), max))
      end
    end
  end
  return g
end

return genome
