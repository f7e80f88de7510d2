-- Seeded fuzzing of darwinhost's bindings and file readers, run as a child process by the test suite:
--   darwinhost Tests/fuzz/fuzz.lua ROOT CALLS FILES SEED      (in a scratch directory: calls may write files)
-- Every call runs under pcall: the process must end normally, whatever the arguments or the file contents. Methods
-- are also called with other classes' objects, closed objects, FILE* and any other value as self, and each class's
-- close, __close and __gc with everything but a live object of their own class. Each call is written to
-- `fuzz-calls.log` before it runs (the last line names the call that crashed or hung); a call taking over 60 s fails.
-- The last line says how many calls and files were tried, and the slowest call.
local root, call_count, file_count, seed = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local rng = darwin.generator(seed)
local fixtures = root .. "/Tests/Fixtures"

local function read(path) local f = assert(io.open(path, "rb")); local s = f:read("a"); f:close(); return s end
local function write(path, s) local f = assert(io.open(path, "wb")); f:write(s); f:close() end
local function pick(list) return list[rng:integer(1, #list)] end

-- The objects and values calls are made with.
local model = darwin.load(fixtures .. "/models/llama_gqa_tied")
local tok = darwin.tokenizer(fixtures .. "/tokenizers/bytelevel_gpt2")
local ids = tensor{{1, 2, 3, 4, 5, 6}}
local targets = model:targets(ids, {topk = 4})
local db = darwin.database.build(model, {{1, 2, 3, 4, 5, 6, 7, 8}, {8, 7, 6, 5, 4, 3, 2, 1}}, {path = "db", levels = 2, quiet = true})
local manifest = read("db/manifest.json")
local trainer = darwin.trainer(model:clone(), {lr = 1e-3})
local progress = darwin.progress("fuzz", 10)
local generator = darwin.generator(7)  -- the one calls get; `rng` drives the fuzzer and is never handed out
local closed = tensor.zeros(3); closed:close()
local closed_model = model:clone(); closed_model:close()
local deep = {}
do local d = deep; for _ = 1, 60 do d[1] = {}; d = d[1] end end
local selfref = {}
selfref[1] = selfref; selfref.attention = selfref
local values = {
  true, false, "", "x", "attention", "mlp", "db", 0, 1, 2, 3, -1, 7, -2^31, 2^31, 2^53, 2^70, -2^63, 1.5, -0.5,
  0 / 0, math.huge, -math.huge, 1e300, -1e300, 2^-1074, {}, {1, 2}, {{1, 2}, {3, 4}}, {0 / 0}, {math.huge}, {-1}, {2^70},
  {1, "x"}, deep, selfref, {attention = {1, 1}, mlp = {1, 1}}, {attention = {0 / 0}, mlp = {}}, {seqlen = 0 / 0, count = -1},
  {topk = 2^40}, {batch_size = 0}, {lr = 0 / 0, clip = -1}, {levels = 0}, function() end, coroutine.create(function() end),
  tensor.zeros(2, 3), tensor.ones(4), tensor.arange(0, 6):reshape(2, 3), tensor.zeros(0), ids, model, tok, db, targets,
  trainer, generator, string.rep("\xff\xfe", 3), 2^63, -2^63 - 1e5, math.maxinteger, math.mininteger, 1e15, 3e9, 2^40,
  string.rep("a", 100000), progress, closed, closed_model, io.stdout, {seqlen = 2^40, count = 2^40}, {topk = 0 / 0},
  {2^63, 1}, {-1, -1}, {dtype = "q8_0"}, {format = "gguf"},
}
local value_count = #values + 1  -- the last slot stands for nil

-- Every bound function: module functions and the methods of each object type.
local functions = {}
for _, module in ipairs{{"tensor", tensor}, {"darwin", darwin}, {"darwin.data", darwin.data}, {"darwin.database", darwin.database}} do
  for name, f in pairs(module[2]) do
    -- set_threads would slow the rest of the run; remove("db") would delete the database the file part mutates.
    if type(f) == "function" and name ~= "set_threads" and name ~= "remove" then functions[#functions + 1] = {module[1] .. "." .. name, f} end
  end
end
for _, object in ipairs{ids, model, tok, db, targets, trainer, generator, progress} do
  local meta = getmetatable(object)
  for name, f in pairs(meta.__methods or {}) do
    -- close() on the shared objects would leave them unusable for the rest of the run: it is called with every
    -- other self instead (a closed object's methods are fuzzed through `closed` and `closed_model`).
    local foreign_only = name == "close"
    functions[#functions + 1] = {meta.__name .. ":" .. name, f, object, foreign_only}
  end
  for _, field in ipairs({"__gc", "__close"}) do functions[#functions + 1] = {meta.__name .. "." .. field, meta[field], object, true} end
end
table.sort(functions, function(a, b) return a[1] < b[1] end)

local calls, failures, slowest, slowest_call = 0, {}, 0, ""
local log = assert(io.open("fuzz-calls.log", "w"))
log:setvbuf("line")
local function describe(v)
  local kind = type(v)
  if kind == "number" or kind == "boolean" then return tostring(v) end
  if kind == "string" then return #v > 20 and string.format("string(%d)", #v) or string.format("%q", v) end
  local meta = getmetatable(v)
  return kind == "userdata" and type(meta) == "table" and tostring(meta.__name) or kind
end
local function call_once(entry)
  local args, n = {}, rng:integer(0, 4)
  for i = 1, n do
    local k = rng:integer(1, value_count)
    args[i] = values[k]  -- nil when k is past the end
  end
  if entry[3] and rng:uniform() < 0.8 then
    local self = entry[3]
    if entry[4] or rng:uniform() < 0.1 then  -- another value as self
      repeat self = values[rng:integer(1, #values)] until self ~= entry[3]
    end
    table.insert(args, 1, self); n = n + 1
  elseif entry[4] and n > 0 and args[1] == entry[3] then
    args[1] = nil  -- close and the finalizers never get the shared object itself
  end
  local shown = {}
  for i = 1, n do shown[i] = describe(args[i]) end
  log:write(calls + 1, " ", entry[1], "(", table.concat(shown, ", "), ")\n")
  local started = darwin.clock()
  local ok, err = pcall(entry[2], table.unpack(args, 1, n))
  local seconds = darwin.clock() - started
  if seconds > slowest then slowest, slowest_call = seconds, entry[1] end
  if seconds > 60 then failures[#failures + 1] = string.format("%s took %.1f s", entry[1], seconds) end
  if not ok and type(err) ~= "string" then failures[#failures + 1] = entry[1] .. " raised a " .. type(err) end
  calls = calls + 1
end
for i = 1, call_count do
  local entry = functions[(i - 1) % #functions + 1]
  if rng:uniform() < 0.1 then
    local co = coroutine.wrap(function() call_once(entry) end)
    co()
  else
    call_once(entry)
  end
end

-- Files: seeded mutations of real files, each handed to the reader that takes it.
local weird = {"-1", "0", "1e300", "-1e300", "2147483648", "4294967296", "18446744073709551615", "99999999999999999999999",
               "1.5", "null", "\"x\"", "[]", "{}", "true", "-0", "NaN"}
local function mutate(bytes, header_end)
  local kind = rng:integer(1, 5)
  local limit = math.max(1, math.min(#bytes, header_end or #bytes))
  if kind == 1 then      -- flip a few bytes
    local out = {bytes:byte(1, -1)}
    for _ = 1, rng:integer(1, 8) do
      local at = rng:integer(1, limit)
      out[at] = (out[at] ~ (1 << rng:integer(0, 7))) & 255
    end
    local parts = {}
    for i = 1, #out, 4096 do parts[#parts + 1] = string.char(table.unpack(out, i, math.min(#out, i + 4095))) end
    return table.concat(parts)
  elseif kind == 2 then  -- truncate
    return bytes:sub(1, rng:integer(0, #bytes))
  elseif kind == 3 then  -- insert random bytes
    local at, junk = rng:integer(0, limit), {}
    for i = 1, rng:integer(1, 16) do junk[i] = string.char(rng:integer(0, 255)) end
    return bytes:sub(1, at) .. table.concat(junk) .. bytes:sub(at + 1)
  else                   -- replace a number in the text (JSON fields, safetensors headers, .npy headers)
    local spans = {}
    for s, e in bytes:sub(1, limit):gmatch("()%-?%d+%.?%d*()") do spans[#spans + 1] = {s, e} end
    if #spans == 0 then return bytes end
    local span = pick(spans)
    return bytes:sub(1, span[1] - 1) .. pick(weird) .. bytes:sub(span[2])
  end
end

local model_dir = fixtures .. "/models/llama_gqa_tied"
local config, weights = read(model_dir .. "/config.json"), read(model_dir .. "/model.safetensors")
local header_end = 8 + string.unpack("<I8", weights)
local tokenizer_json = read(fixtures .. "/tokenizers/bytelevel_gpt2/tokenizer.json")
-- A tokenizer with a Split regex: its pattern is mutated with regex syntax (groups, classes, quantifiers,
-- lookarounds, escapes), which reaches the regex engines' parsers and matchers.
local split_json = read(fixtures .. "/tokenizers/bytelevel_llama3/tokenizer.json")
local pattern_start, pattern_end = split_json:find('"Regex": *"[^"]*"')
local regex_pieces = {"(", ")", "(?:", "(?i:", "(?!", "(?=", "[", "]", "[^", "*", "+", "?", "*?", "{2}", "{1,3}", "{2,}",
                      "{9999999}", "|", "\\", "\\p{L}", "\\P{N}", "\\s", "\\S", "\\w", "\\d", "\\x{41}", "^", "$", ".",
                      "-", "a", "\\b", "(a*)*", "((((", "))))"}
local function mutate_pattern()
  local body = split_json:sub(pattern_start, pattern_end)
  for _ = 1, rng:integer(1, 4) do
    local at = rng:integer(#'"Regex": "' + 1, #body)
    body = body:sub(1, at - 1) .. pick(regex_pieces) .. body:sub(at + (rng:integer(0, 1) == 1 and 1 or 0))
  end
  return split_json:sub(1, pattern_start - 1) .. body .. split_json:sub(pattern_end + 1)
end
local npy = "\x93NUMPY\x01\x00" .. string.pack("<I2", 70) .. "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }" ..
            string.rep(" ", 70 - 57 - 1) .. "\n" .. string.pack("<i4<i4<i4", 7, 8, 9)
local jsonl = '{"text": "def f(x):"}\n{"text": "    return x"}\r\n'
-- A gzip stream (written by the gzip program when there is one) and one database entry file, mutated below too.
write("text.txt", "def f(x):\n    return x + 1\n")
local gz = os.execute("gzip -kf text.txt") and read("text.txt.gz") or nil
local entry_name
for _, name in ipairs(darwin.list("db")) do if name:find("mlp.level1") then entry_name = "db/" .. name end end
local entry = read(entry_name)
local files = 0
os.execute("mkdir -p m")
for i = 1, file_count do
  local which = i % 8
  if which == 0 then
    write("m/config.json", mutate(config)); write("m/model.safetensors", weights)
    local ok, m = pcall(darwin.load, "m")
    if ok then pcall(m.perplexity, m, ids) end
  elseif which == 1 then
    write("m/config.json", config); write("m/model.safetensors", mutate(weights, header_end))
    local ok, m = pcall(darwin.load, "m")
    if ok then pcall(m.perplexity, m, ids) end
  elseif which == 2 then
    write("tokenizer.json", i % 16 == 2 and mutate_pattern() or mutate(tokenizer_json))
    local ok, t = pcall(darwin.tokenizer, "tokenizer.json")
    if ok then pcall(t.encode, t, "def f(x):\n    return x + 1  # é 世界") end
  elseif which == 3 then
    write("ids.npy", mutate(npy, 80)); pcall(darwin.data.tokens, "ids.npy")
  elseif which == 4 then
    write("docs.jsonl", mutate(jsonl)); pcall(darwin.data.tokens, "docs.jsonl", tok)
  elseif which == 6 then
    if gz then write("t.txt.gz", mutate(gz)); pcall(darwin.data.tokens, "t.txt.gz", tok) end
  elseif which == 7 then
    write(entry_name, mutate(entry, 200))
    local ok, d = pcall(darwin.database.open, "db")
    if ok then local candidate = model:clone(); pcall(candidate.apply, candidate, d, {attention = {0, 0}, mlp = {1, 1}}) end
    write(entry_name, entry)
  else
    write("db/manifest.json", mutate(manifest))
    local ok, d = pcall(darwin.database.open, "db")
    if ok then
      local candidate = model:clone()
      pcall(candidate.apply, candidate, d, {attention = {1, 2}, mlp = {2, 1}})
      pcall(d.kept, d, 1, "mlp", 1)
    end
  end
  files = files + 1
end
write("db/manifest.json", manifest)

if #failures > 0 then error("errors that are not strings:\n" .. table.concat(failures, "\n")) end
log:close()
print(string.format("slowest call: %s, %.2f s", slowest_call, slowest))
print(string.format("fuzz: %d calls of %d functions, %d mutated files", calls, #functions, files))
