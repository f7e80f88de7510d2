#!/bin/bash
# The speedup of DarwinLM's database build and of one search generation on MPI ranks (one thread each) against one
# process (one thread), on darwin-pycode-16m, and the time rank 0 spends waiting in the exchange of candidate scores.
# Usage: bench/mpi_speedup.sh [RANKS...]   (default: 2). Needs Open MPI and ../shared/models/darwin-pycode-16m.
set -euo pipefail
cd "$(dirname "$0")/.."
M=../shared/models/darwin-pycode-16m
BIN=.build/release/darwinhost
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ARGS=(scripts/darwinlm.lua --model "$M" --data "$M/data/calib.txt.gz" --eval-data "$M/data/eval.txt.gz" --level 4 --levels 8
      --generations 1 --post-train-tokens 0 --eval-sequences 2 --threads 1)
# Wall seconds of the database build (the manifest's per-block times are each rank's own) and of generation 1.
measure() {  # name, launcher...
  local name=$1; shift
  local start=$(date +%s.%N)
  "$@" "$BIN" "${ARGS[@]}" --output "$OUT/$name" > "$OUT/$name.log" 2>&1
  local total=$(echo "$(date +%s.%N) - $start" | bc)
  local generation=$(grep -o '"elapsed":[0-9.e+-]*' "$OUT/$name/log.jsonl" | head -1 | cut -d: -f2)
  local waited=$(grep -o 'waited [0-9.]*' "$OUT/$name.log" | cut -d' ' -f2)
  printf "%-8s whole run %6.1f s  database + setup %6.1f s  generation 1 %6.1f s  waiting %s s\n" "$name" "$total" \
    "$(echo "$total - $generation" | bc)" "$generation" "${waited:-0}"
}
# The database alone, from 32 x 256 calibration tokens (pipeline.build_database: block-parallel on several ranks).
DB='local pipeline = require("pipeline")
local m = darwin.load(arg[1])
local calibration = darwin.data.sequences(arg[1] .. "/data/calib.txt.gz", darwin.tokenizer(arg[1]), {seqlen = 256, count = 32, seed = 0})
darwin.mpi.barrier()
local start = darwin.clock()
pipeline.build_database(m, calibration, {path = arg[2], levels = 8, quiet = true})
if darwin.mpi.rank() == 0 then print(string.format("database: %.1f s on %d rank(s)", darwin.clock() - start, darwin.mpi.size())) end'
database() {  # name, launcher...
  local name=$1; shift
  "$@" "$BIN" --threads 1 -e "$DB" - "$M" "$OUT/db-$name"
}
database "np1" env
for n in "${@:-2}"; do database "np$n" mpirun --oversubscribe -np "$n"; done
measure "np1" env
for n in "${@:-2}"; do measure "np$n" mpirun --oversubscribe -np "$n"; done
cmp "$OUT/np1/config.txt" "$OUT/np${1:-2}/config.txt" && echo "same chosen levels"
