--- distributed: work spread over the ranks of an MPI job (`mpirun -np N darwinhost script.lua`, see darwin.mpi) so
-- that the result is the one a single process gets. Every rank runs the same script with the same seed, so every
-- random draw is the same on every rank; only the expensive, independent pieces (a selection stage's candidates) are
-- split, and their results exchanged. Rank 0 writes the files. In a single process everything runs locally.
-- Usage: local scores = distributed.map(candidates, function(g, i) return score(g) end)
local json = require("json")
local distributed = {}

--- Seconds this rank spent in distributed.map's exchange: waiting for the other ranks' share, and the transfer.
distributed.waited = 0

--- This process's rank (0-based) and the job's size.
function distributed.rank() return darwin.mpi.rank() end
function distributed.size() return darwin.mpi.size() end

--- True on the rank that writes the outputs (state, logs, database, models): rank 0.
function distributed.writer() return darwin.mpi.rank() == 0 end

--- True when item `i` of a list is this rank's: items go round-robin over the ranks.
function distributed.owns(i) return (i - 1) % darwin.mpi.size() == darwin.mpi.rank() end

--- How many of the first `n` items are this rank's.
function distributed.owned(n)
  local size, rank = darwin.mpi.size(), darwin.mpi.rank()
  return n // size + ((n % size > rank) and 1 or 0)
end

--- `fn(item, i)` for every item of `list`, each item computed on one rank; every rank gets all the results, in order.
-- Results travel as JSON: numbers (exactly), strings, booleans and tables of them.
function distributed.map(list, fn)
  local out = {}
  if darwin.mpi.size() == 1 then
    for i, item in ipairs(list) do out[i] = fn(item, i) end
    return out
  end
  local mine = {}
  for i, item in ipairs(list) do
    if distributed.owns(i) then mine[#mine + 1] = {i = i, value = fn(item, i)} end
  end
  local start = darwin.clock()
  local parts = darwin.mpi.allgather(json.encode(mine))
  distributed.waited = distributed.waited + darwin.clock() - start
  for _, part in ipairs(parts) do
    for _, entry in ipairs(json.decode(part)) do out[entry.i] = entry.value end
  end
  return out
end

--- `value` (a JSON value) from rank `root` (default 0) on every rank.
function distributed.broadcast(value, root)
  if darwin.mpi.size() == 1 then return value end
  root = root or 0
  return json.decode(darwin.mpi.broadcast(darwin.mpi.rank() == root and json.encode({value}) or nil, root))[1]
end

--- Waits for every rank.
function distributed.barrier() darwin.mpi.barrier() end

return distributed
