-- Training from Lua: a trainer on a clone leaves the parent untouched; options are checked; saving reloads.
local check = require("check")
local fixtures = (darwin.test_root or ".") .. "/Tests/Fixtures"
local parent = darwin.load(fixtures .. "/models/qwen2_tied")
local ids = tensor{{1, 2, 3, 4, 5, 6, 7, 8, 9}, {9, 8, 7, 6, 5, 4, 3, 2, 1}}
local before = parent:perplexity(ids)

local child = parent:clone()
local trainer = darwin.trainer(child, {lr = 5e-3, weight_decay = 0, clip = 1.0, warmup = 2, total_steps = 30})
check.near(trainer:lr(), 5e-3 / 2, 1e-12, "warmup learning rate")
local first = trainer:step(ids)
local last = first
for _ = 2, 30 do last = trainer:step(ids) end
check.eq(trainer:steps(), 30, "optimizer steps")
check.eq(trainer:tokens(), 30 * 18, "tokens seen")
assert(last < 0.5 * first, string.format("loss should fall: %.3f -> %.3f", first, last))
check.eq(parent:perplexity(ids), before, "parent untouched")

-- Accumulation: 2 micro-batches per step; a parameter subset.
local subset = darwin.trainer(parent:clone(), {params = {"mlp.down_proj"}, accumulate = 2, optimizer = "sgd", lr = 0.1, momentum = 0.9})
check.eq(subset:parameters(), 2 * 48 * 96, "only the down projections train")
subset:step(ids); check.eq(subset:steps(), 0, "no step after one micro-batch")
subset:step(ids); check.eq(subset:steps(), 1, "a step after two")

-- Padding is left out of the loss with ignore_index.
local padded = darwin.trainer(parent:clone(), {ignore_index = 0})
check.raises(function() padded:step(tensor{{5, 0, 0, 0}}) end, "every target is the ignored id 0")

check.raises(function() darwin.trainer(parent, {lr = "fast"}) end, "option 'lr' must be a finite number")
check.raises(function() darwin.trainer(parent, {lr = 0/0}) end, "option 'lr' must be a finite number")
check.raises(function() darwin.trainer(parent, {optimizer = "adam"}) end, "'adamw' or 'sgd'")
check.raises(function() darwin.trainer(parent, {params = {"nothing"}}) end, "matches no parameter name")
check.raises(function() darwin.trainer(parent, {warmup = 5}) end, "needs 'total_steps'")
check.raises(function() darwin.trainer(parent, {state_dtype = "fp8"}) end, "option 'state_dtype' must be 'float32' or 'bf16'")
check.raises(function() darwin.trainer(parent, {thread_split = "layers"}) end, "option 'thread_split' must be 'sequences'")

-- The threads split the batch's sequences (the default) or every product: the same steps up to float32 sums.
local function second_loss(split)
  local t = darwin.trainer(parent:clone(), {optimizer = "sgd", lr = 0.1, recompute = false, thread_split = split})
  t:step(ids)
  return t:step(ids)
end
check.near(second_loss("sequences"), second_loss("products"), 1e-5, "sequences and products split among the threads")

-- Moments in bf16 (half the optimizer memory) train as float32 moments do, to within their precision.
local function trained(state)
  local t = darwin.trainer(parent:clone(), {lr = 5e-3, weight_decay = 0, state_dtype = state})
  local loss
  for _ = 1, 20 do loss = t:step(ids) end
  return loss
end
local f32, bf16 = trained("float32"), trained("bf16")
assert(math.abs(f32 - bf16) < 0.05 * f32, string.format("bf16 moments %.4f vs float32 %.4f", bf16, f32))

-- Distillation: train a pruned clone towards the dense model's top-k distributions.
local targets = parent:targets(ids, {topk = 16})
local student = parent:clone()
local distiller = darwin.trainer(student, {lr = 3e-3})
local kl_first = distiller:step(ids, targets)
check.near(kl_first, 0, 1e-6, "an unpruned clone starts at zero KL")
check.raises(function() distiller:step(ids, "targets") end, "darwin.Targets expected")
check.raises(function() distiller:step(ids, targets, 2) end, "do not cover sequences 2...3")

-- Save and reload the trained child.
local dir = os.tmpname(); os.remove(dir)
child:save(dir)
local reloaded = darwin.load(dir)
check.near(reloaded:perplexity(ids), child:perplexity(ids), 1e-6, "saved model reloads")
child:save(dir .. "-bf16", {dtype = "bfloat16"})
assert(math.abs(darwin.load(dir .. "-bf16"):perplexity(ids) - child:perplexity(ids)) < 0.05 * child:perplexity(ids))
os.execute("rm -rf '" .. dir .. "' '" .. dir .. "-bf16'")
