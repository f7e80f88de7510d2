-- evopress: the same evolutionary search without fine-tuning in selection (EvoPress) and without post-training.
-- It runs scripts/darwinlm.lua with --train-tokens 0 --post-train-tokens 0 (given options still override).
local dir = (arg[0] or "scripts/evopress.lua"):match("^(.*)/[^/]*$") or "."
table.insert(arg, 1, "--train-tokens"); table.insert(arg, 2, "0")
table.insert(arg, 3, "--post-train-tokens"); table.insert(arg, 4, "0")
arg[0] = dir .. "/darwinlm.lua"
dofile(dir .. "/darwinlm.lua")
