--- eval: zero-shot multiple-choice accuracy as lm-evaluation-harness computes it: `acc` and `acc_norm` of ARC,
-- HellaSwag, PIQA, WinoGrande, BoolQ and any task of the same shape, read from JSONL files the user brings.
-- Also reachable as `darwin.eval`. Usage:
--   local eval = require("eval")
--   local results = eval.multiple_choice(model, tok, {"arc_easy.jsonl", "piqa.jsonl"})
--   print(eval.table({{name = "dense", results = results}}))
-- Each piece is a plain field a user can replace: eval.formats (how a dataset row becomes a question),
-- eval.encode_pair (how context and continuation become tokens), eval.score (the metrics of one question).
local json = require("json")
local eval = {}

--- Python's str.strip (ASCII whitespace).
local function strip(s)
  local first = s:find("%S")
  if not first then return "" end
  return s:sub(first, s:find("%S%s*$"))
end

--- Python's str.capitalize for ASCII: the first character upper case, the rest lower case.
local function capitalize(s) return s:sub(1, 1):upper() .. s:sub(2):lower() end

--- Python's len of a string: characters (code points), or bytes where the text is not UTF-8.
local function characters(s) return utf8.len(s) or #s end

--- HellaSwag's text clean-up in lm-evaluation-harness (tasks/hellaswag/utils.py): WikiHow's "[title]" markers and
-- other bracketed artefacts removed, double spaces made single.
local function hellaswag_preprocess(text)
  text = strip(text):gsub(" %[title%]", ". "):gsub("%[[^\n]-%]", ""):gsub("  ", " ")
  return text
end

--- The gold index as an integer, from an integer, a numeric string, or a boolean (true = 1).
local function index(v, what)
  if type(v) == "boolean" then return v and 1 or 0 end
  local n = math.tointeger(tonumber(v))
  if n == nil then error(string.format("field '%s' must be an integer index, got %s", what, tostring(v)), 0) end
  return n
end

local function need(doc, field, kind)
  local v = doc[field]
  if type(v) ~= kind then error(string.format("field '%s' must be a %s, got %s", field, kind, type(v)), 0) end
  return v
end

local function strings(list, what)
  for k, s in ipairs(list) do
    if type(s) ~= "string" then
      error(string.format("field '%s' entry %d must be a string, got %s", what, k, s == json.null and "null" or type(s)), 0)
    end
  end
  return list
end

--- Dataset row layouts, tried in order: `match(doc)` says whether a row has this layout, `question(doc)` turns it into
-- a question, as lm-evaluation-harness's task definition does:
--   {context = text, choices = {texts}, gold = 0-based index}  each choice is scored after the context, or
--   {contexts = {texts}, continuation = text, gold = index}    the continuation is scored after each context
-- (WinoGrande's partial scoring). Choices are scored after `delimiter` (default " ", lm-eval's target_delimiter).
eval.formats = {
  {name = "winogrande", match = function(d) return d.sentence ~= nil and d.option1 ~= nil end,
   question = function(d)
     local sentence = need(d, "sentence", "string")
     local blank = sentence:find("_", 1, true)
     if not blank then error("field 'sentence' has no '_' blank", 0) end
     local before = sentence:sub(1, blank - 1)
     return {contexts = {before .. need(d, "option1", "string"), before .. need(d, "option2", "string")},
             continuation = strip(sentence:sub(blank + 1)), gold = index(d.answer, "answer") - 1}
   end},
  {name = "hellaswag", match = function(d) return d.ctx_a ~= nil and d.endings ~= nil end,
   question = function(d)
     local context = need(d, "ctx_a", "string") .. " " .. capitalize(need(d, "ctx_b", "string"))
     local choices = {}
     for k, e in ipairs(strings(need(d, "endings", "table"), "endings")) do choices[k] = hellaswag_preprocess(e) end
     return {context = hellaswag_preprocess(need(d, "activity_label", "string") .. ": " .. context), choices = choices,
             gold = index(d.label, "label")}
   end},
  {name = "arc", match = function(d) return d.question ~= nil and d.answerKey ~= nil end,
   question = function(d)
     local c = need(d, "choices", "table")
     local labels, gold = strings(c.label or {}, "choices.label"), nil
     for k, l in ipairs(labels) do if l == d.answerKey and not gold then gold = k - 1 end end
     if not gold then error(string.format("answerKey '%s' is not among choices.label", tostring(d.answerKey)), 0) end
     return {context = "Question: " .. need(d, "question", "string") .. "\nAnswer:", choices = strings(c.text or {}, "choices.text"), gold = gold}
   end},
  {name = "piqa", match = function(d) return d.goal ~= nil and d.sol1 ~= nil end,
   question = function(d)
     return {context = "Question: " .. need(d, "goal", "string") .. "\nAnswer:",
             choices = {need(d, "sol1", "string"), need(d, "sol2", "string")}, gold = index(d.label, "label")}
   end},
  {name = "boolq", match = function(d) return d.passage ~= nil and d.question ~= nil end,
   question = function(d)
     local label = d.label
     if label == nil then label = d.answer end
     return {context = need(d, "passage", "string") .. "\nQuestion: " .. need(d, "question", "string") .. "?\nAnswer:",
             choices = {"no", "yes"}, gold = index(label, "label")}
   end},
  {name = "multiple_choice", match = function(d) return (d.context ~= nil or d.query ~= nil) and d.choices ~= nil end,
   question = function(d)
     local gold = d.gold
     if gold == nil then gold = d.label end
     local choices = strings(need(d, "choices", "table"), "choices")
     if type(gold) == "string" and not math.tointeger(tonumber(gold)) then
       for k, c in ipairs(choices) do if c == gold and type(gold) == "string" then gold = k - 1 end end
     end
     local context = d.context
     if context == nil then context = d.query end
     if type(context) ~= "string" then error("field 'context' (or 'query') must be a string", 0) end
     return {context = context, choices = choices, gold = index(gold, "gold"), delimiter = d.target_delimiter}
   end},
  {name = "partial", match = function(d) return d.contexts ~= nil and d.continuation ~= nil end,
   question = function(d)
     return {contexts = strings(need(d, "contexts", "table"), "contexts"), continuation = need(d, "continuation", "string"),
             gold = index(d.gold, "gold"), delimiter = d.target_delimiter}
   end},
}

