-- evaluate: zero-shot multiple-choice accuracy (acc, acc_norm as lm-evaluation-harness computes them) of one or more
-- models on task files the user brings, and their perplexity on held-out text when --data is given. Prints a
-- Markdown table; --output writes it (OUTPUT.md) with every number and the per-question scores (OUTPUT.json).
--   darwinhost scripts/evaluate.lua --model dense-dir out/model --tasks arc_easy.jsonl piqa.jsonl
local cli = require("cli")
local eval = require("eval")
local json = require("json")
local pipeline = require("pipeline")

local o = cli.parse({
  name = "scripts/evaluate.lua",
  about = "Zero-shot accuracy (acc, acc_norm as lm-evaluation-harness computes them) of models on JSONL task files.",
  options = cli.with(cli.task_options, {
    {"model", "files", nil, "model directories: Hugging Face checkpoints or models darwinhost saved", "required"},
    {"tokenizer", "string", nil, "tokenizer.json or its directory (default: each model's directory)"},
    {"format", "string", nil, "the task files' row layout (default: detected per row; see docs/lua-api.md)"},
    {"data", "string", nil, "held-out text for a perplexity column (.txt, .jsonl, .npy, .bin, optionally .gz)"},
    {"seqlen", "integer", 256, "sequence length of the perplexity column"},
    {"eval_sequences", "integer", 32, "sequences of the perplexity column"},
    {"batch_size", "integer", 8, "sequences (requests) per forward pass"},
    {"threads", "integer", nil, "compute threads (default: all cores)"},
    {"output", "string", nil, "write OUTPUT.md (the table) and OUTPUT.json (all numbers, per-question scores)"},
  }),
}, arg)
o.tasks = o.tasks or error("scripts/evaluate.lua: option --tasks is required (see --help)", 0)
if o.threads then darwin.set_threads(o.threads) end
-- Task files are read and checked before any model is loaded.
local tasks = pipeline.tasks(o)

local rows, report = {}, {options = o, models = {}}
for _, dir in ipairs(o.model) do
  local model = darwin.load(dir)
  local tok = pipeline.tokenizer(dir, o.tokenizer)
  local results = pipeline.accuracy(model, tok, tasks, o, dir)
  local entry = {model = dir, parameters = model:parameters(), tasks = {}}
  for k, r in ipairs(results) do
    entry.tasks[k] = {task = r.task, path = r.path, format = r.format, n = r.n, acc = r.acc, acc_stderr = r.acc_stderr,
                      acc_norm = r.acc_norm, acc_norm_stderr = r.acc_norm_stderr, questions = {}}
    for qi, q in ipairs(tasks[k].questions) do
      local lls = {}
      for j, req in ipairs(q.requests) do lls[j] = req.loglikelihood end
      entry.tasks[k].questions[qi] = {gold = q.gold, loglikelihoods = lls, pred = q.score.pred, pred_norm = q.score.pred_norm}
    end
  end
  if o.data then
    local ids = darwin.data.sequences(darwin.data.tokens(o.data, tok), nil, {seqlen = o.seqlen, count = o.eval_sequences, mode = "sequential"})
    entry.perplexity = model:perplexity(ids, {batch_size = o.batch_size})
  end
  report.models[#report.models + 1] = entry
  rows[#rows + 1] = {name = dir, results = results}
end

local text = eval.table(rows)
local extra = {}
for _, m in ipairs(report.models) do
  extra[#extra + 1] = string.format("- %s: %d parameters%s", m.model, m.parameters,
    m.perplexity and string.format(", perplexity %.4f on %d x %d tokens of %s", m.perplexity, o.eval_sequences, o.seqlen, o.data) or "")
end
for _, t in ipairs(tasks) do extra[#extra + 1] = string.format("- %s: %d questions (%s rows) from %s", t.name, #t.questions, t.format, t.path) end
text = text .. "\n" .. table.concat(extra, "\n") .. "\n"
io.write(text)
if o.output then
  darwin.write_file(o.output .. ".md", text)
  darwin.write_file(o.output .. ".json", json.encode(report))
  print(string.format("written: %s.md, %s.json", o.output, o.output))
end
