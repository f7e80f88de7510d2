-- The tensor API as Lua users see it: 1-based dims and indices, metamethods, conversions.
local check = require("check")

-- Construction and conversion.
local t = tensor{{1, 2, 3}, {4, 5, 6}}
check.same(t:size(), {2, 3}, "size")
check.eq(t:size(2), 3, "size(2)")
check.eq(t:size(-1), 3, "size(-1)")
check.eq(t:dim(), 2, "dim")
check.eq(t:numel(), 6, "numel")
check.eq(#t, 2, "#t")
check.eq(t[2][3], 6, "t[2][3]")
check.eq(t:get(1, 2), 2, "get")
check.same(t:totable()[2], {4, 5, 6}, "totable")
check.values(tensor.arange(4), {0, 1, 2, 3})
check.values(tensor.arange(1, 2, 0.25), {1, 1.25, 1.5, 1.75})
check.values(tensor.full({2}, 7), {7, 7})
check.same(tensor.zeros({3, 0}):size(), {3, 0}, "empty")

-- Mutation through views.
local u = t:clone()
u:set(2, 1, -4)
u[1] = 0                       -- fills row 1
u:select(2, 3):fill_(9)        -- column 3
check.values(u, {0, 0, 9, -4, 5, 9})
check.values(t, {1, 2, 3, 4, 5, 6}, nil, "clone is independent")

-- Arithmetic and broadcasting; * is elementwise.
check.values(t + 1, {2, 3, 4, 5, 6, 7})
check.values(10 - t, {9, 8, 7, 6, 5, 4})
check.values(t * t, {1, 4, 9, 16, 25, 36})
check.values(2 / tensor{1, 4}, {2, 0.5})
check.values(-t, {-1, -2, -3, -4, -5, -6})
check.values(t + tensor{10, 20, 30}, {11, 22, 33, 14, 25, 36})
check.values(t:maximum(3.5), {3.5, 3.5, 3.5, 4, 5, 6})
local acc = tensor.zeros(2, 3)
acc:add_(t):mul_(2)
check.values(acc, {2, 4, 6, 8, 10, 12})

-- Reductions: numbers without a dim, tensors with one; 1-based indices.
check.eq(t:sum(), 21, "sum")
check.eq(t:mean(), 3.5, "mean")
check.eq(t:max(), 6, "max")
check.eq(t:argmax(), 6, "argmax flat")
check.values(t:sum(1), {5, 7, 9})
check.values(t:mean(2), {2, 5})
local values, indices = t:max(2)
check.values(values, {3, 6})
check.values(indices, {3, 3})
check.values(t:argmin(1), {1, 1, 1})
check.same(t:sum(2, true):size(), {2, 1}, "keepdim")
check.near(tensor{3, 4}:norm(), 5)
check.near(tensor{3, -4}:norm(1), 7)

-- Views and shapes.
check.values(t:t(), {1, 4, 2, 5, 3, 6})
check.values(t:transpose(1, 2):contiguous(), {1, 4, 2, 5, 3, 6})
check.values(t:narrow(2, 2, 2), {2, 3, 5, 6})
check.values(t:index_select(2, {3, 1}), {3, 1, 6, 4})
check.values(t:index_select(1, tensor{2}), {4, 5, 6})
check.same(t:reshape(3, -1):size(), {3, 2}, "reshape")
check.same(t:view({6}):size(), {6}, "view")
check.same(t:unsqueeze(1):size(), {1, 2, 3}, "unsqueeze")
check.same(t:unsqueeze(1):squeeze():size(), {2, 3}, "squeeze")
check.same(t:permute(2, 1):size(), {3, 2}, "permute")
check.same(tensor{1, 2}:reshape(2, 1):expand(2, 3):size(), {2, 3}, "expand")
check.eq(t:t():is_contiguous(), false, "transpose is a view")

-- Functions, softmax, ordering.
check.values(tensor{0}:exp(), {1})
check.values(tensor{1, 4}:sqrt(), {1, 2})
check.near(tensor{0}:sigmoid():item(), 0.5)
check.near(tensor{1}:silu():item(), 1 / (1 + math.exp(-1)), 1e-6)
local sm = tensor{{1, 2, 3}}:softmax(2)
check.near(sm:sum(), 1, 1e-6)
check.near(tensor{{1, 2, 3}}:log_softmax():exp():sum(), 1, 1e-6)
local tv, ti = tensor{5, 1, 4, 2}:topk(2)
check.values(tv, {5, 4}); check.values(ti, {1, 3})
local sv, si = tensor{5, 1, 4, 2}:sort()
check.values(sv, {1, 2, 4, 5}); check.values(si, {2, 4, 3, 1})
check.values(tensor{5, 1, 4, 2}:argsort(1, true), {1, 3, 4, 2})

-- Products and joins.
check.values(t:matmul(t:t()), {14, 32, 32, 77})
check.values(tensor.ones(2, 2, 3):bmm(tensor.ones(2, 3, 1)), {3, 3, 3, 3})
check.values(tensor.cat({t, t}, 2):narrow(2, 4, 1), {1, 4})
check.same(tensor.stack({t, t}):size(), {2, 2, 3}, "stack")
check.same(tensor.stack({t, t}, 3):size(), {2, 3, 2}, "stack dim 3")

-- Random numbers: seeded, reproducible, saveable.
tensor.manual_seed(7)
local r1 = tensor.randn(3)
tensor.manual_seed(7)
check.values(tensor.randn(3), r1:totable(), 0, "manual_seed")
local g = darwin.generator(11)
local state = g:state()
local first = {}
for i = 1, 20 do first[i] = g:integer(0, 1 << 40) end
g:set_state(state)
for i = 1, 20 do check.eq(g:integer(0, 1 << 40), first[i], "generator state, draw " .. i) end
check.values(tensor.rand({2}, darwin.generator(3)), tensor.rand({2}, darwin.generator(3)):totable(), 0, "rand with generator")

-- Type checks and errors.
check.eq(tensor.is_tensor(t), true, "is_tensor")
check.eq(tensor.is_tensor({}), false, "is_tensor table")
check.raises(function() return t:get(3, 1) end, "index 3 out of range 1..2")
check.raises(function() return t + tensor{1, 2} end, "cannot be broadcast")
check.raises(function() return t:narrow(1, 2, 5) end, "tensor.narrow")
check.eq(t.nonexistent, nil, "unknown field is nil")
