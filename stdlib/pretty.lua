--- pretty: readable one-value-per-line rendering of Lua values, used by the REPL.
-- Tables print with sorted keys and nesting; cycles print as <cycle>; long tables are cut.
-- Usage: local pretty = require("pretty"); print(pretty.format({a = 1, {2, 3}}))
local pretty = {}

--- Maximum number of entries shown per table before "..." is printed.
pretty.max_items = 50

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function format_value(v, indent, seen)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" or getmetatable(v) ~= nil and getmetatable(v).__tostring then return tostring(v) end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local keys, n = {}, #v
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_order)
  local parts, count = {}, 0
  local inner = indent .. "  "
  for i = 1, n do
    count = count + 1
    if count > pretty.max_items then break end
    parts[#parts + 1] = format_value(v[i], inner, seen)
  end
  for _, k in ipairs(keys) do
    count = count + 1
    if count > pretty.max_items then break end
    local key = is_identifier(k) and k or "[" .. format_value(k, inner, seen) .. "]"
    parts[#parts + 1] = key .. " = " .. format_value(v[k], inner, seen)
  end
  if count > pretty.max_items then parts[#parts + 1] = "..." end
  seen[v] = nil
  if #parts == 0 then return "{}" end
  local flat = "{" .. table.concat(parts, ", ") .. "}"
  if #flat <= 72 and not flat:find("\n") then return flat end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "}"
end

--- Returns a readable string for any Lua value.
function pretty.format(v)
  return format_value(v, "", {})
end

--- Right-aligned columns: `rows` is a list of lists of values (the first row is the header).
function pretty.columns(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, #tostring(cell)) end
  end
  local lines = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do cells[i] = string.rep(" ", widths[i] - #tostring(cell)) .. tostring(cell) end
    lines[#lines + 1] = table.concat(cells, "  ")
  end
  return table.concat(lines, "\n")
end

--- A database's levels: per level, the heads and MLP neurons removed in each unit and block 1's parameters there.
function pretty.database(db)
  local rows = {{"level", "heads removed", "neurons removed", "attention params", "MLP params"}}
  local heads, neurons = db:levels("attention"), db:levels("mlp")
  for level = 0, math.max(#heads, #neurons) - 1 do
    local a, m = heads[level + 1], neurons[level + 1]
    rows[#rows + 1] = {level, a or "", m or "", a and db:params(1, "attention", level) or "", m and db:params(1, "mlp", level) or ""}
  end
  return string.format("%s: %d blocks\n%s", tostring(db), db:blocks(), pretty.columns(rows))
end

--- A genome against its database: per block the level, and heads and neurons kept, and the parameters in all.
function pretty.genome(g, db)
  local heads, neurons = db:levels("attention"), db:levels("mlp")
  local rows = {{"block", "attention level", "heads kept", "MLP level", "neurons kept"}}
  for b = 1, #g.attention do
    rows[#rows + 1] = {b, g.attention[b], heads[#heads] - heads[g.attention[b] + 1], g.mlp[b], neurons[#neurons] - neurons[g.mlp[b] + 1]}
  end
  return pretty.columns(rows) .. string.format("\n%d parameters", db:params(g))
end

--- A search log (evolution.run's records): per generation the winner's fitness, parameters and elapsed time.
function pretty.log(log)
  local rows = {{"generation", "fitness", "params", "seconds"}}
  for _, r in ipairs(log) do
    local last = r.stages and r.stages[#r.stages]
    local score = last and last.scores and last.scores[1]
    rows[#rows + 1] = {r.generation, score and string.format("%.5f", score) or "-", r.params or "", string.format("%.1f", r.elapsed or 0)}
  end
  return pretty.columns(rows)
end

return pretty
