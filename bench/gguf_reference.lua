-- gguf_reference: exports a checkpoint (dense, or a pruned darwinhost model) to GGUF and writes what llama.cpp must
-- reproduce: darwinhost's negative log-likelihood on evaluation sequences and its token ids for sample texts.
-- `bench/verify_gguf.py` then checks both in llama.cpp. Usage:
--   darwinhost bench/gguf_reference.lua --model DIR --text FILE --output DIR [--dtype f32] [--seqlen 128 --sequences 4]
local cli = require("cli")
local json = require("json")

local o = cli.parse({
  name = "bench/gguf_reference.lua",
  about = "Writes OUTPUT/model.gguf and OUTPUT/reference.json (darwinhost's NLL and token ids) for bench/verify_gguf.py.",
  options = {
    {"model", "string", nil, "checkpoint directory (a tokenizer.json beside it, or --tokenizer)"},
    {"tokenizer", "string", nil, "tokenizer.json (default: the model's)"},
    {"text", "string", nil, "text file for the evaluation sequences and the tokenizer samples (.gz read too)"},
    {"output", "string", nil, "directory for model.gguf and reference.json"},
    {"dtype", "string", "f32", "GGUF element type: f32, f16, bf16, q8_0"},
    {"seqlen", "integer", 128, "tokens per evaluation sequence"},
    {"sequences", "integer", 4, "evaluation sequences"},
    {"texts", "string", nil, "a JSON list of more tokenizer samples: strings or {text = ...} (e.g. Tests/Fixtures/tokenizers/*/cases.json)"},
  },
}, arg)
for _, name in ipairs({"model", "text", "output"}) do
  if o[name] == nil then error("--" .. name .. " is required (see --help)", 0) end
end
local model = darwin.load(o.model)
local tok = darwin.tokenizer(o.tokenizer or o.model)
darwin.mkdir(o.output)
local report = model:save(o.output .. "/model.gguf", {format = "gguf", dtype = o.dtype, tokenizer = tok})
for _, note in ipairs(report.notes) do print("note: " .. note) end

local data = darwin.data.sequences(o.text, tok, {seqlen = o.seqlen, count = o.sequences, mode = "sequential"})
local nll, count = model:nll(data)
-- Tokenizer samples: text that exercises the pre-tokenizer, and lines of the evaluation text.
local samples = {"def f(x):\n    return x  # 12345 ok\n", "Hello, world! It's 2024... naïve café 漢字 🙂\n\n\tend"}
for line in tok:decode(data:totable()[1]):gmatch("[^\n]+") do if #samples < 24 then samples[#samples + 1] = line end end
for _, case in ipairs(o.texts and json.decode(darwin.read_file(o.texts)) or {}) do
  samples[#samples + 1] = type(case) == "table" and case.text or case
end
local ids = {}
for i, s in ipairs(samples) do ids[i] = tok:encode(s, {add_special_tokens = false}) end
darwin.write_file(o.output .. "/reference.json", json.encode({
  sequences = data:totable(), nll = nll, count = count, texts = samples, ids = ids,
  architecture = report.architecture, parameters = model:parameters(), written_parameters = report.parameters,
}))
print(string.format("%s: %s, %d parameters (%d written); darwinhost perplexity %.6f on %d tokens",
  o.output .. "/model.gguf", report.architecture, model:parameters(), report.parameters, math.exp(nll / count), count))
