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

return pretty
