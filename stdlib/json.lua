--- json: encoding and decoding of the JSON subset used for search state and logs
-- (objects, arrays, strings, numbers, booleans, null). Arrays are Lua sequences; an empty table encodes as [].
-- A null member of an object is an absent key; a null entry of an array is `json.null`, so that the entries after it
-- keep their positions (`["a", null, "b"]` has three entries). Integers round-trip exactly (64-bit); other numbers
-- with 17 significant digits.
local json = {}

--- The value of a null array entry (encoded back as null).
json.null = setmetatable({}, {__name = "json.null", __tostring = function() return "null" end,
                              __newindex = function() error("json.null is read-only", 2) end})

local escapes = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t"}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return escapes[c] or string.format("\\u%04x", c:byte()) end) .. '"'
end

local function encode(v, out)
  local t = type(v)
  if t == "nil" or v == json.null then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("json.encode: cannot encode " .. tostring(v), 3) end
    out[#out + 1] = math.type(v) == "integer" and tostring(v) or string.format("%.17g", v)
  elseif t == "string" then out[#out + 1] = encode_string(v)
  elseif t == "table" then
    local n = #v
    local is_array = next(v) == nil or (n > 0 and next(v, n) == nil)
    if is_array then
      for k in pairs(v) do if math.type(k) ~= "integer" then is_array = false break end end
    end
    if is_array then
      out[#out + 1] = "["
      for i = 1, n do if i > 1 then out[#out + 1] = "," end; encode(v[i], out) end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then error("json.encode: object keys must be strings, found " .. type(k), 3) end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k) .. ":"
        encode(v[k], out)
      end
      out[#out + 1] = "}"
    end
  else error("json.encode: cannot encode a " .. t, 3) end
end

--- Encodes a Lua value as a JSON string (object keys sorted).
function json.encode(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

local function decode_error(s, i, what) error(string.format("json.decode: %s at character %d", what, i), 0) end

local function skip(s, i) return s:find("[^ \t\r\n]", i) or #s + 1 end

local decode_value
local escapes = {b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/"}

--- The code point of the \uXXXX escape at `j` (the backslash), and where the next character starts. A UTF-16
-- surrogate pair (two escapes) gives one code point, as JSON writes characters beyond U+FFFF.
local function decode_unicode(s, j)
  local code = tonumber(s:match("^\\u(%x%x%x%x)", j) or "", 16)
  if not code then decode_error(s, j, "bad \\u escape (expected four hex digits)") end
  if code >= 0xD800 and code <= 0xDBFF then
    local low = tonumber(s:match("^\\u(%x%x%x%x)", j + 6) or "", 16)
    if low and low >= 0xDC00 and low <= 0xDFFF then return 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00), j + 12 end
  end
  return code, j + 6
end

local function decode_string(s, i)
  local out, j = {}, i + 1
  while true do
    local k = s:find('["\\]', j)
    if not k then decode_error(s, j, "unterminated string") end
    out[#out + 1] = s:sub(j, k - 1)
    if s:byte(k) == 34 then return table.concat(out), k + 1 end
    local e = s:sub(k + 1, k + 1)
    if e == "u" then
      local code; code, j = decode_unicode(s, k)
      out[#out + 1] = utf8.char(code)
    elseif escapes[e] then out[#out + 1] = escapes[e]; j = k + 2
    else decode_error(s, k, "bad escape") end
  end
end

decode_value = function(s, i)
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local obj = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "}" then return obj, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then decode_error(s, i, "expected a string key") end
      local k; k, i = decode_string(s, i)
      i = skip(s, i)
      if s:sub(i, i) ~= ":" then decode_error(s, i, "expected ':'") end
      obj[k], i = decode_value(s, i + 1)
      i = skip(s, i)
      local d = s:sub(i, i)
      if d == "}" then return obj, i + 1 end
      if d ~= "," then decode_error(s, i, "expected ',' or '}'") end
      i = skip(s, i + 1)
    end
  elseif c == "[" then
    local arr = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "]" then return arr, i + 1 end
    local n = 0
    while true do
      local v
      v, i = decode_value(s, i)
      n = n + 1
      if v == nil then v = json.null end
      arr[n] = v
      i = skip(s, i)
      local d = s:sub(i, i)
      if d == "]" then return arr, i + 1 end
      if d ~= "," then decode_error(s, i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then return decode_string(s, i)
  elseif s:sub(i, i + 3) == "true" then return true, i + 4
  elseif s:sub(i, i + 4) == "false" then return false, i + 5
  elseif s:sub(i, i + 3) == "null" then return nil, i + 4
  else
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    local value = num and tonumber(num)
    if not value then decode_error(s, i, c == "" and "unexpected end of text" or "unexpected character '" .. c .. "'") end
    return math.tointeger(value) or value, i + #num
  end
end

--- Decodes a JSON string; errors give the character position.
function json.decode(s)
  local v, i = decode_value(s, 1)
  if skip(s, i) <= #s then decode_error(s, i, "trailing characters") end
  return v
end

return json
