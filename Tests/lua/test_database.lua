-- The compression database from Lua: build, open, levels, params, apply a genome to a clone.
local check = require("check")
local fixtures = (darwin.test_root or ".") .. "/Tests/Fixtures"
local model = darwin.load(fixtures .. "/models/llama_gqa_tied")
local calib = tensor.arange(0, 96):reshape(8, 12)          -- 8 sequences of 12 token ids
local path = os.tmpname()
os.remove(path)
local db = darwin.database.build(model, calib, {path = path, levels = 4, quiet = true})
check.eq(db:complete(), true, "complete")
check.same(db:levels("attention"), {0, 1, 2, 3, 4}, "attention levels: heads removed")
check.same(db:levels("mlp"), {0, 20, 40, 60, 80}, "mlp levels: neurons removed")
check.eq(#db:units(), 4, "units: 2 blocks x 2 kinds")
check.eq(db:units()[2].kind, "mlp", "unit kind")
check.eq(db:params(1, "mlp", 4), 0, "level 4 removes the MLP")
check.eq(#db:kept(1, "attention", 3), 1, "one head kept at level 3")

local ids = tensor{{3, 1, 4, 1, 5, 9, 2, 6}}
local dense = model:forward(ids)
local candidate = model:clone()
candidate:apply(db, {attention = {2, 0}, mlp = {1, 3}})
check.same(candidate:genome().attention, {2, 0}, "genome read back")
check.eq(candidate:summary()[1].query_heads, 2, "two heads left in block 1")
check.eq(candidate:summary()[2].mlp_width, 20, "20 neurons left in block 2")
check.eq(model:summary()[1].query_heads, 4, "the parent keeps its heads")
assert(candidate:parameters() < model:parameters())
assert(model:kl(ids, model:targets(ids)) < 1e-9 and candidate:kl(ids, model:targets(ids)) > 0)
candidate:apply(db, {attention = {0, 0}, mlp = {0, 0}})
check.near((candidate:forward(ids) - dense):abs():max(), 0, 1e-5, "level 0 restores the dense outputs")

-- Reopening finds the same database; bad genomes and models are clear errors.
local again = darwin.database.open(path)
check.eq(again:params({attention = {1, 1}, mlp = {1, 1}}), db:params({attention = {1, 1}, mlp = {1, 1}}), "reopened")
check.raises(function() candidate:apply(db, {attention = {9, 0}, mlp = {0, 0}}) end, "attention level 9 of block 1 is outside 0...4")
check.raises(function() candidate:apply(db, {attention = {0}}) end, "genome field 'mlp' must be a table")
check.raises(function() darwin.database.build(model, calib, {levels = 4}) end, "option 'path'")
check.raises(function() darwin.load(fixtures .. "/models/qwen2_tied"):apply(db, {attention = {0, 0}, mlp = {0, 0}}) end, "was built for model")
os.execute("rm -rf '" .. path .. "'")
