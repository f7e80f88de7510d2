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

-- Keep counts: exact totals, no regrowth, at least min_keep, the aim followed where it can be.
check.same(adapt.keep_counts({8, 8, 8, 8}, {8, 8, 8, 8}, {0.25, 0.25, 0.25, 0.25}, 24), {6, 6, 6, 6}, "uniform aim")
check.same(adapt.keep_counts({8, 8, 8, 8}, {8, 8, 8, 8}, {0.5, 0, 0.5, 0}, 24), {4, 8, 4, 8}, "allocated aim")
check.same(adapt.keep_counts({3, 8, 8, 8}, {8, 8, 8, 8}, {0, 0, 0, 0}, 20), {3, 5, 6, 6}, "never grows a pruned layer back")
check.same(adapt.keep_counts({8, 8}, {8, 8}, {1, 1}, 2), {1, 1}, "min_keep")
check.same(adapt.keep_counts({8, 8}, {8, 8}, {1, 1}, 0, 0), {0, 0}, "min_keep 0 allows full removal")
local keep_ok, keep_err = pcall(adapt.keep_counts, {2, 2}, {8, 8}, {0, 0}, 5)
assert(not keep_ok and keep_err:find("cannot keep 5 structures %(feasible: 2..4%)"), keep_err)

-- Taylor scores: |w * grad| summed per structure, checked against the same sum taken element by element.
local tm = darwin.random_model({vocab = 32, hidden = 16, layers = 2, heads = 4, kv_heads = 2, intermediate = 12, std = 0.3, seed = 3})
local ids = tensor{{1, 4, 9, 16, 25, 3, 7, 2}, {5, 5, 6, 8, 30, 1, 0, 11}}
local loss, grads = tm:gradients(ids)
check.near(loss, tm:nll(ids) / (2 * 7), 1e-5, "gradients' loss is the mean cross-entropy")
local neuron_scores = adapt.taylor_scores(tm, grads, 2, "mlp")
local function abs_product(name, r, c) return math.abs(tm:parameter(name):get(r, c) * grads[name]:get(r, c)) end
local expected = 0
for c = 1, 16 do
  expected = expected + abs_product("model.layers.1.mlp.gate_proj.weight", 5, c) + abs_product("model.layers.1.mlp.up_proj.weight", 5, c)
    + abs_product("model.layers.1.mlp.down_proj.weight", c, 5)
