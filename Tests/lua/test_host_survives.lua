-- Regression cases of issue 34: each used to end in a signal (segfault, trap, abort), a hang or a silently wrong
-- result; each must now be a catchable Lua error with a clear message, or the correct result.
local check = require("check")
local json = require("json")
local plot = require("plot")
local cli = require("cli")

local root = darwin.test_root
local fixtures = root .. "/Tests/Fixtures"
local scratch = os.tmpname(); os.remove(scratch)
darwin.mkdir(scratch)

-- A class's close, __close and __gc check their self, like every method: another userdata is an argument error.
local model = darwin.load(fixtures .. "/models/llama_gqa_tied", {dtype = "float32"})
local tok = darwin.tokenizer(fixtures .. "/tokenizers/bytelevel_gpt2")
local objects = {
  model, tok, tensor.zeros(2), darwin.progress("p", 1), darwin.generator(1), darwin.lock(scratch .. "/locked"),
  model:targets(tensor{{1, 2, 3}}, {topk = 2}), darwin.trainer(model:clone(), {lr = 1e-3}),
}
for i, object in ipairs(objects) do
  local meta = getmetatable(object)
  for _, field in ipairs({"__gc", "__close"}) do
    for _, foreign in ipairs({io.stdout, objects[i % #objects + 1]}) do
      local ok, err = pcall(meta[field], foreign)
      check.eq(ok, false, meta.__name .. "." .. field .. " on a foreign self")
      check.eq(err:find("expected, got", 1, true) ~= nil, true, meta.__name .. "." .. field .. ": " .. err)
    end
  end
  check.raises(function() meta.__methods.close(io.stdout) end, meta.__name .. " expected, got FILE*")
end
check.raises(function() model.close(tensor.zeros(1)) end, "darwin.Model expected, got darwin.Tensor")
check.eq(model:parameters() > 0, true, "the model survives close calls on other objects")

-- Tensor sizes: negative, overflowing and impossible shapes are errors, before anything is computed.
check.raises(function() return tostring(tensor.zeros(1):expand(-2)) end, "size -2 in shape [-2] must be non-negative")
check.raises(function() return tensor.zeros(3):expand(-1, 3):sum() end, "must be non-negative")
check.raises(function() return tostring(tensor.zeros(3):expand(3e9, 3e9, 3)) end, "more elements than an address space holds")
check.raises(function() return tensor.zeros(3):expand(1e12, 3):sum() end, "not enough memory for a tensor of shape [1000000000000,3]")
check.raises(function() return tensor.zeros(100000, 1) + tensor.zeros(1, 100000) * 0 + tensor.zeros(1, 1e9) end, "not enough memory")
check.raises(function() return tensor.zeros(1e5, 1):matmul(tensor.zeros(1, 1e6)) end, "not enough memory")
check.raises(function() return tensor.zeros(4):reshape(2^40, 2^40, -1) end, "cannot reshape")
check.eq(tensor.zeros(1):expand(3):sum(), 0, "a good expand still works")

-- Counts from Lua: a sequence count beyond memory, a progress amount beyond an integer.
check.raises(function() darwin.data.sequences(tensor.arange(0, 100), nil, {seqlen = 10, count = 2^40}) end, "not enough memory")
local p = darwin.progress("huge", 10)
p:update(2^63)
p:finish()
check.eq(p:done(), 2^63, "progress keeps a huge amount")

-- A truncated .npy header is a format error naming the file.
darwin.write_file(scratch .. "/bad.npy", "\x93NUMPY\x02\x00\x10\x00")
check.raises(function() darwin.data.tokens(scratch .. "/bad.npy") end, "bad.npy: the file ends (10 bytes) inside the .npy header length")
darwin.write_file(scratch .. "/v9.npy", "\x93NUMPY\x09\x00\x10\x00\x00\x00")
check.raises(function() darwin.data.tokens(scratch .. "/v9.npy") end, "unsupported .npy version 9")

-- Printing: zero next to a value that needs exponent notation used to loop for ever.
check.eq(tostring(tensor{0, 1e6}), "tensor([0.0000e+00, 1.0000e+06], shape=[2], dtype=float32)", "zero in exponent notation")
check.eq(tostring(tensor{-0.0, 1e-30}):find("-0.0000e+00", 1, true) ~= nil, true, "negative zero")

-- An element is set to any number; indices stay integers.
local t = tensor.zeros(2, 2)
t:set(1, 2, 0.5)
t:set({2, 1}, -1.25)
check.same(t:reshape(-1):totable(), {0, 0.5, -1.25, 0}, "set with a fraction")
check.raises(function() t:set(1.5, 1, 0) end, "number has no integer representation")

-- Plots of values near the largest double, equal values, NaN and infinities: a chart, never an endless loop.
for _, values in ipairs({{1e308, 1e308}, {1e308, 1}, {1.7e308, -1.7e308, 3}, {1e300, 1e300 + 1e285}, {0 / 0, 1}, {math.huge, 2}, {5, 5}}) do
  local points = {}
  for i, v in ipairs(values) do points[i] = {i, v} end
  local svg = plot.svg({{name = "fitness", points = points}})
  check.eq(svg:sub(1, 4), "<svg", "a chart of " .. table.concat(values, ", "))
  check.eq(#svg < 20000, true, "a chart of bounded size")
end
check.raises(function() plot.svg({{name = "x", points = {{1, 0 / 0}}}}) end, "no points with finite coordinates")

-- JSON: a null array entry keeps the positions after it; a malformed number is an error, not nil.
local decoded = json.decode('["a", null, "b"]')
check.eq(#decoded, 3, "three entries")
check.eq(decoded[2], json.null, "null entry")
check.eq(decoded[3], "b", "the entry after null keeps its position")
check.eq(json.encode(decoded), '["a",null,"b"]', "null round-trips")
check.eq(json.decode('{"a": null}').a, nil, "a null member is absent")
check.raises(function() json.decode("1e") end, "unexpected character")
check.raises(function() json.null.x = 1 end, "read-only")

-- GGUF: values a type cannot hold are refused with the tensor's name, not written as something else (or a trap).
local small = darwin.random_model{vocab = 600, hidden = 64, layers = 1, heads = 4, kv_heads = 2, intermediate = 64, seed = 1}
local weight = small:parameter("model.layers.0.mlp.down_proj.weight")
weight:set(1, 1, 0 / 0)
check.raises(function() small:save(scratch .. "/nan.gguf", {format = "gguf", dtype = "q8_0", tokenizer = tok}) end,
  "(the model has diverged?): q8_0 cannot store NaN")
check.eq(darwin.exists(scratch .. "/nan.gguf"), nil, "nothing written")
weight:set(1, 1, 1e6)
check.raises(function() small:save(scratch .. "/big.gguf", {format = "gguf", dtype = "f16", tokenizer = tok}) end,
  "beyond float16's range")
check.eq(small:save(scratch .. "/big.gguf", {format = "gguf", dtype = "bf16", tokenizer = tok}).architecture, "llama", "bf16 holds it")
local leftovers = {}
for _, name in ipairs(darwin.list(scratch)) do if name:find("%.tmp%-") then leftovers[#leftovers + 1] = name end end
check.eq(#leftovers, 0, "no temporary files after refused writes: " .. table.concat(leftovers, ", "))

-- Writes never replace what is not a regular file, nor the checkpoint a model came from.
check.raises(function() small:save("/dev/null", {format = "gguf", tokenizer = tok}) end, "exists and is not a regular file")
darwin.mkdir(scratch .. "/a-directory")
check.raises(function() darwin.write_file(scratch .. "/a-directory", "x") end, "exists and is not a regular file")
check.eq(darwin.exists(scratch .. "/a-directory"), "directory", "the directory is still there")
local copy = scratch .. "/model"
model:save(copy)
local reloaded = darwin.load(copy)
check.raises(function() reloaded:save(copy) end, "is the checkpoint this model was loaded from")
check.raises(function() reloaded:clone():save(copy .. "/../model") end, "is the checkpoint this model was loaded from")
local spec = {name = "t.lua", options = {{"model", "string", nil, ""}, {"output", "string", nil, ""}}}
darwin.mkdir(scratch .. "/out")
check.raises(function() cli.parse(spec, {"--model", copy, "--output", scratch}) end, "is the input checkpoint --model")
check.eq(cli.parse(spec, {"--model", copy, "--output", scratch .. "/out"}).output, scratch .. "/out", "another output is fine")

-- A temporary left by a writer that was killed is removed the next time the file is written.
local pipe = io.popen("sh -c 'echo $$'")
local dead = pipe:read("l"); pipe:close()
darwin.write_file(scratch .. "/.state.json.tmp-" .. dead, string.rep("x", 1000))
darwin.write_file(scratch .. "/state.json", "{}")
check.eq(darwin.exists(scratch .. "/.state.json.tmp-" .. dead), nil, "a dead writer's temporary is removed")

darwin.remove(scratch)
