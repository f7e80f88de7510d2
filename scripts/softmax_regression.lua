-- softmax_regression: a self-contained tour of the tensor layer.
-- Fits a softmax classifier with hand-written gradients on synthetic data, using matmul (OpenBLAS),
-- broadcasting, log_softmax and reductions, then reports accuracy and timing.
-- Usage: darwinhost scripts/softmax_regression.lua [steps] [seed]
local steps = tonumber(arg and arg[1]) or 200
local seed = tonumber(arg and arg[2]) or 1
tensor.manual_seed(seed)

local classes, features, samples = 4, 32, 4096
-- Synthetic data: each class is a Gaussian blob around its own random centre.
local centres = tensor.randn(classes, features) * 0.25
local labels = {}
local x = tensor.randn(samples, features)
for i = 1, samples do
  labels[i] = (i - 1) % classes + 1
  x[i]:add_(centres[labels[i]])
end
local onehot = tensor.zeros(samples, classes)
for i = 1, samples do onehot:set(i, labels[i], 1) end

local w, b = tensor.zeros(features, classes), tensor.zeros(classes)
local lr = 0.5
local start = darwin.clock()
for step = 1, steps do
  local logp = (x:matmul(w) + b):log_softmax(2)          -- [samples, classes]
  local loss = -(logp * onehot):sum() / samples
  local grad = (logp:exp() - onehot) / samples           -- d loss / d logits
  w:sub_(x:t():matmul(grad) * lr)
  b:sub_(grad:sum(1) * lr)
  if step == 1 or step % 50 == 0 or step == steps then
    print(string.format("step %4d  loss %.4f", step, loss))
  end
end
local elapsed = darwin.clock() - start

local _, predicted = (x:matmul(w) + b):max(2)
local correct = 0
for i = 1, samples do if predicted:get(i) == labels[i] then correct = correct + 1 end end
print(string.format("accuracy %.1f%% on %d samples; %d steps in %.2f s (%d threads)",
  100 * correct / samples, samples, steps, elapsed, darwin.threads()))
