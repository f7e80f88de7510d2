-- cloze_task: a HellaSwag-like multiple-choice task from any text, for models of a domain the public benchmarks do
-- not cover (code, say). The context is a window of lines; the choices are the true next line and lines drawn from
-- elsewhere in the text, given the true line's indentation. Writes JSONL rows {context, choices, gold,
-- target_delimiter = ""} for eval.multiple_choice, scripts/evaluate.lua and --tasks.
--   darwinhost scripts/cloze_task.lua --data eval.txt.gz --output next_line.jsonl --questions 500
local cli = require("cli")
local json = require("json")

local o = cli.parse({
  name = "scripts/cloze_task.lua",
  about = "Make a next-line multiple-choice task (JSONL) from a text file (held-out data: the model must not have trained on it).",
  options = {
    {"data", "string", nil, "text file (.txt, optionally .gz)", "required"},
    {"output", "string", nil, "the JSONL task file to write", "required"},
    {"questions", "integer", 500, "number of questions", nil, {1}},
    {"lines", "integer", 6, "lines of context before the line to choose", nil, {1}},
    {"choices", "integer", 4, "choices per question (the true line and distractors)", nil, {2}},
    {"min_chars", "integer", 16, "shortest line (without indentation) that is a target or a distractor", nil, {1}},
    {"seed", "integer", 0, "random seed"},
  },
}, arg)

local lines = {}
for line in darwin.read_file(o.data):gmatch("[^\n]*") do lines[#lines + 1] = line end
local function body(line) return line:match("^%s*(.-)%s*$") end
-- Lines long enough to be a target or a distractor.
local usable = {}
for i, line in ipairs(lines) do if #body(line) >= o.min_chars then usable[#usable + 1] = i end end
if #usable < o.choices * 2 then error(string.format("%s has %d lines of at least %d characters; too few for %d choices", o.data, #usable, o.min_chars, o.choices), 0) end

local rng = darwin.generator(o.seed)
local rows, used, attempts = {}, {}, 0
while #rows < o.questions and attempts < o.questions * 50 do
  attempts = attempts + 1
  local target = usable[rng:integer(1, #usable)]
  if target > o.lines and not used[target] then
    local indent, truth = lines[target]:match("^(%s*)"), body(lines[target])
    local choices, seen = {lines[target]}, {[truth] = true}
    while #choices < o.choices do
      local other = body(lines[usable[rng:integer(1, #usable)]])
      if not seen[other] then seen[other] = true; choices[#choices + 1] = indent .. other end
    end
    -- The true line goes to a random place among the choices.
    local gold = rng:integer(0, o.choices - 1)
    choices[1], choices[gold + 1] = choices[gold + 1], choices[1]
    local context = table.concat(lines, "\n", target - o.lines, target - 1) .. "\n"
    rows[#rows + 1] = json.encode({context = context, choices = choices, gold = gold, target_delimiter = ""})
    used[target] = true
  end
end
darwin.write_file(o.output, table.concat(rows, "\n") .. "\n")
print(string.format("%d questions with %d choices from %s in %s", #rows, o.choices, o.data, o.output))
