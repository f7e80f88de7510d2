--- finetune: how a candidate is fine-tuned in a selection stage. A fine-tuning function is
-- `finetune(model, ids, ctx) -> trainer or nil`: it trains `model` in place on the rows of `ids` ([n, seqlen]);
-- a returned trainer is closed by the caller once the candidate is scored (it holds optimizer memory).
local finetune = {}

--- Trains `model` in place on the rows of `ids` in batches of `batch_size` with a trainer made from `options`
-- (darwin.trainer options, default: darwin.defaults); `progress` (a darwin.progress) is stepped per batch. Returns the trainer.
function finetune.rows(model, ids, batch_size, options, progress)
  local trainer = darwin.trainer(model, options or {})
  local n = ids:size(1)
  for start = 1, n, batch_size do
    local loss = trainer:step(ids:narrow(1, start, math.min(batch_size, n - start + 1)))
    if progress then progress:step(1, string.format("loss %.4f", loss)) end
  end
  return trainer
end

--- The stock fine-tuning of the search: AdamW with ctx.train_options, ctx.batch_size rows at a time.
function finetune.adamw(model, ids, ctx)
  return finetune.rows(model, ids, ctx.batch_size or darwin.defaults.batch_size, ctx.train_options)
end

return finetune
