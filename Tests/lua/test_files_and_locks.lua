-- File-system bindings, output locks, saved-search settings and option ranges.
local check = require("check")
local evolution = require("evolution")
local cli = require("cli")
local pipeline = require("pipeline")

-- Paths with quotes, spaces and shell characters are just paths (no shell is involved).
local base = os.tmpname(); os.remove(base)
local odd = base .. "/it's a $(dir); rm -rf x"
darwin.mkdir(odd .. "/inner")
check.eq(darwin.exists(odd), "directory", "made with parents")
darwin.write_file(odd .. "/f.txt", "x")
check.eq(darwin.exists(odd .. "/f.txt"), "file", "a file")
check.eq(table.concat(darwin.list(odd), ","), "f.txt,inner", "sorted listing")
check.eq(darwin.exists(odd .. "/none"), nil, "nothing there")
darwin.mkdir(odd)  -- an existing directory is fine

-- A locked directory names its holder; the lock is free again after release or close.
local lock = darwin.lock(odd)
check.raises(function() darwin.lock(odd) end, "is in use by another darwinhost run (pid ")
lock:release()
local again <close> = darwin.lock(odd)
check.eq(tostring(again):find("darwin.Lock", 1, true) ~= nil, true, "lock object")

-- Option ranges are checked by cli.parse, before any work.
local spec = {name = "t.lua", options = {{"batch_size", "integer", 4, ""}, {"lr", "number", 1e-3, ""}, {"level", "integer", 1, ""}}}
check.raises(function() cli.parse(spec, {"--batch-size", "0"}) end, "option --batch-size must be at least 1, got 0")
check.raises(function() cli.parse(spec, {"--lr", "1e999"}) end, "option --lr expects a number, got '1e999'")
check.raises(function() cli.parse(spec, {"--level", "-1"}) end, "option --level must be at least 0")
check.eq(cli.parse(spec, {"--level", "3"}).level, 3, "a good value")

-- The level target exists for both kinds, or the message says which levels do.
local model = darwin.load((darwin.test_root or ".") .. "/Tests/Fixtures/models/llama_gqa_tied")  -- 4 heads, MLP 80
check.raises(function() pipeline.target_level(model, 9, 4, true) end, "--level 9 does not exist: with --levels 4 this model has attention levels 0..4")
check.eq(pipeline.target_level(model, 2, 4, true), 2, "an existing level")

-- A saved search refuses a resume with other settings, naming the field.
check.raises(function() evolution.check_settings({level = 2, seed = 1}, {level = 3, seed = 1}, "s.json") end,
  "cannot resume s.json: it was saved by a search with level = 2, this run asks for 3")
evolution.check_settings({level = 2, seed = 1}, {level = 2, seed = 1}, "s.json")

again:close()
darwin.remove(base)
check.eq(darwin.exists(base), nil, "removed with contents")
