--- cli: command-line options for darwinhost scripts. A spec lists options with a type, a default and help;
-- `cli.parse(spec, arg)` returns the values, prints help for --help, and raises clear errors for bad input.
-- Usage: local o = cli.parse({name = "x.lua", about = "...", options = {{"steps", "integer", 10, "number of steps"}}}, arg)
local cli = {}

local converters = {
  integer = function(v) return math.tointeger(tonumber(v)) end,
  number = function(v) return tonumber(v) end,
  string = function(v) return v end,
  boolean = function(v) if v == "true" or v == "1" then return true elseif v == "false" or v == "0" then return false end end,
  -- One or more paths: the arguments after the option up to the next option (or one path given as --name=path).
  files = function(v) return type(v) == "table" and v or {v} end,
  -- A comma-separated list of integers ("8,4,2,1"), one value per selection stage, say.
  integers = function(v)
    local list = {}
    for item in (v .. ","):gmatch("([^,]*),") do
      local n = math.tointeger(tonumber(item))
      if n == nil then return nil end
      list[#list + 1] = n
    end
    return #list > 0 and list or nil
  end,
}

--- Accepted ranges of the options darwinhost's scripts share, by name: {lowest, highest} (nil: unbounded). Checked
-- before any long work starts; a spec entry's sixth field ({min, max}) overrides its name's range here.
cli.ranges = {
  level = {0}, levels = {1, 1000}, seqlen = {2}, calibration_sequences = {1}, eval_sequences = {1}, batch_size = {1},
  generations = {0}, offspring = {1}, stages = {1, 32}, fitness_tokens = {1}, train_tokens = {0}, search_train_tokens = {0},
  post_train_tokens = {0}, topk = {0}, lr = {0}, threads = {1, 1024}, steps = {0}, post_train_steps = {0},
  survivors = {1}, attention_levels = {0}, mlp_levels = {0}, gradient_sequences = {1}, gradient_seqlen = {2}, sparsity = {0, 1}, attention_sparsity = {0, 1}, mlp_sparsity = {0, 1},
  task_limit = {1}, fraction = {0, 1}, adapt_fraction = {0, 1}, amplitude = {0, 1}, adapt_amplitude = {0, 1},
}

--- Accepted values of string options, by name; checked like the ranges.
cli.choices = {gguf = {"f32", "f16", "bf16", "q8_0"}}

--- The help text for a spec.
function cli.help(spec)
  local lines = {"usage: darwinhost " .. spec.name .. " [--option value ...]", "", spec.about or "", "", "options:"}
  for _, o in ipairs(spec.options) do
    local shown = type(o[3]) == "table" and table.concat(o[3], ",") or tostring(o[3])
    local default = o[3] == nil and "" or string.format(" (default: %s)", shown)
    local shape = ({boolean = "", files = " FILE..."})[o[2]] or " " .. o[2]:upper()
    local flag = o[1]:gsub("_", "-") .. shape
    lines[#lines + 1] = string.format("  --%-26s %s%s", flag, o[4], default)
  end
  lines[#lines + 1] = string.format("  --%-26s %s", "help", "print this help and exit")
  return table.concat(lines, "\n")
end

--- The options every search script takes to replace a piece of the search, each a module name on package.path or
-- a path to a .lua file (see the contracts module), and the explicit per-stage lists of a schedule.
cli.search_pieces = {
  {"mutation", "string", nil, "mutation operator: module name or .lua file returning function(parent, ctx) -> child (default: mutation.level_switch)"},
  {"fitness", "string", nil, "fitness: module or .lua file returning {prepare, score} or function(model, batch) -> number (default: KL)"},
  {"selection", "string", nil, "selection: module or .lua file returning function(candidates, ctx) -> best[, stages] (default: multistage)"},
  {"finetune", "string", nil, "fine-tuning in selection: module or .lua file returning function(model, ids, ctx) -> trainer?"},
  {"schedule", "string", nil, "selection schedule: module or .lua file returning a list of stages or function(options) -> list"},
  {"survivors", "integers", nil, "survivors per selection stage, e.g. 8,4,2,1 (default: halving from --offspring)"},
}

--- The inputs every pruning script reads (pipeline.inputs): model, data, held-out data and tokenizer.
cli.input_options = {
  {"model", "string", nil, "Hugging Face checkpoint directory", "required"},
  {"data", "string", nil, "calibration / training text (.txt, .jsonl, .npy, .bin, optionally .gz)", "required"},
  {"eval_data", "string", nil, "held-out evaluation data (default: --data)"},
  {"tokenizer", "string", nil, "tokenizer.json or its directory (default: --model)"},
}

--- What the pruning scripts write besides the darwinhost model: a GGUF file for llama.cpp.
cli.export_options = {
  {"gguf", "string", nil, "also write OUTPUT/model.gguf for llama.cpp, its matrices in this type: f32, f16, bf16 or q8_0"},
}

--- Zero-shot accuracy (the eval module) on task files the user brings, beside perplexity and KL.
cli.task_options = {
  {"tasks", "files", nil, "zero-shot multiple-choice task files (JSONL rows of ARC, HellaSwag, PIQA, WinoGrande, BoolQ, or {context, choices, gold}); adds acc and acc_norm"},
  {"task_limit", "integer", nil, "questions per task file (default: all)"},
}

--- The options that set the database's levels explicitly (structures removed at each level), beside --levels.
cli.level_lists = {
  {"attention_levels", "integers", nil, "heads removed at each database level, e.g. 0,1,2,4,5,6,7,8,10,11,12 (default: --levels steps)"},
  {"mlp_levels", "integers", nil, "MLP neurons removed at each database level (default: --levels steps)"},
}

--- A copy of the option list `options` without the options named in `drop`, with the defaults in `defaults` changed
-- (a script that shares another's options but not all, or not with the same defaults).
function cli.adjust(options, drop, defaults)
  local out, dropped = {}, {}
  for _, name in ipairs(drop or {}) do dropped[name] = true end
  for _, o in ipairs(options) do
    if not dropped[o[1]] then
      local copy = {table.unpack(o, 1, 6)}
      if defaults and defaults[o[1]] ~= nil then copy[3] = defaults[o[1]] end
      out[#out + 1] = copy
    end
  end
  return out
end

--- `spec.options` followed by `extra` (a list of option entries), as a new list.
function cli.with(options, extra)
  local out = {}
  for _, o in ipairs(options) do out[#out + 1] = o end
  for _, o in ipairs(extra) do out[#out + 1] = o end
  return out
end

--- Refuses an --output whose model folders (`model`, `model-padded`) or itself would be the input checkpoint
-- (--model), which saving the pruned model would replace: checked before any work.
function cli.check_output(spec, values)
  if type(values.model) ~= "string" or type(values.output) ~= "string" then return end
  local input = darwin.realpath(values.model)
  if not input then return end
  for _, path in ipairs({values.output, values.output .. "/model", values.output .. "/model-padded"}) do
    if darwin.realpath(path) == input then
      error(string.format("%s: --output %s would put the pruned model in %s, which is the input checkpoint --model %s; choose another output directory",
        spec.name, values.output, path, values.model), 0)
    end
  end
end

--- Parses `args` (the script's `arg` table) against `spec`; returns a table of option values.
-- Booleans may be given bare (`--resume`) or with a value. Unknown options and bad values are errors.
function cli.parse(spec, args)
  local values, known = {}, {}
  for _, o in ipairs(spec.options) do
    known[o[1]] = o
    values[o[1]] = o[3]
  end
  local i = 1
  while args and args[i] do
    local a = args[i]
    if a == "--help" or a == "-h" then print(cli.help(spec)); os.exit(0) end
    local name, inline = a:match("^%-%-([%w_%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w_%-]+)$")
    if not name then error(spec.name .. ": unexpected argument '" .. a .. "' (options look like --name value; see --help)", 0) end
    name = name:gsub("%-", "_")
    local o = known[name]
    if not o then error(spec.name .. ": unknown option --" .. name .. " (see --help)", 0) end
    local raw = inline
    if o[2] == "files" and raw == nil then
      -- Every argument up to the next option: --tasks arc.jsonl piqa.jsonl --limit 100
      local files = {}
      while args[i + 1] ~= nil and args[i + 1]:sub(1, 2) ~= "--" do i = i + 1; files[#files + 1] = args[i] end
      if #files == 0 then error(spec.name .. ": option --" .. name .. " needs a value", 0) end
      raw = files
    end
    if raw == nil then
      if o[2] == "boolean" and (args[i + 1] == nil or args[i + 1]:sub(1, 2) == "--") then raw = "true"
      else i = i + 1; raw = args[i] end
    end
    if raw == nil then error(spec.name .. ": option --" .. name .. " needs a value", 0) end
    local v = converters[o[2]](raw)
    if v == nil or (type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge)) then
      error(string.format("%s: option --%s expects a %s, got '%s'", spec.name, name, o[2], raw), 0)
    end
    local range = o[6] or cli.ranges[name]
    for _, x in ipairs(type(v) == "table" and v or {v}) do
      if range and ((range[1] and x < range[1]) or (range[2] and x > range[2])) then
        error(string.format("%s: option --%s must be %s, got %s", spec.name, name:gsub("_", "-"),
          (range[2] and string.format("in %s..%s", range[1], range[2]) or string.format("at least %s", range[1])) .. (type(v) == "table" and " (each value)" or ""), raw), 0)
      end
    end
    local choices, allowed = cli.choices[name], false
    for _, c in ipairs(choices or {}) do allowed = allowed or c == v end
    if choices and not allowed then
      error(string.format("%s: option --%s must be one of %s, got '%s'", spec.name, name:gsub("_", "-"), table.concat(choices, ", "), raw), 0)
    end
    values[name] = v
    i = i + 1
  end
  for _, o in ipairs(spec.options) do
    if o[5] == "required" and values[o[1]] == nil then error(spec.name .. ": option --" .. o[1] .. " is required (see --help)", 0) end
  end
  cli.check_output(spec, values)
  return values
end

return cli