--- The format named `name`, or the first whose `match` accepts `doc`.
function eval.format_of(doc, name)
  for _, f in ipairs(eval.formats) do
    if (name and f.name == name) or (not name and f.match(doc)) then return f end
  end
  if name then
    local names = {}
    for _, f in ipairs(eval.formats) do names[#names + 1] = f.name end
    error(string.format("unknown task format '%s' (known: %s)", name, table.concat(names, ", ")), 0)
  end
  error("the row matches no task format (fields of ARC, HellaSwag, PIQA, WinoGrande, BoolQ, " ..
    "{context, choices, gold} or {contexts, continuation, gold}; see docs/lua-api.md)", 0)
end

--- Checks a question: texts, and a gold index among its choices.
local function check_question(q)
  local n = q.contexts and #q.contexts or #(q.choices or {})
  if n < 2 then error("a question needs at least two choices", 0) end
  if math.type(q.gold) ~= "integer" or q.gold < 0 or q.gold >= n then
    error(string.format("gold index %s is not among the %d choices (0-based)", tostring(q.gold), n), 0)
  end
  if q.delimiter ~= nil and type(q.delimiter) ~= "string" then error("field 'target_delimiter' must be a string", 0) end
  return q
end

--- Reads a task from a JSONL file (optionally .gz; one dataset row per line, blank lines skipped):
-- {name, path, format, questions}. Options: format (a name in eval.formats; default: detected per row), limit (the
-- first N rows).
function eval.read(path, options)
  options = options or {}
  local ok, text = pcall(darwin.read_file, path)
  if not ok then error(string.format("eval.read: cannot read task file %s (%s)", path, text), 2) end
  local questions, formats, line_number = {}, {}, 0
  for line in text:gmatch("[^\n]*") do
    line_number = line_number + 1
    if options.limit and #questions >= options.limit then break end
    if line:find("%S") then
      local parsed, result = pcall(function()
        local doc = json.decode(line)
        if type(doc) ~= "table" then error("expected a JSON object", 0) end
        local format = eval.format_of(doc, options.format)
        formats[format.name] = true
        local q = check_question(format.question(doc))
        q.where = path .. ":" .. line_number
        return q
      end)
      if not parsed then error(string.format("%s:%d: %s", path, line_number, tostring(result)), 0) end
      questions[#questions + 1] = result
    end
  end
  if #questions == 0 then error(string.format("eval.read: task file %s has no rows", path), 2) end
  local names = {}
  for name in pairs(formats) do names[#names + 1] = name end
  table.sort(names)
  return {name = path:match("([^/]+)$"):gsub("%.gz$", ""):gsub("%.jsonl?$", ""), path = path, format = table.concat(names, "+"),
          questions = questions}
end

--- The token lm-evaluation-harness puts before a continuation with an empty context: the tokenizer's BOS token, else
-- its EOS token (tokenizer_config.json beside tokenizer.json), else the one the post-processor puts first.
function eval.prefix_token(tok)
  local file = io.open((tok:path():match("^(.*)/[^/]*$") or ".") .. "/tokenizer_config.json", "r")
  if file then
    local ok, config = pcall(json.decode, file:read("a"))
    file:close()
    if ok and type(config) == "table" then
      for _, key in ipairs({"bos_token", "eos_token"}) do
        local t = config[key]
        if type(t) == "table" then t = t.content end
        local id = type(t) == "string" and tok:token_to_id(t)
        if id then return id end
      end
    end
  end
  local with, without = tok:encode("x"), tok:encode("x", {add_special_tokens = false})
  if #with > #without then return with[1] end
  return nil
end

local function slice(list, first) return table.move(list, first, #list, 1, {}) end

--- Tokens of a (context, continuation) pair as lm-evaluation-harness makes them: trailing whitespace of the context
-- moves to the continuation; the whole text and the context are encoded (with the tokenizer's special tokens, unless
-- the context starts with the prefix token's text) and the continuation's tokens are what the whole has beyond the
-- context's. An empty context becomes the prefix token.
function eval.encode_pair(tok, context, continuation, prefix)
  if context == "" then
    if not prefix then error("eval: an empty context needs a prefix token (option prefix_token; the tokenizer has no BOS or EOS)", 0) end
    local ids = tok:encode(continuation, {add_special_tokens = false})
    if ids[1] ~= prefix then return {prefix}, ids end
    return {ids[1]}, slice(ids, 2)
  end
  local cut = #context
  while cut > 0 and context:sub(cut, cut):find("%s") do cut = cut - 1 end
  continuation = context:sub(cut + 1) .. continuation
  context = context:sub(1, cut)
  local special = not (prefix and context:sub(1, #tok:decode({prefix})) == tok:decode({prefix}))
  local whole = tok:encode(context .. continuation, {add_special_tokens = special})
  local context_ids = tok:encode(context, {add_special_tokens = special})
  return context_ids, slice(whole, #context_ids + 1)
end

--- The requests of a question, each {context, continuation, length}, with `length` the character count lm-eval's
-- acc_norm divides by (the choice; for partial scoring, the context).
function eval.requests(q, delimiter)
  delimiter = q.delimiter or delimiter or " "
  local out = {}
  if q.contexts then
    for k, c in ipairs(q.contexts) do out[k] = {context = c, continuation = delimiter .. q.continuation, length = characters(c)} end
  else
    for k, c in ipairs(q.choices) do out[k] = {context = q.context, continuation = delimiter .. c, length = characters(c)} end
  end
  return out
end

--- The first index of the largest value (numpy's argmax: NaN counts as largest), 0-based.
local function argmax(values)
  local best = 1
  for k, v in ipairs(values) do
    if v ~= v then return k - 1 end
    if v > values[best] then best = k end
  end
  return best - 1
end

--- lm-evaluation-harness's multiple-choice metrics of one question from its choices' log-likelihoods: acc (the most
-- likely choice is the gold one) and acc_norm (the same after dividing each log-likelihood by its length in characters).
function eval.score(q, lls, lengths)
  local normed = {}
  for k, ll in ipairs(lls) do normed[k] = ll / lengths[k] end
  local pred, pred_norm = argmax(lls), argmax(normed)
  return {acc = pred == q.gold and 1 or 0, acc_norm = pred_norm == q.gold and 1 or 0, pred = pred, pred_norm = pred_norm}
end

--- lm-evaluation-harness's standard error of a mean: the sample standard deviation over sqrt(n) (nil below two values).
local function mean_and_stderr(values)
  local n, sum = #values, 0
  for _, v in ipairs(values) do sum = sum + v end
  local mean = sum / n
  if n < 2 then return mean, nil end
  local squares = 0
  for _, v in ipairs(values) do squares = squares + (v - mean) ^ 2 end
  return mean, math.sqrt(squares / (n - 1)) / math.sqrt(n)
end

local options_known = {batch_size = true, limit = true, format = true, progress = true, max_length = true,
                       target_delimiter = true, prefix_token = true, keep_questions = true}

--- Zero-shot multiple-choice evaluation of `model` on task files (a path, a list of paths, or tasks from eval.read).
-- Options: batch_size, limit (questions per task), format (see eval.formats), max_length (window; default the
-- model's), target_delimiter (" "), prefix_token (id before a continuation with an empty context), progress (true or
-- a label: a progress line per task), keep_questions (each result keeps its questions with their log-likelihoods).
-- Returns a list of {task, path, format, n, acc, acc_stderr, acc_norm, acc_norm_stderr}.
function eval.multiple_choice(model, tok, tasks, options)
  options = options or {}
  for k in pairs(options) do
    if not options_known[k] then error("eval.multiple_choice: unknown option '" .. tostring(k) .. "'", 2) end
  end
  if type(tasks) ~= "table" or tasks.questions then tasks = {tasks} end
  local prefix = options.prefix_token or eval.prefix_token(tok)
  local results = {}
  for _, task in ipairs(tasks) do
    if type(task) == "string" then task = eval.read(task, {format = options.format, limit = options.limit}) end
    local pairs_, owners = {}, {}
    for qi, q in ipairs(task.questions) do
      q.requests = eval.requests(q, options.target_delimiter)
      for _, r in ipairs(q.requests) do
        local context_ids, continuation_ids = eval.encode_pair(tok, r.context, r.continuation, prefix)
        if #continuation_ids == 0 then
          error(string.format("%s: the continuation %q has no tokens of its own after the context", q.where or ("question " .. qi), r.continuation), 0)
        end
        pairs_[#pairs_ + 1] = {context_ids, continuation_ids}
        owners[#owners + 1] = r
      end
    end
    local label = options.progress and (type(options.progress) == "string" and options.progress .. " " or "") .. task.name
    local lls, greedy = model:loglikelihoods(pairs_, {batch_size = options.batch_size, max_length = options.max_length, progress = label or nil})
    for k, r in ipairs(owners) do r.loglikelihood, r.greedy = lls[k], greedy[k] end
    local acc, acc_norm = {}, {}
    for qi, q in ipairs(task.questions) do
      local ll, lengths = {}, {}
      for k, r in ipairs(q.requests) do ll[k], lengths[k] = r.loglikelihood, r.length end
      q.score = eval.score(q, ll, lengths)
      acc[qi], acc_norm[qi] = q.score.acc, q.score.acc_norm
    end
    local result = {task = task.name, path = task.path, format = task.format, n = #task.questions}
    result.acc, result.acc_stderr = mean_and_stderr(acc)
    result.acc_norm, result.acc_norm_stderr = mean_and_stderr(acc_norm)
    if options.keep_questions then result.questions = task.questions end
    results[#results + 1] = result
  end
  return results
end

--- Table cells of one model's results (eval.multiple_choice's list): headers and values, an acc and an acc_norm
-- per task, then their means over the tasks.
function eval.cells(results)
  local headers, values, acc, acc_norm = {}, {}, 0, 0
  for _, r in ipairs(results) do
    headers[#headers + 1] = r.task .. " acc"; headers[#headers + 1] = r.task .. " acc_norm"
    values[#values + 1] = string.format("%.4f", r.acc); values[#values + 1] = string.format("%.4f", r.acc_norm)
    acc, acc_norm = acc + r.acc / #results, acc_norm + r.acc_norm / #results
  end
  headers[#headers + 1] = "mean acc"; headers[#headers + 1] = "mean acc_norm"
  values[#values + 1] = string.format("%.4f", acc); values[#values + 1] = string.format("%.4f", acc_norm)
  return headers, values
end

--- A Markdown table of accuracies: `rows` is a list of {name = ..., results = eval.multiple_choice's list}, one line
-- per row with the columns of eval.cells.
function eval.table(rows)
  local headers = eval.cells(rows[1] and rows[1].results or {})
  local lines = {"| model | " .. table.concat(headers, " | ") .. " |", "|---|" .. string.rep("---:|", #headers)}
  for _, row in ipairs(rows) do
    local _, values = eval.cells(row.results)
    lines[#lines + 1] = "| " .. row.name .. " | " .. table.concat(values, " | ") .. " |"
  end
  return table.concat(lines, "\n") .. "\n"
end

return eval
