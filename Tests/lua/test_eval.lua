-- Zero-shot multiple-choice evaluation (the eval module and model:loglikelihoods): against lm-evaluation-harness's
-- own numbers (Tests/Fixtures/zeroshot, made by Tests/Fixtures/generate_zeroshot.py), against a direct computation
-- from the model's logits, and the errors a user's task file or request can cause.
local check = require("check")
local json = require("json")
local eval = require("eval")

check.eq(darwin.eval, eval, "darwin.eval is the stdlib module eval")

-- 1. lm-eval's requests, log-likelihoods, greedy flags and metrics, for three tokenizer kinds and six task layouts.
local root = "Tests/Fixtures/zeroshot"
local file = assert(io.open(root .. "/reference.json"))
local reference = json.decode(file:read("a"))
file:close()
local worst, compared = 0, 0
for model_name, tasks in pairs(reference.models) do
  local model = darwin.load(root .. "/models/" .. model_name)
  local tok = darwin.tokenizer(root .. "/models/" .. model_name)
  for task_name, expected in pairs(tasks) do
    local where = model_name .. " " .. task_name
    local result = eval.multiple_choice(model, tok, root .. "/tasks/" .. task_name .. ".jsonl", {keep_questions = true, batch_size = 3})[1]
    check.eq(result.task, task_name, where .. ": task name from the file name")
    check.eq(#result.questions, #expected.questions, where .. ": questions")
    for qi, q in ipairs(result.questions) do
      local e = expected.questions[qi]
      check.eq(#q.requests, #e.requests, where .. " question " .. qi .. ": requests")
      for k, r in ipairs(q.requests) do
        local at = string.format("%s question %d choice %d", where, qi, k)
        check.eq(r.context, e.requests[k].context, at .. ": context as lm-eval renders it")
        check.eq(r.continuation, e.requests[k].continuation, at .. ": continuation as lm-eval renders it")
        check.near(r.loglikelihood, e.loglikelihoods[k], 1e-5, at .. ": log-likelihood")
        check.eq(r.greedy, e.greedy[k], at .. ": is_greedy")
        worst = math.max(worst, math.abs(r.loglikelihood - e.loglikelihoods[k]) / math.max(1, math.abs(e.loglikelihoods[k])))
        compared = compared + 1
      end
      check.eq(q.score.acc, math.tointeger(e.acc), where .. " question " .. qi .. ": acc")
      check.eq(q.score.acc_norm, math.tointeger(e.acc_norm), where .. " question " .. qi .. ": acc_norm")
    end
    check.near(result.acc, expected.acc, 1e-12, where .. ": acc")
    check.near(result.acc_norm, expected.acc_norm, 1e-12, where .. ": acc_norm")
    check.near(result.acc_stderr, expected.acc_stderr, 1e-12, where .. ": acc_stderr")
    check.near(result.acc_norm_stderr, expected.acc_norm_stderr, 1e-12, where .. ": acc_norm_stderr")
  end
end
check.eq(compared > 150, true, "requests compared: " .. compared)
print(string.format("lm-eval fixture: %d requests, largest relative log-likelihood difference %.2e", compared, worst))

-- 2. Against a direct computation: log-softmax of the logits of context + continuation, summed over the continuation.
local tok = darwin.tokenizer("Tests/Fixtures/tokenizers/bytelevel_gpt2")
local model = darwin.random_model{vocab = tok:vocab_size(), hidden = 32, layers = 2, heads = 4, kv_heads = 2, intermediate = 48, seed = 7, std = 0.3}
local function concat(a, b) local out = {table.unpack(a)}; table.move(b, 1, #b, #out + 1, out); return out end
local function direct(context, continuation)
  local ids = concat(context, continuation)
  local logits = model:forward({ids}):select(1, 1)
  local sum, greedy = 0, true
  for j, target in ipairs(continuation) do
    local row = logits:select(1, #context + j - 1)
    sum = sum + row:log_softmax():get(target + 1)
    greedy = greedy and row:argmax() == target + 1
  end
  return sum, greedy
end
local rng = darwin.generator(11)
local requests = {}
for k = 1, 13 do
  local context, continuation = {}, {}
  for _ = 1, rng:integer(1, 20) do context[#context + 1] = rng:integer(0, tok:vocab_size() - 1) end
  for _ = 1, rng:integer(1, 6) do continuation[#continuation + 1] = rng:integer(0, tok:vocab_size() - 1) end
  requests[k] = {context, continuation}
end
-- A continuation greedy decoding produces, so that is_greedy is true once.
local prompt = requests[1][1]
requests[14] = {prompt, model:generate(prompt, {max_tokens = 4, stop = {}})}
local lls, greedy = model:loglikelihoods(requests, {batch_size = 4})
local by_one = model:loglikelihoods(requests, {batch_size = 1})
for k, r in ipairs(requests) do
  local sum, is_greedy = direct(r[1], r[2])
  check.near(lls[k], sum, 1e-5, "request " .. k .. ": log-likelihood against the logits")
  check.near(by_one[k], lls[k], 1e-5, "request " .. k .. ": batch size does not change the result")
  check.eq(greedy[k], is_greedy, "request " .. k .. ": is_greedy against the logits' argmax")
end
check.eq(greedy[14], true, "a greedy continuation is greedy")
-- Left truncation to the window: the context's oldest tokens are dropped, as lm-eval does.
local long = requests[2]
local truncated = model:loglikelihoods({long}, {max_length = 4})[1]
local kept = concat(long[1], long[2])
local window = table.move(kept, #kept - 4, #kept, 1, {})
local tail_context = table.move(window, 1, #window - #long[2], 1, {})
check.near(truncated, (direct(tail_context, long[2])), 1e-5, "max_length keeps the last max_length + 1 tokens")

-- The metrics of one question: acc is the argmax, acc_norm the argmax after dividing by characters (not bytes).
local s = eval.score({gold = 1}, {-4, -6}, {2, 6})
check.eq(s.acc, 0, "acc: the first choice is more likely"); check.eq(s.acc_norm, 1, "acc_norm: -1 per character beats -2")
check.eq(eval.score({gold = 0}, {-3, -3}, {1, 1}).acc, 1, "ties go to the first choice, as numpy's argmax")
check.eq(eval.requests({context = "c", choices = {"é"}, gold = 0})[1].length, 1, "lengths count characters")
-- Whitespace at the end of the context moves to the continuation; an empty context takes the prefix token.
local c_ids, k_ids = eval.encode_pair(tok, "x = 1  ", "y", eval.prefix_token(tok))
check.same(k_ids, tok:encode("  y", {add_special_tokens = false}), "trailing spaces are scored with the continuation")
check.same(c_ids, tok:encode("x = 1"), "the context without its trailing spaces")
check.eq(eval.prefix_token(tok), nil, "a tokenizer without BOS/EOS in its config or post-processor has no prefix token")
check.raises(function() eval.encode_pair(tok, "", "y", nil) end, "needs a prefix token")

-- 3. Errors name the file, the line and what is wrong.
local path = os.tmpname()
local function task(lines) local f = assert(io.open(path, "w")); f:write(table.concat(lines, "\n")); f:close(); return path end
check.raises(function() eval.read(task({'{"context": "a", "choices": ["b", "c"], "gold": 0}', '{"context": "a", "choices": ["b", "c"], "gold": 2}'})) end,
  path .. ":2: gold index 2 is not among the 2 choices")
check.raises(function() eval.read(task({'{"context": "a", "choices": ["b", "c"], "gold": 0', ''})) end, path .. ":1: json.decode")
check.raises(function() eval.read(task({'{"text": "a"}'})) end, path .. ":1: the row matches no task format")
check.raises(function() eval.read(task({'{"context": "a", "choices": ["b"], "gold": 0}'})) end, "at least two choices")
check.raises(function() eval.read(task({'{"context": "a", "choices": ["b", 3], "gold": 0}'})) end, "field 'choices' entry 2 must be a string")
check.raises(function() eval.read(task({'{"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"}'})) end, "has no '_' blank")
check.raises(function() eval.read(task({'{"question": "q", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "C"}'})) end,
  "answerKey 'C' is not among choices.label")
check.raises(function() eval.read(task({'{"context": "a", "choices": ["b", "c"], "gold": 0}'}), {format = "mmlu"}) end, "unknown task format 'mmlu'")
check.raises(function() eval.read(task({"", "  "})) end, "has no rows")
check.raises(function() eval.read(path .. ".missing") end, "cannot read task file " .. path .. ".missing")
check.raises(function() eval.multiple_choice(model, tok, task({'{"context": "a", "choices": ["b", "c"], "gold": 0}'}), {batchsize = 2}) end,
  "unknown option 'batchsize'")
local generic = eval.read(task({'{"query": "a", "choices": ["b", "c"], "label": "c"}', '', '{"contexts": ["x", "y"], "continuation": "z", "gold": 1}'}), {limit = 5})
check.eq(#generic.questions, 2, "blank lines are skipped")
check.eq(generic.questions[1].gold, 1, "a gold given as the choice's text")
check.eq(generic.format, "multiple_choice+partial", "formats detected per row")
os.remove(path)
check.raises(function() model:loglikelihoods({{{1, 2}, {}}}) end, "request 1 has an empty continuation")
check.raises(function() model:loglikelihoods({{{}, {1}}}) end, "request 1 has an empty context")
check.raises(function() model:loglikelihoods({{{1}, {tok:vocab_size()}}}) end, "outside the vocabulary")
check.raises(function() model:loglikelihoods({{{1}, {1, 2, 3}}}, {max_length = 2}) end, "more than the 2-token window")
check.raises(function() model:loglikelihoods({{{1}, {-1}}}) end, "continuation entry 1 is -1.0, not a token id")
check.raises(function() model:loglikelihoods({{{1}}}) end, "request 1: the continuation must be a list of token ids")
check.raises(function() model:loglikelihoods({7}) end, "request 1: expected a {context_ids, continuation_ids} pair")

-- 4. The table: a column of acc and of acc_norm per task, and their means.
local rows = {{name = "a", results = {{task = "t1", acc = 0.5, acc_norm = 0.25}, {task = "t2", acc = 1, acc_norm = 0.75}}}}
local text = eval.table(rows)
check.eq(text:match("[^\n]+"), "| model | t1 acc | t1 acc_norm | t2 acc | t2 acc_norm | mean acc | mean acc_norm |", "header")
check.eq(text:match("\n(| a [^\n]+)"), "| a | 0.5000 | 0.2500 | 1.0000 | 0.7500 | 0.7500 | 0.5000 |", "row with means")
print("eval: ok")
