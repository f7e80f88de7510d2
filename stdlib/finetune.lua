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

--- finetune.rows spread over the ranks of an MPI job (data parallelism): each rank trains on its rows of every batch
-- (round-robin), and before every optimizer step the gradients are summed over the ranks, each weighted by its
-- rank's share of the batch, so every rank keeps the weights finetune.rows gives in one process (up to float
-- summation order). In a single process it is finetune.rows.
function finetune.rows_distributed(model, ids, batch_size, options, progress)
  local size, rank = darwin.mpi.size(), darwin.mpi.rank()
  if size == 1 then return finetune.rows(model, ids, batch_size, options, progress) end
  local settings = {allreduce = true}
  for k, v in pairs(options or {}) do settings[k] = v end
  local trainer = darwin.trainer(model, settings)
  local n = ids:size(1)
  for start = 1, n, batch_size do
    local rows = math.min(batch_size, n - start + 1)
    local mine = {}
    for k = rank, rows - 1, size do mine[#mine + 1] = start + k end
    -- A rank without rows in this batch still takes part in the sums, with a row that counts for nothing.
    trainer:share(#mine / rows)
    local loss = trainer:step(ids:index_select(1, #mine > 0 and mine or {start}))
    if progress then progress:step(1, string.format("loss %.4f", loss)) end
  end
  return trainer
end

--- The stock fine-tuning of the search: AdamW with ctx.train_options, ctx.batch_size rows at a time.
function finetune.adamw(model, ids, ctx)
  return finetune.rows(model, ids, ctx.batch_size or darwin.defaults.batch_size, ctx.train_options)
end

return finetune
