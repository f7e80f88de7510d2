--- pipeline: small steps shared by the pruning scripts.
local pipeline = {}

--- The tokenizer for a model directory: `explicit` when given, else the directory's tokenizer.json when it has
-- one, else nil (pre-tokenized .npy / .bin data needs no tokenizer).
function pipeline.tokenizer(model_dir, explicit)
  if explicit then return darwin.tokenizer(explicit) end
  local f = io.open(model_dir .. "/tokenizer.json")
  if not f then return nil end
  f:close()
  return darwin.tokenizer(model_dir)
end

--- Fine-tunes `model` in place on the rows of `ids` ([n, seqlen]) in batches of `batch_size`, with a trainer made
-- from `options` (darwin.trainer options). Returns the trainer.
function pipeline.finetune(model, ids, batch_size, options)
  local trainer = darwin.trainer(model, options or {lr = 1e-4})
  local n = ids:size(1)
  for start = 1, n, batch_size do trainer:step(ids:narrow(1, start, math.min(batch_size, n - start + 1))) end
  return trainer
end

return pipeline
