-- Adapt-Pruner's building blocks on constructed cases with known answers.
local check = require("check")
local adapt = require("adapt_pruner")

-- Importance: a block whose output projections are zero leaves its input unchanged: importance 0.
local model = darwin.random_model({vocab = 32, hidden = 16, layers = 3, heads = 4, kv_heads = 2, intermediate = 32, std = 0.3, seed = 2})
model:parameter("model.layers.1.self_attn.o_proj.weight"):zero_()
model:parameter("model.layers.1.mlp.down_proj.weight"):zero_()
local importance = adapt.importance(model, tensor{{1, 4, 9, 16, 25, 3, 7, 2}, {5, 5, 6, 8, 30, 1, 0, 11}})
check.eq(#importance, 3, "one importance per block")
check.near(importance[2], 0, 1e-6, "an identity block is unimportant")
assert(importance[1] > 1e-3 and importance[3] > 1e-3, "working blocks change their input")

-- Allocation: mean exactly the target, least important layer pruned most, ordering reversed from importance.
local s = adapt.allocate({0.1, 0.4, 0.2, 0.3}, 0.5, 0.2)
local mean = (s[1] + s[2] + s[3] + s[4]) / 4
check.near(mean, 0.5, 1e-12, "mean sparsity")
check.near(s[1], 0.7, 1e-12, "least important: target + amplitude")
check.near(s[2], 0.3, 1e-12, "most important: target - amplitude")
assert(s[1] > s[3] and s[3] > s[4] and s[4] > s[2], "sparsity decreases with importance")
-- Clipping keeps the mean where it is feasible.
local clipped = adapt.allocate({0, 1, 1, 1}, 0.9, 0.5)
check.near((clipped[1] + clipped[2] + clipped[3] + clipped[4]) / 4, 0.9, 1e-9, "mean after clipping")
check.eq(clipped[1], 1, "clipped at full sparsity")
check.same(adapt.allocate({0.3, 0.3}, 0.4, 0.2), {0.4, 0.4}, "equal importance gives the target everywhere")

-- Incremental schedule: 5% of the target per step, ending exactly at the target.
local steps = adapt.schedule(0.35, 0.05)
check.eq(#steps, 20, "20 steps of 5%")
check.eq(steps[20], 0.35, "reaches exactly the target")
check.near(steps[1], 0.35 / 20, 1e-15, "first step")
check.eq(#adapt.schedule(0.5, 0.3), 4, "fractions that do not divide 1 round up")

-- Sparsities map to the nearest database levels.
local fixture = darwin.load((darwin.test_root or ".") .. "/Tests/Fixtures/models/llama_gqa_tied")
local path = os.tmpname(); os.remove(path)
local db = darwin.database.build(fixture, tensor.arange(0, 64):reshape(4, 16), {path = path, levels = 4, quiet = true})
check.same(adapt.levels_for(db, "mlp", {0, 0.5}), {0, 2}, "mlp levels")          -- 80 neurons, steps of 20
check.same(adapt.levels_for(db, "attention", {1, 0.3}), {4, 1}, "attention levels") -- 4 heads, steps of 1
os.execute("rm -rf '" .. path .. "'")