end
check.eq(#neuron_scores, 12, "one score per neuron")
check.near(neuron_scores[5], expected, 1e-5 * expected, "neuron 5's Taylor score")
local head_scores = adapt.taylor_scores(tm, grads, 1, "attention")
local head_dim = 16 // 4
expected = 0
for r = 2 * head_dim + 1, 3 * head_dim do
  for c = 1, 16 do expected = expected + abs_product("model.layers.0.self_attn.q_proj.weight", r, c) + abs_product("model.layers.0.self_attn.o_proj.weight", c, r) end
end
check.near(head_scores[3], expected, 1e-5 * expected, "head 3's Taylor score")

-- Pruning keeps the highest-scored structures; a neuron with zero weights is removed first.
tm:parameter("model.layers.1.mlp.down_proj.weight"):narrow(2, 7, 1):zero_()
tm:parameter("model.layers.1.mlp.up_proj.weight"):narrow(1, 7, 1):zero_()
local before = tm:nll(ids)
adapt.prune(tm, "mlp", {12, 11}, function(m, block, kind) local _, g = m:gradients(ids); return adapt.taylor_scores(m, g, block, kind) end)
check.same(adapt.counts(tm, "mlp"), {12, 11}, "counts after pruning")
check.near(tm:nll(ids), before, 1e-5, "removing a dead neuron leaves the loss unchanged")

-- The incremental loop reaches exactly the target structure counts, trains between steps and resumes.
local base = darwin.random_model({vocab = 32, hidden = 16, layers = 3, heads = 4, kv_heads = 2, intermediate = 20, std = 0.3, seed = 4})
local rows = {}
for r = 1, 12 do rows[r] = {} for c = 1, 8 do rows[r][c] = (r * 7 + c * 3) % 32 end end
local train = tensor(rows)
local dir = os.tmpname(); os.remove(dir)
local options = {model = base:clone(), target = {attention = 0.5, mlp = 0.4}, importance_ids = ids, gradient_ids = ids, train_ids = train,
                 fraction = 0.25, state = dir, quiet = true, train_options = {lr = 1e-3}}
local pruned, log = adapt.run(options)
check.eq(#log, 4, "four steps of 25%")
check.eq(log[1].train_tokens + log[2].train_tokens + log[3].train_tokens + log[4].train_tokens, 12 * 8, "all training rows used once")
local heads, neurons = 0, 0
for _, v in ipairs(adapt.counts(pruned, "attention")) do heads = heads + v end
for _, v in ipairs(adapt.counts(pruned, "mlp")) do neurons = neurons + v end
check.eq(heads, 6, "attention: 12 heads - 50%")
check.eq(neurons, 36, "mlp: 60 neurons - 40%")
for i = 2, 4 do assert(log[i].params < log[i - 1].params, "each step removes parameters") end
-- Resume from the saved state after step 4: nothing left to do, the saved model comes back.
local resumed, resumed_log = adapt.run({model = base:clone(), target = {attention = 0.5, mlp = 0.4}, importance_ids = ids,
  gradient_ids = ids, fraction = 0.25, state = dir, resume = true, quiet = true})
check.eq(#resumed_log, 4, "resumed log")
check.near(resumed:nll(ids), pruned:nll(ids), 1e-4, "resumed model is the saved one")
-- Its padded export is the same model too: which dense heads and neurons it kept came back with it.
local padded_dir = os.tmpname(); os.remove(padded_dir)
resumed:save(padded_dir, {padded = true})
local expected = pruned:forward(ids)
local diff = (darwin.load(padded_dir):forward(ids) - expected):abs():max()
assert(diff < 1e-5 * expected:abs():max(), "the resumed run's padded export computes the pruned model: " .. diff)
darwin.remove(padded_dir)
-- Starting again over the saved run needs to be asked for.
check.raises(function() adapt.run(options) end, "holds a saved Adapt-Pruner run: resume it (--resume) or start again over it (--overwrite)")
darwin.remove(dir)

-- The plot module: round ticks, one polyline per series with every point, CSV rows.
local plot = require("plot")
local ticks, step = plot.ticks(0.013, 0.087, 5)
check.near(step, 0.02, 1e-12, "tick step")
check.near(ticks[1], 0.02, 1e-12, "first tick"); check.near(ticks[#ticks], 0.08, 1e-12, "last tick")
local series = {{name = "A <x>", points = {{0, 1}, {1, 0.5}, {2, 0.25}}}, {name = "B", points = {{1, 0.75}, {3, 0.6}}, dashed = true}}
local svg = plot.svg(series, {title = "t", xlabel = "x", ylabel = "y"})
local _, polylines = svg:gsub("<polyline", "")
check.eq(polylines, 2, "one polyline per series")
local first_points = svg:match('<polyline[^>]-points="([^"]*)"')
local _, commas = first_points:gsub(",", "")
check.eq(commas, 3, "every point of the first series drawn")
assert(svg:find("A &lt;x&gt;", 1, true), "names are escaped")
assert(svg:find('stroke%-dasharray'), "dashed series")
assert(svg:match("^<svg") and svg:match("</svg>\n$"), "a complete SVG document")
check.eq(plot.csv(series), 'series,x,y\n"A <x>",0,1\n"A <x>",1,0.5\n"A <x>",2,0.25\n"B",1,0.75\n"B",3,0.6\n', "CSV")

-- model:gradients averages over chunks exactly like one batch; model:keep rejects bad requests clearly.
local gm = darwin.random_model({vocab = 32, hidden = 16, layers = 2, heads = 4, kv_heads = 2, intermediate = 12, std = 0.3, seed = 5})
local l1, g1 = gm:gradients(ids, {batch_size = 1})
local l2, g2 = gm:gradients(ids, {batch_size = 2})
check.near(l1, l2, 1e-6, "chunked loss")
local name = "model.layers.1.self_attn.q_proj.weight"
check.near((g1[name] - g2[name]):abs():max(), 0, 1e-6, "chunked gradients")
local function keep_error(...) local ok, e = pcall(gm.keep, gm, ...); assert(not ok); return e end
assert(keep_error(1, "mlp", {3, 2}):find("strictly increasing"))
assert(keep_error(1, "mlp", {13}):find("neuron 13 out of range 1..12"))
assert(keep_error(1, "attention", {5}):find("query head 5 out of range 1..4"))
assert(keep_error(1, "experts", {1}):find("expected 'attention' or 'mlp', got 'experts'"))
assert(keep_error(3, "mlp", {1}):find("block 3 out of range 1..2"))
gm:keep(1, "mlp", {})
check.eq(gm:summary()[1].mlp_width, 0, "an empty list removes the unit")
gm:keep(1, "mlp", {})                       -- removing a removed unit again is allowed
assert(keep_error(1, "mlp", {1}):find("no MLP left"))
